"""Completions, shadow comparisons and PR quality, recorded in the real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.completion import Completion
from service.github.events import CheckCompleted, PullRequestClosed
from service.keys import Keys
from service.outcomes.histogram import DurationHistogram
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.records import ComparisonRecord, QualityRecord, read_records
from service.pipeline.jobs import Job, JobState, job_id_for
from service.routing.ownership import OwnershipStore

pytestmark = pytest.mark.integration

ISSUE = Issue("acme/app", 12)


def _job(system: System, *, dry_run: bool, delivery: str = "d-1") -> Job:
    return Job(
        job_id=job_id_for(delivery, system, dry_run=dry_run),
        delivery_id=delivery,
        issue=ISSUE,
        system=system,
        dry_run=dry_run,
        state=JobState.DISPATCHED,
    )


def _done(
    job: Job, *, success: bool = True, digest: str = "abc", pr: int | None = None
) -> Completion:
    return Completion(
        job_id=job.job_id,
        issue_number=job.issue.number,
        success=success,
        duration_seconds=3.5 if job.dry_run else 2.0,
        dry_run=job.dry_run,
        pr_number=pr,
        output_digest=digest,
    )


async def _compare(
    recorder: OutcomeRecorder, job: Job, completion: Completion
) -> ComparisonRecord | None:
    """Record a completion; the comparison it closed, if any."""
    _, comparison = await recorder.completion_once(job, completion)
    return comparison


def _pr_closed(number: int, *, merged: bool, linked: tuple[int, ...] = ()) -> PullRequestClosed:
    return PullRequestClosed(
        delivery_id=f"d-pr-{number}",
        repository=ISSUE.repository,
        pr_number=number,
        merged=merged,
        head_ref="feature",
        body="",
        linked_issues=linked,
    )


async def test_matching_control_and_candidate_make_one_comparison(
    redis_client: Redis, prefix: str
) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    control, candidate = _job(System.TYPESCRIPT, dry_run=False), _job(System.PYTHON, dry_run=True)
    assert await _compare(recorder, control, _done(control, pr=40)) is None
    record = await _compare(recorder, candidate, _done(candidate))
    assert record is not None and record.match
    assert (record.control_system, record.candidate_system) == ("typescript", "python")
    assert await _compare(recorder, candidate, _done(candidate)) is None  # a repeat
    assert await redis_client.xlen(recorder.comparisons_key) == 1
    assert await redis_client.xlen(recorder.completions_key) == 2  # the repeat counts once


async def test_a_completion_reported_again_is_recorded_once(
    redis_client: Redis, prefix: str
) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    acting = _job(System.PYTHON, dry_run=False)
    assert await recorder.completion_once(acting, _done(acting, pr=41)) == (True, None)
    assert await recorder.completion_once(acting, _done(acting, pr=41)) == (False, None)
    assert await redis_client.xlen(recorder.completions_key) == 1
    counts = {
        (row.system, row.dry_run): row
        for row in await DurationHistogram(redis_client, prefix=prefix).read()
    }
    python = counts[System.PYTHON, False]
    assert (python.total, python.succeeded, python.sum_seconds) == (1, 1, 2.0)
    assert dict(python.buckets)["5.0"] == 1 and dict(python.buckets)["1.0"] == 0


async def test_a_repeat_finishes_the_pairing_a_failure_left_undone(
    redis_client: Redis, prefix: str
) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    control, candidate = _job(System.TYPESCRIPT, dry_run=False), _job(System.PYTHON, dry_run=True)
    await recorder.completion_once(control, _done(control))
    first, record = await recorder.completion_once(candidate, _done(candidate))
    assert first and record is not None
    # as if Redis had failed after the entry was written, before the pair was compared
    await redis_client.delete(Keys(prefix).pair(candidate.delivery_id, candidate.issue))
    await recorder.completion_once(control, _done(control))
    first, record = await recorder.completion_once(candidate, _done(candidate))
    assert not first and record is not None and record.match
    assert await redis_client.xlen(recorder.completions_key) == 2


async def test_different_outputs_are_a_mismatch(redis_client: Redis, prefix: str) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    control, candidate = _job(System.PYTHON, dry_run=False), _job(System.TYPESCRIPT, dry_run=True)
    await _compare(recorder, control, _done(control, digest="one"))
    record = await _compare(recorder, candidate, _done(candidate, digest="two"))
    assert record is not None and not record.match


async def test_pull_request_is_attributed_by_reported_number_then_by_link(
    redis_client: Redis, prefix: str
) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    acting = _job(System.PYTHON, dry_run=False)
    await _compare(recorder, acting, _done(acting, pr=77))
    await recorder.pull_request_closed(_pr_closed(77, merged=True))

    await OwnershipStore(redis_client, prefix=prefix).claim(
        Issue(ISSUE.repository, 5), System.TYPESCRIPT, reason="test"
    )
    await recorder.pull_request_closed(_pr_closed(90, merged=False, linked=(5,)))
    await recorder.pull_request_closed(_pr_closed(91, merged=True, linked=(999,)))

    rows = await read_records(redis_client, recorder.quality_key, QualityRecord)
    assert [(row.system, str(row.issue), row.success) for row in rows] == [
        ("python", "acme/app#12", True),
        ("typescript", "acme/app#5", False),
    ]
    unattributed = await redis_client.hgetall(Keys(prefix).quality_unattributed)
    assert unattributed == {"pr_closed": "1"}


async def test_ci_result_is_attributed_through_the_pull_request(
    redis_client: Redis, prefix: str
) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    acting = _job(System.PYTHON, dry_run=False)
    await _compare(recorder, acting, _done(acting, pr=8))
    await recorder.check_completed(
        CheckCompleted(
            delivery_id="d-ci",
            kind="check_suite",
            repository=ISSUE.repository,
            conclusion="failure",
            success=False,
            head_branch="x",
            pr_numbers=(8,),
            linked_issues=(),
        )
    )
    rows = await read_records(redis_client, recorder.quality_key, QualityRecord)
    assert [(row.kind, row.system, row.success) for row in rows] == [
        ("ci:check_suite", "python", False)
    ]


async def test_a_redelivered_quality_event_counts_once(redis_client: Redis, prefix: str) -> None:
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    acting = _job(System.PYTHON, dry_run=False)
    await _compare(recorder, acting, _done(acting, pr=31))
    await recorder.pull_request_closed(_pr_closed(31, merged=True))
    await recorder.pull_request_closed(_pr_closed(31, merged=True))
    assert await redis_client.xlen(recorder.quality_key) == 1
