"""GitHub webhook deliveries as typed, frozen events: a pure function of (event, id, body).

:func:`parse_event` runs after :func:`service.github.signature.verify_signature` and turns the
raw body into one of:

- :class:`IssueEvent`: ``issues`` with a routed action (:data:`ROUTED_ACTIONS`);
- :class:`PullRequestClosed`: ``pull_request`` ``closed``, merged or not;
- :class:`CheckCompleted`: ``check_suite``, ``check_run`` or ``workflow_run`` ``completed``;
- :class:`Ping`: ``ping``;
- :class:`Ignored`: everything else, with the reason (other events, other actions, an
  ``issues`` event about a pull request).

A body that is not a JSON object, or lacks a field the resulting event needs, raises
:class:`PayloadError` naming the field. Fields only carried along (labels, sender, a body) are
read leniently: GitHub leaves some of them out or ``null`` (``issues`` ``pinned`` has no labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

from flags.model import Issue
from service.errors import PayloadError
from service.escape import escape
from service.github.links import issue_from_branch, linked_issues
from service.github.names import MAX_NUMBER, is_login, is_number, repository_problem
from service.json_input import load_json

__all__ = [
    "CHECK_KINDS",
    "ROUTED_ACTIONS",
    "CheckCompleted",
    "CheckKind",
    "GitHubEvent",
    "Ignored",
    "IssueEvent",
    "Ping",
    "PullRequestClosed",
    "parse_event",
]

ROUTED_ACTIONS: frozenset[str] = frozenset({"opened", "edited", "labeled", "assigned", "reopened"})

CheckKind: TypeAlias = Literal["check_suite", "check_run", "workflow_run"]
CHECK_KINDS: tuple[CheckKind, ...] = get_args(CheckKind)

# GitHub's branch protection counts these conclusions as passing; everything else (failure,
# cancelled, timed_out, action_required, stale, startup_failure, null) is not a success.
_PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
_ACTED_ON = frozenset({"issues", "pull_request", *CHECK_KINDS})


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """An ``issues`` delivery with a routed action; ``raw`` is the whole payload."""

    delivery_id: str
    action: str
    issue: Issue
    title: str
    body: str
    labels: tuple[str, ...]
    sender: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class PullRequestClosed:
    """A pull request was closed; ``merged`` says whether it was accepted."""

    delivery_id: str
    repository: str
    pr_number: int
    merged: bool
    head_ref: str
    body: str
    linked_issues: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CheckCompleted:
    """A CI result. ``success`` is true for the conclusions branch protection lets pass."""

    delivery_id: str
    kind: CheckKind
    repository: str
    conclusion: str | None
    success: bool
    head_branch: str | None
    pr_numbers: tuple[int, ...]
    linked_issues: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    """GitHub's hello after a webhook is created."""

    delivery_id: str
    zen: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A delivery Switchyard accepts and counts but does not act on."""

    delivery_id: str
    event: str
    action: str | None
    why: str


GitHubEvent: TypeAlias = IssueEvent | PullRequestClosed | CheckCompleted | Ping | Ignored


def parse_event(*, event: str, delivery_id: str, body: bytes) -> GitHubEvent:
    """Parse a verified delivery (``X-GitHub-Event``, ``X-GitHub-Delivery``, raw body)."""
    payload = _load(body, delivery_id)
    given = payload.get("action")
    action = given if isinstance(given, str) else None
    reader = _Reader(event, delivery_id)
    if event in _ACTED_ON and action is None:
        raise reader.fail("action", "is missing or not a string")
    if event == "ping":
        zen = payload.get("zen")
        return Ping(delivery_id=delivery_id, zen=zen if isinstance(zen, str) else "")
    if event == "issues" and action is not None and action in ROUTED_ACTIONS:
        return _issue_event(reader, payload, action)
    if event == "pull_request" and action == "closed":
        return _pull_request_closed(reader, payload)
    if event in CHECK_KINDS and action == "completed":
        return _check_completed(reader, payload)
    if event in _ACTED_ON:
        why = f"{event} action {action!r} is not acted on"
    else:
        why = f"event {event!r} is not acted on"
    return Ignored(delivery_id=delivery_id, event=event, action=action, why=why)


def _load(body: bytes, delivery_id: str) -> dict[str, Any]:
    payload = load_json(body, delivery_id=delivery_id)
    if not isinstance(payload, dict):
        kind = type(payload).__name__
        raise PayloadError(f"body is JSON {kind}, not an object", delivery_id=delivery_id)
    return payload


def _issue_event(reader: _Reader, payload: dict[str, Any], action: str) -> GitHubEvent:
    repository = reader.repository(payload)
    data = reader.obj(payload, "", "issue")
    number = reader.number(data, "issue", "number")
    if data.get("pull_request") is not None:
        return Ignored(
            delivery_id=reader.delivery_id,
            event="issues",
            action=action,
            why=f"{repository}#{number} is a pull request, not an issue",
        )
    labels = data.get("labels")
    sender = payload.get("sender")
    return IssueEvent(
        delivery_id=reader.delivery_id,
        action=action,
        issue=Issue(repository=repository, number=number),
        title=reader.text(data, "issue", "title"),
        body=_lenient_text(data.get("body")),
        labels=tuple(
            label["name"]
            for label in (labels if isinstance(labels, list) else [])
            if isinstance(label, dict) and isinstance(label.get("name"), str)
        ),
        sender=reader.sender(sender),
        raw=payload,
    )


def _pull_request_closed(reader: _Reader, payload: dict[str, Any]) -> PullRequestClosed:
    repository = reader.repository(payload)
    data = reader.obj(payload, "", "pull_request")
    head_ref = reader.text(reader.obj(data, "pull_request", "head"), "pull_request.head", "ref")
    merged = data.get("merged")
    body = _lenient_text(data.get("body"))
    return PullRequestClosed(
        delivery_id=reader.delivery_id,
        repository=repository,
        pr_number=reader.number(data, "pull_request", "number"),
        merged=merged is True,
        head_ref=head_ref,
        body=body,
        linked_issues=linked_issues(repository=repository, body=body, branch=head_ref),
    )


def _check_completed(reader: _Reader, payload: dict[str, Any]) -> CheckCompleted:
    kind: CheckKind = next(kind for kind in CHECK_KINDS if kind == reader.event)
    repository = reader.repository(payload)
    data = reader.obj(payload, "", kind)
    conclusion = data.get("conclusion")
    conclusion = conclusion if isinstance(conclusion, str) else None
    branch = data.get("head_branch")
    suite = data.get("check_suite")
    if branch is None and isinstance(suite, dict):  # a check_run keeps it on its suite
        branch = suite.get("head_branch")
    branch = branch if isinstance(branch, str) else None
    pulls = data.get("pull_requests")
    pr_numbers = tuple(
        reader.number(pull, f"{kind}.pull_requests[]", "number")
        for pull in (pulls if isinstance(pulls, list) else [])
        if isinstance(pull, dict)
    )
    from_branch = issue_from_branch(branch) if branch else None
    return CheckCompleted(
        delivery_id=reader.delivery_id,
        kind=kind,
        repository=repository,
        conclusion=conclusion,
        success=conclusion in _PASSING_CONCLUSIONS,
        head_branch=branch,
        pr_numbers=pr_numbers,
        linked_issues=() if from_branch is None else (from_branch,),
    )


def _lenient_text(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads required fields, raising a :class:`PayloadError` that names the missing one."""

    event: str
    delivery_id: str

    def fail(self, where: str, what: str) -> PayloadError:
        return PayloadError(f"{self.event} payload: {where} {what}", delivery_id=self.delivery_id)

    def obj(self, data: dict[str, Any], where: str, key: str) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"{where}.{key}" if where else key, "is missing or not an object")
        return value

    def repository(self, payload: dict[str, Any]) -> str:
        name = self.text(self.obj(payload, "", "repository"), "repository", "full_name")
        problem = repository_problem(name)
        if problem is not None:
            raise self.fail("repository.full_name", f"{problem}: {escape(name, limit=80)!r}")
        return name

    def sender(self, sender: object) -> str:
        """The sender's login ("" when absent): a login GitHub could have given, or refused."""
        login = sender.get("login") if isinstance(sender, dict) else None
        if login is None:
            return ""
        if not isinstance(login, str) or not is_login(login, bot=True):
            raise self.fail("sender.login", f"is not a GitHub login: {escape(login, limit=60)!r}")
        return login

    def text(self, data: dict[str, Any], where: str, key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", "is missing or not a non-empty string")
        return value

    def number(self, data: dict[str, Any], where: str, key: str) -> int:
        value = data.get(key)
        if not is_number(value) or not isinstance(value, int):
            raise self.fail(
                f"{where}.{key}", f"must be a whole number 1..{MAX_NUMBER}, got {value!r:.40}"
            )
        return value
