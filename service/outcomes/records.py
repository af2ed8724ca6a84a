"""The outcome records: one typed row per stream entry, and the only code that reads their fields.

Three streams (:mod:`service.keys`): ``completions`` (one :class:`CompletionRecord` per completed
job), ``quality`` (one :class:`QualityRecord` per closed pull request or CI conclusion attributed
to a system) and ``comparisons`` (one :class:`ComparisonRecord` per shadow pair). Each record
turns into stream fields with ``to_fields`` (strings: booleans as ``1``/``0``, seconds with six
decimals) and back with ``from_fields``; ``from_fields(r.to_fields()) == r``. Writers
(:mod:`service.outcomes.recorder`) append ``to_fields``; readers call :func:`read_records` or
:func:`read_entries` and get records: nothing else indexes a stream entry's fields.

An entry that does not parse (a field missing, a foreign value) is skipped by the readers, so
one bad entry cannot stop the metrics, the watchdog or the dashboard (:func:`read_entries` gives
None for it, so a cursor still moves past it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from redis.asyncio import Redis

from flags.model import Issue, System

__all__ = [
    "BUILD_KIND",
    "PR_CLOSED",
    "ComparisonRecord",
    "CompletionRecord",
    "QualityRecord",
    "R",
    "read_entries",
    "read_records",
]

PR_CLOSED = "pr_closed"
"""The quality kind of a closed pull request (success: merged)."""

BUILD_KIND = "ci:check_suite"
"""The quality rows that count as builds: one conclusion per CI app per pushed commit (check runs
are single jobs, workflow runs repeat the Actions check suite); others are recorded, not counted."""


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _issue(text: str) -> Issue:
    repository, _, number = text.rpartition("#")
    if not repository:
        raise ValueError(f"not an issue: {text!r}")
    return Issue(repository, int(number))


def _bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"not a flag: {text!r}")
    return text == "1"


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    """A job's completion as the system reported it (``at``: when it was recorded)."""

    job_id: str
    delivery_id: str
    system: System
    issue: Issue
    success: bool
    duration_seconds: float
    dry_run: bool
    pr_number: int | None
    output_digest: str
    at: float

    @property
    def acting(self) -> bool:
        """The acting system's run (not a shadow run)."""
        return not self.dry_run

    def to_fields(self) -> dict[str, str]:
        return {
            "job_id": self.job_id,
            "delivery_id": self.delivery_id,
            "system": self.system.value,
            "issue": str(self.issue),
            "success": _flag(self.success),
            "duration_seconds": _seconds(self.duration_seconds),
            "dry_run": _flag(self.dry_run),
            "pr_number": str(self.pr_number or ""),
            "output_digest": self.output_digest,
            "at": _seconds(self.at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        return cls(
            job_id=fields["job_id"],
            delivery_id=fields["delivery_id"],
            system=System(fields["system"]),
            issue=_issue(fields["issue"]),
            success=_bool(fields["success"]),
            duration_seconds=float(fields["duration_seconds"]),
            dry_run=_bool(fields["dry_run"]),
            pr_number=int(fields["pr_number"]) if fields.get("pr_number") else None,
            output_digest=fields.get("output_digest", ""),
            at=float(fields["at"]),
        )


@dataclass(frozen=True, slots=True)
class QualityRecord:
    """A pull request closed (``kind`` :data:`PR_CLOSED`) or a CI conclusion (``ci:{kind}``),
    attributed to the system owning the issue it resolves."""

    kind: str
    system: System
    issue: Issue
    success: bool
    delivery_id: str
    at: float

    @property
    def is_pr(self) -> bool:
        return self.kind == PR_CLOSED

    @property
    def is_build(self) -> bool:
        return self.kind == BUILD_KIND

    def to_fields(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "system": self.system.value,
            "issue": str(self.issue),
            "success": _flag(self.success),
            "delivery_id": self.delivery_id,
            "at": _seconds(self.at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        return cls(
            kind=fields["kind"],
            system=System(fields["system"]),
            issue=_issue(fields["issue"]),
            success=_bool(fields["success"]),
            delivery_id=fields["delivery_id"],
            at=float(fields["at"]),
        )


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """The acting (control) and shadow (candidate) outcomes of one delivery, side by side."""

    delivery_id: str
    issue: Issue
    control_system: System
    candidate_system: System
    match: bool
    control_success: bool
    candidate_success: bool
    control_duration_seconds: float
    candidate_duration_seconds: float
    at: float

    def involves(self, system: System) -> bool:
        return system in (self.control_system, self.candidate_system)

    @classmethod
    def of(cls, control: CompletionRecord, candidate: CompletionRecord, *, at: float) -> Self:
        """The comparison of two completions of one delivery: a match when both succeeded or
        both failed, with the same output digest."""
        return cls(
            delivery_id=control.delivery_id,
            issue=control.issue,
            control_system=control.system,
            candidate_system=candidate.system,
            match=(
                control.success == candidate.success
                and control.output_digest == candidate.output_digest
            ),
            control_success=control.success,
            candidate_success=candidate.success,
            control_duration_seconds=control.duration_seconds,
            candidate_duration_seconds=candidate.duration_seconds,
            at=at,
        )

    def to_fields(self) -> dict[str, str]:
        return {
            "delivery_id": self.delivery_id,
            "issue": str(self.issue),
            "control_system": self.control_system.value,
            "candidate_system": self.candidate_system.value,
            "match": _flag(self.match),
            "control_success": _flag(self.control_success),
            "candidate_success": _flag(self.candidate_success),
            "control_duration_seconds": _seconds(self.control_duration_seconds),
            "candidate_duration_seconds": _seconds(self.candidate_duration_seconds),
            "at": _seconds(self.at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        return cls(
            delivery_id=fields["delivery_id"],
            issue=_issue(fields["issue"]),
            control_system=System(fields["control_system"]),
            candidate_system=System(fields["candidate_system"]),
            match=_bool(fields["match"]),
            control_success=_bool(fields["control_success"]),
            candidate_success=_bool(fields["candidate_success"]),
            control_duration_seconds=float(fields["control_duration_seconds"]),
            candidate_duration_seconds=float(fields["candidate_duration_seconds"]),
            at=float(fields["at"]),
        )


R = TypeVar("R", CompletionRecord, QualityRecord, ComparisonRecord)
"""One of the three records."""


def _parse(kind: type[R], fields: Mapping[Any, Any] | None) -> R | None:
    try:
        return kind.from_fields({str(k): str(v) for k, v in (fields or {}).items()})
    except (KeyError, ValueError):
        return None


async def read_entries(
    redis: Redis,
    key: str,
    kind: type[R],
    *,
    low: str = "-",
    high: str = "+",
    count: int | None = None,
) -> list[tuple[str, R | None]]:
    """``(entry id, record)`` of a stream's entries between two ids (``XRANGE`` bounds), in
    stream order; the record is None for an entry that does not parse (a cursor moves past it)."""
    raw = await redis.xrange(key, min=low, max=high, count=count) or []
    return [(str(entry_id), _parse(kind, fields)) for entry_id, fields in raw]


async def read_records(
    redis: Redis,
    key: str,
    kind: type[R],
    *,
    since: float | None = None,
    last_n: int | None = None,
) -> list[R]:
    """A stream's records: the newest ``last_n`` (newest first), else all since ``since``."""
    if last_n is not None:
        raw = await redis.xrevrange(key, count=last_n) or []
    else:
        raw = await redis.xrange(key, min=f"{int((since or 0) * 1000)}-0") or []
    return [record for _, fields in raw if (record := _parse(kind, fields)) is not None]
