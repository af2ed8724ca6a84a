"""What Switchyard needs from an agent system, and the job it hands one.

The HTTP contract (DESIGN.md, "Agent systems")::

    POST {base}/issues/process                      AgentJob.as_payload()  -> 200/201/202
    POST {base}/issues/{owner}/{name}/{number}/cancel                      -> 2xx (404: nothing)
    GET  {base}/health                                                     -> 200

and the system calls back ``POST /agents/{system}/completions`` (see
:mod:`service.agents.completion`). ``process`` raises :class:`AgentRetryable` when trying again
later may help and :class:`AgentRejected` when it will not; ``health`` never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flags.model import Issue, System
from service.errors import PayloadError
from service.github.events import IssueEvent

__all__ = ["AgentJob", "AgentSystem"]


@dataclass(frozen=True, slots=True)
class AgentJob:
    """One request to work on an issue. ``issue`` is GitHub's issue object, passed through;
    ``dry_run`` (a shadow run) means: do the work, but push, comment and open nothing."""

    job_id: str
    delivery_id: str
    repository: str
    issue_number: int
    action: str
    issue: dict[str, Any] = field(repr=False, compare=False)
    dry_run: bool
    callback_url: str

    @property
    def target(self) -> Issue:
        """The issue this job is about."""
        return Issue(repository=self.repository, number=self.issue_number)

    @classmethod
    def for_event(
        cls, event: IssueEvent, *, job_id: str, dry_run: bool, callback_url: str
    ) -> AgentJob:
        """The job for a routed ``issues`` delivery."""
        details = event.raw.get("issue")
        return cls(
            job_id=job_id,
            delivery_id=event.delivery_id,
            repository=event.issue.repository,
            issue_number=event.issue.number,
            action=event.action,
            issue=details if isinstance(details, dict) else {},
            dry_run=dry_run,
            callback_url=callback_url,
        )

    def as_payload(self) -> dict[str, Any]:
        """The JSON body of ``POST {base}/issues/process``."""
        return {
            "job_id": self.job_id,
            "delivery_id": self.delivery_id,
            "repository": self.repository,
            "issue_number": self.issue_number,
            "action": self.action,
            "issue": self.issue,
            "dry_run": self.dry_run,
            "callback_url": self.callback_url,
        }

    @classmethod
    def from_payload(cls, data: object) -> AgentJob:
        """The inverse of :meth:`as_payload`, for an agent system's side; raises PayloadError."""
        if not isinstance(data, Mapping):
            raise PayloadError("job is not a JSON object")
        number, dry_run, issue = data.get("issue_number"), data.get("dry_run"), data.get("issue")
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise PayloadError("job.issue_number must be a positive integer")
        if not isinstance(dry_run, bool):
            raise PayloadError("job.dry_run must be true or false")
        if not isinstance(issue, dict):
            raise PayloadError("job.issue must be an object")
        return cls(
            job_id=_text(data, "job_id"),
            delivery_id=_text(data, "delivery_id"),
            repository=_text(data, "repository"),
            issue_number=number,
            action=_text(data, "action"),
            issue=issue,
            dry_run=dry_run,
            callback_url=_text(data, "callback_url"),
        )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"job.{key} is missing or not a non-empty string")
    return value


class AgentSystem(Protocol):
    """An agent system that turns issues into pull requests."""

    @property
    def system(self) -> System:
        """Which system this is."""
        ...

    async def process(self, job: AgentJob) -> None:
        """Hand over a job; return once the system accepted it (the result comes by callback).

        Raises AgentRetryable (5xx, 408, 429, timeout, refused, reset) or AgentRejected.
        """
        ...

    async def cancel(self, issue: Issue) -> bool:
        """Cancel the system's pending work on ``issue``: true if it confirmed, false if it
        had nothing for that issue (404). Raises like :meth:`process` otherwise."""
        ...

    async def health(self) -> bool:
        """Whether ``GET {base}/health`` answers 200; false on any failure, never raises."""
        ...
