"""The Python (new) agent system: it speaks the contract exactly as DESIGN.md writes it."""

from __future__ import annotations

import httpx

from flags.model import System
from service.agents.http_agent import HttpAgent

__all__ = ["PythonAgent"]


class PythonAgent(HttpAgent):
    """Client of the Python agent system at ``base_url``, over an injected client."""

    def __init__(self, *, base_url: str, http: httpx.AsyncClient, timeout: float = 10.0) -> None:
        super().__init__(system=System.PYTHON, base_url=base_url, http=http, timeout=timeout)
