"""The TypeScript (legacy) agent system: the one place where its API is adapted.

Today the legacy system speaks the same contract as the Python one, so this class adds
nothing. When its API differs, the adaptation lives here and nowhere else:

- a different job body or path: override ``_process_request`` (return path and JSON body);
- a different cancel endpoint: override ``_cancel_request``;
- different success statuses or no health endpoint: override ``process`` or ``health``;
- no completion callback: have ``process`` start a poll of the legacy status endpoint that
  posts a signed :class:`~service.agents.completion.Completion` to the job's ``callback_url``,
  so everything downstream keeps seeing one contract.
"""

from __future__ import annotations

import httpx

from flags.model import System
from service.agents.http_agent import HttpAgent

__all__ = ["TypeScriptAgent"]


class TypeScriptAgent(HttpAgent):
    """Client of the TypeScript agent system at ``base_url``, over an injected client."""

    def __init__(self, *, base_url: str, http: httpx.AsyncClient, timeout: float = 10.0) -> None:
        super().__init__(system=System.TYPESCRIPT, base_url=base_url, http=http, timeout=timeout)
