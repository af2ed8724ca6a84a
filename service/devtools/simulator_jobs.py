"""The agent simulator's pieces without a server: a received job's record, the simulated
output's digest, and the checks of the settings a test may change at run time."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from service.agents.protocol import AgentJob

__all__ = [
    "SimulatedJob",
    "check_fail_status",
    "check_latency",
    "check_rate",
    "output_digest",
]


def output_digest(*, repository: str, issue_number: int, success: bool) -> str:
    """The simulated output's digest: the same for both systems on the same issue and outcome."""
    outcome = "patch" if success else "failure"
    return hashlib.sha256(f"{outcome}:{repository}#{issue_number}".encode()).hexdigest()


@dataclass
class SimulatedJob:
    job: AgentJob
    received: int = 1
    acted: int = 0
    status: str = "pending"  # pending, calling_back, completed, cancelled, callback_failed
    success: bool | None = None
    pr_number: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job.job_id,
            "repository": self.job.repository,
            "issue_number": self.job.issue_number,
            "dry_run": self.job.dry_run,
            "received": self.received,
            "acted": self.acted,
            "status": self.status,
            "success": self.success,
            "pr_number": self.pr_number,
        }


def check_rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"success_rate must be a number from 0 to 1, got {value!r}")
    return float(value)


def check_fail_status(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (value == 0 or 400 <= value < 600)
    ):
        raise ValueError(f"fail_status must be 0 or an HTTP status from 400 to 599, got {value!r}")
    return value


def check_latency(value: object, name: str = "latency_ms") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value
