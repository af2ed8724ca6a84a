"""Clients for the agent systems (one Protocol, two thin HTTP adapters) and their callbacks."""

from __future__ import annotations

from service.agents.completion import (
    Completion,
    parse_completion,
    sign_completion,
    verify_completion,
)
from service.agents.protocol import AgentJob, AgentSystem
from service.agents.python_client import PythonAgent
from service.agents.typescript_client import TypeScriptAgent

__all__ = [
    "AgentJob",
    "AgentSystem",
    "Completion",
    "PythonAgent",
    "TypeScriptAgent",
    "parse_completion",
    "sign_completion",
    "verify_completion",
]
