"""The agent-system HTTP contract over an injected :class:`httpx.AsyncClient`, shared by both
clients: one request per call, status and transport failures sorted into retryable or not.

Retrying (with backoff) and dead-lettering are the dispatcher's job; a client tries once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from flags.model import Issue, System
from service.agents.protocol import AgentJob
from service.errors import AgentError, AgentRejected, AgentRetryable
from service.escape import escape

__all__ = ["ACCEPTED_STATUSES", "RETRYABLE_STATUSES", "HttpAgent", "cancel_path"]

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


class HttpAgent:
    """An agent system that speaks the contract as written. Subclasses adapt the requests
    (:meth:`_process_request`, :meth:`_cancel_request`) when their API differs."""

    def __init__(
        self, *, system: System, base_url: str, http: httpx.AsyncClient, timeout: float = 10.0
    ) -> None:
        self._system = system
        self._base_url = base_url.rstrip("/")
        self._http = http
        self._timeout = timeout

    @property
    def system(self) -> System:
        return self._system

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def process(self, job: AgentJob) -> None:
        path, body = self._process_request(job)
        response = await self._post(path, body, issue=job.target, delivery_id=job.delivery_id)
        if response.status_code not in ACCEPTED_STATUSES:
            raise self._refusal(response, issue=job.target, delivery_id=job.delivery_id)

    async def cancel(self, issue: Issue) -> bool:
        path, body = self._cancel_request(issue)
        response = await self._post(path, body, issue=issue, delivery_id=None)
        if response.is_success:
            return True
        if response.status_code == httpx.codes.NOT_FOUND:
            return False
        raise self._refusal(response, issue=issue, delivery_id=None)

    async def health(self) -> bool:
        try:
            response = await self._http.get(f"{self._base_url}/health", timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    def _process_request(self, job: AgentJob) -> tuple[str, dict[str, Any] | None]:
        return "/issues/process", job.as_payload()

    def _cancel_request(self, issue: Issue) -> tuple[str, dict[str, Any] | None]:
        return cancel_path(issue), None

    async def _post(
        self, path: str, body: dict[str, Any] | None, *, issue: Issue, delivery_id: str | None
    ) -> httpx.Response:
        url = self._base_url + path
        try:
            return await self._http.post(url, json=body, timeout=self._timeout)
        except httpx.TimeoutException as error:
            cause = f"timed out after {self._timeout:g} s ({type(error).__name__})"
            raise self._unreachable(path, cause, issue, delivery_id) from error
        except httpx.TransportError as error:
            cause = f"unreachable ({type(error).__name__}: {error})"
            raise self._unreachable(path, cause, issue, delivery_id) from error

    def _unreachable(
        self, path: str, cause: str, issue: Issue, delivery_id: str | None
    ) -> AgentRetryable:
        return AgentRetryable(
            f"{self._system} agent POST {path}: {cause}",
            system=self._system,
            issue=issue,
            delivery_id=delivery_id,
        )

    def _refusal(
        self, response: httpx.Response, *, issue: Issue, delivery_id: str | None
    ) -> AgentError:
        status = response.status_code
        retryable = status >= httpx.codes.INTERNAL_SERVER_ERROR or status in RETRYABLE_STATUSES
        kind = AgentRetryable if retryable else AgentRejected
        return kind(
            f"{self._system} agent {response.request.method} {response.request.url.path} "
            f"answered {status}: {escape(response.text)}",
            system=self._system,
            agent_status=status,
            issue=issue,
            delivery_id=delivery_id,
        )
