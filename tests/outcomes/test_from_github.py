"""Outcomes of systems that cannot call back, from GitHub's events (pure parts, and against the
real Redis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from flags.model import Issue, System
from service.keys import Keys
from service.outcomes.from_github import (
    BotActivity,
    GitHubOutcomes,
    bot_activity,
    outcome_sources,
    verdict,
)
from service.outcomes.records import CompletionRecord, read_records
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.system_kinds import AgentKind, SystemSettings

REPO = "acme/silent"
SYSTEMS = {
    System.TYPESCRIPT: SystemSettings(system=System.TYPESCRIPT),
    System.PYTHON: SystemSettings(
        system=System.PYTHON,
        kind=AgentKind.GITHUB_LABEL,
        trigger="fix-me",
        bot_login="fixer[bot]",
        failure_marker="I could not fix this",
    ),
}


def pr_opened(number: int, *, author: str, body: str = "", branch: str = "x") -> dict[str, Any]:
    return {
        "action": "opened",
        "repository": {"full_name": REPO},
        "pull_request": {
            "number": number,
            "body": body,
            "head": {"ref": branch},
            "user": {"login": author},
        },
    }


def commented(issue: int, *, author: str, body: str) -> dict[str, Any]:
    return {
        "action": "created",
        "repository": {"full_name": REPO},
        "issue": {"number": issue},
        "comment": {"body": body, "user": {"login": author}},
    }


def test_a_bots_pull_request_links_to_its_issues_and_counts_as_success() -> None:
    activity = bot_activity(
        event="pull_request", payload=pr_opened(50, author="fixer[bot]", body="Fixes #7")
    )
    assert activity == BotActivity(REPO, "fixer[bot]", (7,), 50, "Fixes #7")
    assert verdict(activity, SYSTEMS) == (System.PYTHON, True)
    human = bot_activity(event="pull_request", payload=pr_opened(51, author="octocat"))
    assert human is not None and verdict(human, SYSTEMS) is None


def test_a_bot_comment_with_the_marker_is_a_failure_and_without_it_nothing() -> None:
    marked = commented(7, author="Fixer[bot]", body="Sorry: I could NOT fix this one.")
    activity = bot_activity(event="issue_comment", payload=marked)
    assert activity is not None and verdict(activity, SYSTEMS) == (System.PYTHON, False)
    chatty = bot_activity(
        event="issue_comment", payload=commented(7, author="fixer[bot]", body="On it")
    )
    assert chatty is not None and verdict(chatty, SYSTEMS) is None
    closed = {**pr_opened(50, author="fixer[bot]"), "action": "closed"}
    assert bot_activity(event="pull_request", payload=closed) is None


def test_the_table_says_where_each_systems_numbers_come_from() -> None:
    sources = outcome_sources(SYSTEMS, 7200)
    assert sources["typescript"] == "completion callbacks"
    assert "PRs opened by fixer[bot]" in sources["python"] and "2 h" in sources["python"]
    assert "I could not fix this" in sources["python"]


async def in_flight_job(redis: Redis, prefix: str, number: int, delivery: str) -> str:
    jobs = JobStore(redis, prefix=prefix)
    job_id = job_id_for(delivery, System.PYTHON, dry_run=False)
    await jobs.record(
        Job(job_id, delivery, Issue(REPO, number), System.PYTHON, False, JobState.PENDING)
    )
    await jobs.update(job_id, JobState.DISPATCHED)
    return job_id


async def completions(redis: Redis, prefix: str) -> list[CompletionRecord]:
    return await read_records(redis, Keys(prefix).completions, CompletionRecord)


@pytest.mark.integration
async def test_a_pr_settles_once_with_the_time_since_dispatch(
    redis_client: Redis, prefix: str
) -> None:
    outcomes = GitHubOutcomes(redis_client, prefix=prefix, systems=SYSTEMS, deadline_seconds=3600)
    job_id = await in_flight_job(redis_client, prefix, 7, "d-7")
    assert await outcomes.dispatched(System.PYTHON, Issue(REPO, 7), at=1000.0)
    assert not await outcomes.dispatched(System.TYPESCRIPT, Issue(REPO, 7))  # it calls back
    pr = json.dumps(pr_opened(50, author="fixer[bot]", body="Fixes #7")).encode()
    assert await outcomes.observe(event="pull_request", body=pr, at=1600.0)
    assert not await outcomes.observe(event="pull_request", body=pr, at=1700.0)
    (row,) = await completions(redis_client, prefix)
    assert (row.job_id, row.success, row.duration_seconds) == (job_id, True, 600.0)
    job = await JobStore(redis_client, prefix=prefix).get(job_id)
    assert job is not None and job.state is JobState.COMPLETED
    assert not await outcomes.dispatched(System.PYTHON, Issue(REPO, 7))  # settled
    assert await outcomes.dispatched(System.PYTHON, Issue(REPO, 7), reopened=True)


@pytest.mark.integration
async def test_the_failure_marker_and_the_deadline_count_as_failures(
    redis_client: Redis, prefix: str
) -> None:
    outcomes = GitHubOutcomes(redis_client, prefix=prefix, systems=SYSTEMS, deadline_seconds=3600)
    for number in (8, 9):
        await in_flight_job(redis_client, prefix, number, f"d-{number}")
        await outcomes.dispatched(System.PYTHON, Issue(REPO, number), at=1000.0)
    comment = commented(8, author="fixer[bot]", body="I could not fix this")
    assert await outcomes.observe(event="issue_comment", body=json.dumps(comment).encode(), at=1100)
    assert await outcomes.expire(now=4500.0) == 0  # issue 9's deadline is 4600
    assert await outcomes.expire(now=4700.0) == 1
    rows = await completions(redis_client, prefix)
    assert [(str(r.issue), r.success, r.duration_seconds) for r in rows] == [
        (f"{REPO}#8", False, 100.0),
        (f"{REPO}#9", False, 3600.0),
    ]
