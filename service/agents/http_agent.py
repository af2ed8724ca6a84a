"""The httpx adapter of the agent-system contract, shared by both clients: it only sends.

The requests and the meaning of every answer are pure (:mod:`service.agents.sansio`); this
class sends one request per call over an injected :class:`httpx.AsyncClient` and turns
transport failures (timeouts, refused connections) into retryable errors. Retrying (with
backoff) and dead-lettering are the dispatcher's job; a client tries once.
"""

from __future__ import annotations

from typing import Any

import httpx

from flags.model import Issue, System
from service.agents.protocol import AgentJob
from service.agents.sansio import Answer, cancel_request, decipher_response, process_request
from service.errors import AgentRetryable

__all__ = ["HttpAgent", "HttpSystem"]


class HttpSystem:
    """An agent system reached over HTTP: its name, its URL, the injected client, a timeout.
    :class:`HttpAgent` speaks the job API there; a GitHub App's
    :class:`~service.agents.github_app.gated.GatedApp` only checks that it answers."""

    def __init__(
        self, *, system: System, url: str, http: httpx.AsyncClient, timeout: float
    ) -> None:
        self._system = system
        self._url = url
        self._http = http
        self._timeout = timeout

    @property
    def system(self) -> System:
        return self._system

    async def _get_status(self, url: str) -> int | None:
        """The status ``GET url`` answers within the timeout; None when nothing answers."""
        try:
            response = await self._http.get(url, timeout=self._timeout)
        except httpx.HTTPError:
            return None
        return response.status_code


class HttpAgent(HttpSystem):
    """An agent system that speaks the contract as written. Subclasses adapt the requests
    (:meth:`_process_request`, :meth:`_cancel_request`) when their API differs."""

    def __init__(
        self, *, system: System, base_url: str, http: httpx.AsyncClient, timeout: float = 10.0
    ) -> None:
        super().__init__(system=system, url=base_url.rstrip("/"), http=http, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._url!r})"

    async def process(self, job: AgentJob) -> None:
        path, body = self._process_request(job)
        response = await self._post(path, body, issue=job.target, delivery_id=job.delivery_id)
        decipher_response(
            self._answer(response), call="process", issue=job.target, delivery_id=job.delivery_id
        )

    async def cancel(self, issue: Issue) -> bool:
        path, body = self._cancel_request(issue)
        response = await self._post(path, body, issue=issue, delivery_id=None)
        return decipher_response(
            self._answer(response), call="cancel", issue=issue, delivery_id=None
        )

    async def health(self) -> bool:
        return await self._get_status(f"{self._url}/health") == httpx.codes.OK

    def _process_request(self, job: AgentJob) -> tuple[str, dict[str, Any] | None]:
        return process_request(job)

    def _cancel_request(self, issue: Issue) -> tuple[str, dict[str, Any] | None]:
        return cancel_request(issue)

    def _answer(self, response: httpx.Response) -> Answer:
        request = response.request
        return Answer(
            self._system, request.method, request.url.path, response.status_code, response.text
        )

    async def _post(
        self, path: str, body: dict[str, Any] | None, *, issue: Issue, delivery_id: str | None
    ) -> httpx.Response:
        url = self._url + path
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
