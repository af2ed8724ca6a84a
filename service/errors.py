"""The service's one exception tree; :mod:`service.web.errors` maps it to HTTP in one table.

::

    SwitchyardError                  500  base: message + context (delivery id, issue, system)
    ├── SignatureError               401  webhook or callback signature missing or wrong
    ├── AuthRefused                  401  base: the caller may not act (dashboard, admin API)
    │   ├── Unauthenticated          401  no or wrong credentials
    │   ├── Forbidden                403  read-only, foreign origin, missing or wrong CSRF token
    │   └── TooManyAttempts          429  too many failed logins or bearers: ``Retry-After``
    ├── PayloadError                 400  body is not JSON or lacks what the event needs
    │   └── ActionInvalid            400  a dashboard action's field is missing or malformed
    ├── PayloadTooLarge              413  body over the limit
    ├── UnsupportedMediaType         415  body is not of the content type the endpoint takes
    ├── UnknownJob                   404  a completion for a job nobody dispatched
    ├── UnknownSystem                404  no such agent system (or not of the kind asked for)
    ├── NotProvisioned               409  a flag or its strategy is missing in Unleash
    ├── BrakeUnavailable             503  neither Unleash nor Redis took a rollback
    ├── Overloaded                   503  too many large bodies at once: ``Retry-After`` seconds
    ├── SettingsError                500  a variable is missing or malformed (names it)
    ├── LockError                    503  base of the issue lock's errors
    │   └── LockTimeout                   the lock stayed held by someone else for the wait
    ├── Fenced                       409  the issue's lock passed to another holder mid-dispatch
    ├── CommandError                 500  a CLI command ran but could not do what was asked
    ├── DevtoolsError                500  the local stack, the demo or a child process failed
    │   ├── StackError
    │   ├── DemoFailed
    │   └── ChildExited
    ├── AgentError                   502  an agent system failed us
    │   ├── AgentRetryable                5xx, 429, timeout, refused or reset: try again later
    │   └── AgentRejected                 other 4xx: retrying the same request will not help
    └── GitHubError                  502  GitHub's REST API failed us
        ├── GitHubRetryable               5xx, unreachable, rate limited: try again later
        │   └── GitHubRateLimited         still limited after the client's own waiting
        └── GitHubRejected                other 4xx (``github_status``): the request was refused

Every error carries ``status_code`` (the HTTP answer Switchyard gives; a subclass names its own
in its class line, ``class UnknownJob(SwitchyardError, status=404)``, else inherits its
parent's), ``message`` and ``context()`` (what to log next to the message). An ``AgentError``
also carries ``agent_status``, the status the agent system answered, or ``None`` when it did not
answer at all; a ``GitHubError`` carries ``github_status`` the same way, and a
``GitHubRateLimited`` the unix time ``retry_at``. The ``flags`` package is a library of its own
with its own small tree (:class:`flags.errors.UnleashError`,
:class:`flags.transitions.TransitionRefused`); the handler table maps those too (502 and 409).
"""

from __future__ import annotations

from typing import Any, ClassVar

from flags.model import Issue, System

__all__ = [
    "ActionInvalid",
    "AgentError",
    "AgentRejected",
    "AgentRetryable",
    "AuthRefused",
    "BrakeUnavailable",
    "ChildExited",
    "CommandError",
    "DemoFailed",
    "DevtoolsError",
    "Fenced",
    "Forbidden",
    "GitHubError",
    "GitHubRateLimited",
    "GitHubRejected",
    "GitHubRetryable",
    "LockError",
    "LockTimeout",
    "NotProvisioned",
    "Overloaded",
    "PayloadError",
    "PayloadTooLarge",
    "SettingsError",
    "SignatureError",
    "StackError",
    "SwitchyardError",
    "TooManyAttempts",
    "Unauthenticated",
    "UnknownJob",
    "UnknownSystem",
    "UnsupportedMediaType",
]


class SwitchyardError(Exception):
    """Base of every error the service raises on purpose."""

    status_code: ClassVar[int] = 500

    def __init_subclass__(cls, *, status: int | None = None, **kwargs: Any) -> None:
        """``class Gone(SwitchyardError, status=410)``: the answer a subclass gives (else its
        parent's)."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status

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

    def headers(self) -> dict[str, str]:
        """Extra response headers the answer carries (``Retry-After``, say)."""
        return {}


class SignatureError(SwitchyardError, status=401):
    """The signature header is missing, malformed or does not match the body."""


class AuthRefused(SwitchyardError, status=401):
    """The caller may not act; the subclass says why (401 or 403)."""


class Unauthenticated(AuthRefused):
    """No credentials, or wrong ones (a bearer token, a session cookie)."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AuthRefused, status=403):
    """Known or not, the caller may not do this (read-only, foreign origin, CSRF)."""


class TooManyAttempts(AuthRefused, status=429):
    """Too many failed logins or bearer tokens from this client; wait ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PayloadError(SwitchyardError, status=400):
    """The body is not JSON, or lacks what the event or callback needs."""


class ActionInvalid(PayloadError):
    """A dashboard action's field is missing or malformed; the message says which."""


class PayloadTooLarge(SwitchyardError, status=413):
    """The body is over the size limit."""


class UnsupportedMediaType(SwitchyardError, status=415):
    """The body's ``Content-Type`` is not one the endpoint takes."""


class UnknownJob(SwitchyardError, status=404):
    """A completion names a job Switchyard never dispatched (or has forgotten)."""


class UnknownSystem(SwitchyardError, status=404):
    """The path names no agent system, or one that is not of the kind the endpoint serves."""


class NotProvisioned(SwitchyardError, status=409):
    """A flag or its strategy is missing in Unleash: run ``switchyard provision``."""


class BrakeUnavailable(SwitchyardError, status=503):
    """Neither Unleash nor Redis took the rollback: nothing was changed."""


class Overloaded(SwitchyardError, status=503):
    """Too many large bodies are being read at once; try again after ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int, delivery_id: str | None = None) -> None:
        super().__init__(message, delivery_id=delivery_id)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SettingsError(SwitchyardError):
    """A variable is missing or malformed; the message names it and the bad value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class LockError(SwitchyardError, status=503):
    """Base of the issue lock's errors."""

    def __init__(self, issue: Issue, message: str) -> None:
        super().__init__(f"{issue}: {message}", issue=issue)


class LockTimeout(LockError):
    """The lock of an issue stayed held by someone else for the whole wait."""

    def __init__(self, issue: Issue, wait_seconds: float) -> None:
        super().__init__(issue, f"lock not acquired within {wait_seconds:g} s")
        self.wait_seconds = wait_seconds


class Fenced(SwitchyardError, status=409):
    """The issue's lock passed to another holder: stop without acknowledging the entry."""

    def __init__(self, issue: Issue, job_id: str) -> None:
        super().__init__(f"{issue}: lock lost before dispatching {job_id}", issue=issue)
        self.job_id = job_id


class CommandError(SwitchyardError):
    """The command ran but could not do what was asked (exit code 1)."""


class DevtoolsError(SwitchyardError):
    """Base of the development tooling's errors (local stack, demo, child processes)."""


class StackError(DevtoolsError):
    """A stack component could not be started or stopped."""


class DemoFailed(DevtoolsError):
    """The migration did not go as scripted (e.g. no rollback); the message says where."""


class ChildExited(DevtoolsError):
    """A child stopped when it should be running; the message carries its last log lines."""


class AgentError(SwitchyardError, status=502):
    """An agent system did not accept a request."""

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


class GitHubError(SwitchyardError, status=502):
    """GitHub's REST API did not do what was asked."""

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
