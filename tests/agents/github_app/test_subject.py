"""What an App's delivery is about, and where the gate sends it: pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from flags.model import Issue, System
from service.agents.github_app.decide import Role, target_for
from service.agents.github_app.subject import AboutIssue, AboutLinked, Unroutable, subject_of
from service.errors import PayloadError

REPO = {"full_name": "acme/app"}


def about(event: str, payload: dict[str, Any]) -> object:
    return subject_of(event=event, delivery_id="d", payload=payload)


def test_issues_and_issue_comments_are_about_their_issue() -> None:
    issue = {"number": 7, "title": "t"}
    assert about("issues", {"issue": issue, "repository": REPO}) == AboutIssue(
        Issue("acme/app", 7), is_issues_event=True
    )
    assert about("issue_comment", {"issue": issue, "repository": REPO}) == AboutIssue(
        Issue("acme/app", 7), is_issues_event=False
    )


def test_pull_request_events_follow_closing_keywords_and_the_branch() -> None:
    pull = {"number": 40, "body": "Fixes #7", "head": {"ref": "issue-9"}}
    assert about("pull_request", {"pull_request": pull, "repository": REPO}) == AboutLinked(
        (Issue("acme/app", 7), Issue("acme/app", 9))
    )
    review = {"pull_request": {**pull, "body": None}, "repository": REPO}
    assert about("pull_request_review", review) == AboutLinked((Issue("acme/app", 9),))


def test_a_comment_on_a_pull_request_follows_the_pull_requests_body() -> None:
    issue = {"number": 40, "body": "closes #3", "pull_request": {"url": "x"}}
    assert about("issue_comment", {"issue": issue, "repository": REPO}) == AboutLinked(
        (Issue("acme/app", 3),)
    )


def test_ci_events_follow_the_head_branch() -> None:
    suite = {"head_branch": "switchyard/python/issue-12", "conclusion": "success"}
    assert about("check_suite", {"check_suite": suite, "repository": REPO}) == AboutLinked(
        (Issue("acme/app", 12),)
    )
    run = {"check_suite": {"head_branch": "12-fix-it"}}
    assert about("check_run", {"check_run": run, "repository": REPO}) == AboutLinked(
        (Issue("acme/app", 12),)
    )


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("installation", {"action": "created"}),
        ("ping", {"zen": "Keep it logically awesome."}),
        ("push", {"ref": "refs/heads/main"}),
        ("repository", {"action": "renamed"}),
        (
            "pull_request",
            {
                "pull_request": {"number": 2, "body": "", "head": {"ref": "main"}},
                "repository": REPO,
            },
        ),
        ("workflow_run", {"workflow_run": {"head_branch": "main"}, "repository": REPO}),
    ],
)
def test_events_about_no_issue_are_unroutable(event: str, payload: dict[str, Any]) -> None:
    assert isinstance(about(event, payload), Unroutable)


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("issues", {"repository": REPO}, "issue"),
        ("issues", {"issue": {"number": 0}, "repository": REPO}, "issue.number"),
        ("issue_comment", {"issue": {"number": 1}}, "repository"),
        ("issues", {"issue": {"number": 1}, "repository": {"full_name": "nope"}}, "full_name"),
        ("pull_request", {"repository": REPO}, "pull_request"),
    ],
)
def test_a_payload_missing_what_its_event_needs_is_refused(
    event: str, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(PayloadError, match=field):
        about(event, payload)


def target(hook: System, **given: Any) -> tuple[Role | None, str | None]:
    found = target_for(
        hook=hook,
        routable=given.get("routable", True),
        acting=given.get("acting"),
        shadow=given.get("shadow"),
        webhook_url="http://app",
        shadow_url=given.get("shadow_url"),
    )
    return found.role, found.url


def test_only_the_acting_app_gets_an_issues_event() -> None:
    ts, py = System.TYPESCRIPT, System.PYTHON
    assert target(ts, acting=ts) == (Role.ACT, "http://app")
    assert target(py, acting=ts) == (None, None)


def test_the_shadow_app_gets_it_at_its_shadow_url_only_if_it_has_one() -> None:
    ts, py = System.TYPESCRIPT, System.PYTHON
    assert target(py, acting=ts, shadow=py, shadow_url="http://dry") == (Role.SHADOW, "http://dry")
    assert target(py, acting=ts, shadow=py) == (None, None)


def test_unroutable_events_reach_every_app_and_unowned_linked_ones_none() -> None:
    assert target(System.PYTHON, routable=False) == (Role.ACT, "http://app")
    assert target(System.PYTHON, acting=None) == (None, None)
