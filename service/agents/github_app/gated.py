"""A ``github-app`` system seen from the job API: Switchyard's own hook routes an issue to it.

An App gets its work from its own webhook (through the gate), not from a job, so ``process``
records nothing with the App and returns: the job is marked dispatched, and its outcome comes
from GitHub's events. ``cancel`` has nothing to cancel (the App's deliveries stop at the gate
once the issue is handed back). ``health`` is whether the App's webhook endpoint answers at
all: any HTTP answer below 500 (an App's endpoint refuses a bare GET) counts as up.
"""

from __future__ import annotations

import httpx

from flags.model import Issue, System
from service.agents.http_agent import HttpSystem
from service.agents.protocol import AgentJob

__all__ = ["GatedApp"]


class GatedApp(HttpSystem):
    """The :class:`~service.agents.protocol.AgentSystem` of a ``github-app`` system."""

    def __init__(
        self, *, system: System, webhook_url: str, http: httpx.AsyncClient, timeout: float = 5.0
    ) -> None:
        super().__init__(system=system, url=webhook_url, http=http, timeout=timeout)

    def __repr__(self) -> str:
        return f"GatedApp(system={self._system!s}, webhook_url={self._url!r})"

    async def process(self, job: AgentJob) -> None:
        return None  # the App acts on its own copy of the event, forwarded by the gate

    async def cancel(self, issue: Issue) -> bool:
        return False  # nothing was queued with the App; the gate withholds from now on

    async def health(self) -> bool:
        status = await self._get_status(self._url)
        return status is not None and status < httpx.codes.INTERNAL_SERVER_ERROR
