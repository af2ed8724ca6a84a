"""What a GitHub App's delivery is about: a pure function of (event name, payload).

The gate forwards a delivery to an App only when that App should see it, so it first asks what
the delivery is about (:func:`subject_of`):

- :class:`AboutIssue`: ``issues`` and ``issue_comment`` on an issue. The issue is routed (its
  first event claims an owner, sticky from then on), so two Apps' copies of one event, each
  with its own delivery id, get the same answer.
- :class:`AboutLinked`: a pull request's events (``pull_request``, ``pull_request_review``,
  ``pull_request_review_comment``, ``pull_request_review_thread``, an ``issue_comment`` on a
  pull request) and CI results (``check_suite``, ``check_run``, ``workflow_run``) that link to
  issues the way :mod:`service.github.links` links them (closing keywords in the body, the head
  branch's name). They never claim an issue: they follow the owner of the first linked issue
  that has one, and reach nobody while none of them has an owner.
- :class:`Unroutable`: everything else (``installation``, ``ping``, ``push``, ``repository``, a
  pull request linked to no issue, ...): every App gets it, so each keeps its own state.

A payload that lacks what its event needs (an ``issues`` event without ``issue.number``, say)
raises :class:`~service.errors.PayloadError`: the delivery is refused with 400 at intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from flags.model import Issue
from service.errors import PayloadError
from service.escape import escape
from service.github.links import closing_references, issue_from_branch, linked_issues
from service.github.names import MAX_NUMBER, is_number, repository_problem

__all__ = ["AboutIssue", "AboutLinked", "Subject", "Unroutable", "subject_of"]

_PULL_REQUEST_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
    }
)
_CHECK_EVENTS = frozenset({"check_suite", "check_run", "workflow_run"})


@dataclass(frozen=True, slots=True)
class AboutIssue:
    """An event on an issue itself; ``is_issues_event`` for GitHub's ``issues`` event."""

    issue: Issue
    is_issues_event: bool


@dataclass(frozen=True, slots=True)
class AboutLinked:
    """A pull request or CI event; ``issues`` are the linked ones, in order."""

    issues: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class Unroutable:
    """About nothing Switchyard routes: every App sees it."""

    why: str


Subject: TypeAlias = AboutIssue | AboutLinked | Unroutable


def subject_of(*, event: str, delivery_id: str, payload: dict[str, Any]) -> Subject:
    """What a verified delivery is about."""
    if event in ("issues", "issue_comment"):
        repository = _repository(payload, event, delivery_id)
        issue = _object(payload, "issue", event, delivery_id)
        number = _number(issue, "issue.number", event, delivery_id)
        if issue.get("pull_request") is None:
            return AboutIssue(Issue(repository, number), is_issues_event=event == "issues")
        body = issue.get("body")
        numbers = closing_references(body if isinstance(body, str) else "", repository=repository)
        return _linked(repository, numbers, f"{event} on pull request #{number}")
    if event in _PULL_REQUEST_EVENTS:
        repository = _repository(payload, event, delivery_id)
        pull = _object(payload, "pull_request", event, delivery_id)
        head = pull.get("head")
        branch = head.get("ref") if isinstance(head, dict) else None
        body = pull.get("body")
        numbers = linked_issues(
            repository=repository,
            body=body if isinstance(body, str) else None,
            branch=branch if isinstance(branch, str) else None,
        )
        number = _number(pull, "pull_request.number", event, delivery_id)
        return _linked(repository, numbers, f"{event} on pull request #{number}")
    if event in _CHECK_EVENTS:
        repository = _repository(payload, event, delivery_id)
        data = _object(payload, event, event, delivery_id)
        branch = data.get("head_branch")
        suite = data.get("check_suite")
        if branch is None and isinstance(suite, dict):  # a check_run keeps it on its suite
            branch = suite.get("head_branch")
        found = issue_from_branch(branch) if isinstance(branch, str) else None
        return _linked(repository, () if found is None else (found,), f"{event} on {branch!r}")
    return Unroutable(f"{event} events are about no issue")


def _linked(repository: str, numbers: tuple[int, ...], what: str) -> Subject:
    if not numbers:
        return Unroutable(f"{what} links to no issue")
    return AboutLinked(tuple(Issue(repository, number) for number in numbers))


def _fail(event: str, delivery_id: str, where: str, what: str) -> PayloadError:
    return PayloadError(f"{event} payload: {where} {what}", delivery_id=delivery_id)


def _object(data: dict[str, Any], key: str, event: str, delivery_id: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _fail(event, delivery_id, key, "is missing or not an object")
    return value


def _repository(payload: dict[str, Any], event: str, delivery_id: str) -> str:
    name = _object(payload, "repository", event, delivery_id).get("full_name")
    problem = repository_problem(name) if isinstance(name, str) else "is not owner/name"
    if problem is not None:
        shown = escape(name, limit=80)
        raise _fail(event, delivery_id, "repository.full_name", f"{problem}: {shown!r}")
    return str(name)


def _number(data: dict[str, Any], where: str, event: str, delivery_id: str) -> int:
    value = data.get(where.rpartition(".")[2])
    if not is_number(value) or not isinstance(value, int):
        raise _fail(event, delivery_id, where, f"must be a whole number 1..{MAX_NUMBER}")
    return value
