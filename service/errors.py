"""The service's one small exception tree; the app maps it to HTTP in one handler table.

::

    SwitchyardError                  500  base: message + context (delivery id, issue, system)
    ├── SignatureError               401  webhook or callback signature missing or wrong
    ├── PayloadError                 400  body is not JSON or lacks what the event needs
    ├── PayloadTooLarge              413  body over the limit
    ├── UnsupportedMediaType         415  body is not of the content type the endpoint takes
    ├── UnknownJob                   404  a completion for a job nobody dispatched
    ├── UnknownSystem                404  no such agent system (or not of the kind asked for)
    ├── AgentError                   502  an agent system failed us
    │   ├── AgentRetryable                5xx, 429, timeout, refused or reset: try again later
    │   └── AgentRejected                 other 4xx: retrying the same request will not help
    └── GitHubError                  502  GitHub's REST API failed us
        ├── GitHubRetryable               5xx, unreachable, rate limited: try again later
        │   └── GitHubRateLimited         still limited after the client's own waiting
        └── GitHubRejected                other 4xx (``github_status``): the request was refused

Every error carries ``status_code`` (the HTTP answer Switchyard gives) and ``context()`` (what
to log next to the message). An ``AgentError`` also carries ``agent_status``, the status the
agent system answered, or ``None`` when it did not answer at all; a ``GitHubError`` carries
``github_status`` the same way, and a ``GitHubRateLimited`` the unix time ``retry_at``.
"""

from __future__ import annotations

from typing import ClassVar

from flags.model import Issue, System

__all__ = [
    "AgentError",
    "AgentRejected",
    "AgentRetryable",
    "GitHubError",
    "GitHubRateLimited",
    "GitHubRejected",
    "GitHubRetryable",
    "PayloadError",
    "PayloadTooLarge",
    "SignatureError",
    "SwitchyardError",
    "UnknownJob",
    "UnknownSystem",
    "UnsupportedMediaType",
]


class SwitchyardError(Exception):
    """Base of every error the service maps to an HTTP answer."""

    status_code: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        delivery_id: str | None = None,
        issue: Issue | None = None,
        system: System | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.delivery_id = delivery_id
        self.issue = issue
        self.system = system

    def context(self) -> dict[str, str]:
        """The non-empty context fields, as strings, for a log line or an error body."""
        fields = {"delivery_id": self.delivery_id, "issue": self.issue, "system": self.system}
        return {key: str(value) for key, value in fields.items() if value is not None}


class SignatureError(SwitchyardError):
    """The signature header is missing, malformed or does not match the body."""

    status_code = 401


class PayloadError(SwitchyardError):
    """The body is not JSON, or lacks what the event or callback needs."""

    status_code = 400


class PayloadTooLarge(SwitchyardError):
    """The body is over the size limit."""

    status_code = 413


class UnsupportedMediaType(SwitchyardError):
    """The body's ``Content-Type`` is not one the endpoint takes."""

    status_code = 415


class UnknownJob(SwitchyardError):
    """A completion names a job Switchyard never dispatched (or has forgotten)."""

    status_code = 404


class UnknownSystem(SwitchyardError):
    """The path names no agent system, or one that is not of the kind the endpoint serves."""

    status_code = 404


class AgentError(SwitchyardError):
    """An agent system did not accept a request."""

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        system: System,
        agent_status: int | None = None,
        delivery_id: str | None = None,
        issue: Issue | None = None,
    ) -> None:
        super().__init__(message, delivery_id=delivery_id, issue=issue, system=system)
        self.agent_status = agent_status


class AgentRetryable(AgentError):
    """A failure that may pass if retried: 5xx, 408, 429, timeout, refused or reset."""


class AgentRejected(AgentError):
    """The agent system refused the request (other 4xx); retrying it will not help."""


class GitHubError(SwitchyardError):
    """GitHub's REST API did not do what was asked."""

    status_code = 502

    def __init__(
        self, message: str, *, github_status: int | None = None, delivery_id: str | None = None
    ) -> None:
        super().__init__(message, delivery_id=delivery_id)
        self.github_status = github_status


class GitHubRetryable(GitHubError):
    """A failure that may pass later: 5xx, no answer at all, or a rate limit."""


class GitHubRateLimited(GitHubRetryable):
    """Still rate limited after the client waited as long as it may; retry at ``retry_at``."""

    def __init__(self, message: str, *, github_status: int, retry_at: float) -> None:
        super().__init__(message, github_status=github_status)
        self.retry_at = retry_at


class GitHubRejected(GitHubError):
    """GitHub refused the request (a 4xx that is not a rate limit); the same request will not
    pass by retrying it (GitHub's 422 for spammed redeliveries passes after a pause)."""
