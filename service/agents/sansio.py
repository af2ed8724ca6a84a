"""The agent-system HTTP contract without I/O: the requests to send and what an answer means.

Request builders return ``(path, JSON body)``; :func:`decipher_response` turns an answer's
status into the result of the call or the :class:`~service.errors.AgentError` to raise
(gidgethub's ``sansio.decipher_response`` shape). The httpx adapter
(:mod:`service.agents.http_agent`) only sends and hands the status here, so every rule about
statuses is tested without a server.

==================  ===========================================================================
answer              meaning
==================  ===========================================================================
200, 201, 202       accepted (a cancel: cancelled)
404 to a cancel     nothing to cancel (the system had no job of the issue): ``False``
5xx, 408, 429       retryable (:class:`~service.errors.AgentRetryable`): the dispatcher retries
other 4xx           refused (:class:`~service.errors.AgentRejected`): dead-lettered, no retry
==================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from flags.model import Issue, System
from service.agents.protocol import AgentJob
from service.errors import AgentError, AgentRejected, AgentRetryable
from service.escape import escape

__all__ = [
    "ACCEPTED_STATUSES",
    "RETRYABLE_STATUSES",
    "Answer",
    "cancel_path",
    "cancel_request",
    "decipher_response",
    "is_retryable",
    "process_request",
]

ACCEPTED_STATUSES = frozenset({200, 201, 202})
# Besides every 5xx: the request timed out on their side, or we are being rate limited.
RETRYABLE_STATUSES = frozenset({408, 429})
_UNSAFE_SEGMENTS = frozenset({"", ".", ".."})


def cancel_path(issue: Issue) -> str:
    """``/issues/{owner}/{name}/{number}/cancel``: the repository is two escaped segments."""
    owner, _, name = issue.repository.partition("/")
    if owner in _UNSAFE_SEGMENTS or name in _UNSAFE_SEGMENTS or "/" in name:
        raise ValueError(f"repository must be owner/name, got {issue.repository!r}")
    return f"/issues/{quote(owner, safe='')}/{quote(name, safe='')}/{issue.number}/cancel"


def process_request(job: AgentJob) -> tuple[str, dict[str, Any] | None]:
    """``POST /issues/process`` with the job as the contract writes it."""
    return "/issues/process", job.as_payload()


def cancel_request(issue: Issue) -> tuple[str, dict[str, Any] | None]:
    """``POST /issues/{owner}/{name}/{number}/cancel``, no body."""
    return cancel_path(issue), None


def is_retryable(status: int) -> bool:
    """A 5xx, 408 or 429: worth trying again later."""
    return status >= 500 or status in RETRYABLE_STATUSES


@dataclass(frozen=True, slots=True)
class Answer:
    """An agent system's answer to one request, as far as the contract reads it."""

    system: System
    method: str
    path: str
    status: int
    text: str


def decipher_response(
    answer: Answer,
    *,
    call: Literal["process", "cancel"],
    issue: Issue,
    delivery_id: str | None,
) -> bool:
    """What ``answer`` means for ``call``: True when accepted (cancelled), False for a cancel
    the system had nothing to cancel for (404); raises the :class:`AgentError` otherwise."""
    if answer.status in ACCEPTED_STATUSES or (call == "cancel" and 200 <= answer.status < 300):
        return True
    if call == "cancel" and answer.status == 404:
        return False
    kind: type[AgentError] = AgentRetryable if is_retryable(answer.status) else AgentRejected
    raise kind(
        f"{answer.system} agent {answer.method} {answer.path} answered {answer.status}: "
        f"{escape(answer.text)}",
        system=answer.system,
        agent_status=answer.status,
        issue=issue,
        delivery_id=delivery_id,
    )
