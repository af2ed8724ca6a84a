"""The migration's flag model: the three flags of DESIGN.md, the modes and the systems."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CONTEXT_ISSUE_NUMBER",
    "CONTEXT_REPOSITORY",
    "KILL_SWITCH_FLAG",
    "MODE_FLAG",
    "ROLLOUT_FLAG",
    "Issue",
    "Mode",
    "System",
]

KILL_SWITCH_FLAG = "migration-kill-switch"
MODE_FLAG = "migration-mode"
ROLLOUT_FLAG = "python-agent-rollout"

CONTEXT_ISSUE_NUMBER = "issueNumber"
CONTEXT_REPOSITORY = "repository"


class System(StrEnum):
    """An agent system. ``typescript`` is the legacy one, ``python`` its successor."""

    TYPESCRIPT = "typescript"
    PYTHON = "python"

    @property
    def other(self) -> System:
        return System.PYTHON if self is System.TYPESCRIPT else System.TYPESCRIPT


class Mode(StrEnum):
    """A migration mode. The first four are variants of ``migration-mode``; the last is the
    kill switch, which overrides them all."""

    TYPESCRIPT_ONLY = "typescript_only"
    PYTHON_ONLY = "python_only"
    PARALLEL = "parallel"
    GRADUAL = "gradual"
    EMERGENCY_ROLLBACK = "emergency_rollback"

    @classmethod
    def variants(cls) -> tuple[Mode, ...]:
        """The modes that can be the variant of ``migration-mode``."""
        return (cls.TYPESCRIPT_ONLY, cls.PYTHON_ONLY, cls.PARALLEL, cls.GRADUAL)


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    """A GitHub issue: ``repository`` is ``owner/name``."""

    repository: str
    number: int

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"
