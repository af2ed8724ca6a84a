"""The watchdog's evidence, folded incrementally: O(new rows) per tick, not O(history).

The fold is everything :func:`service.watchdog.evidence.gather_evidence` would compute by reading
the streams from the evidence epoch, kept in one Redis hash (``Keys.watchdog_fold``) with two
cursors, the last ``completions`` and ``quality`` stream ids folded in:

* per system: success tally (acting completions), build and PR tallies (quality rows),
  durations (count, count above the policy's ceiling, and the duration histogram for the p50);
* the drift CUSUM (:class:`~service.watchdog.verdict.Drift`) with typescript's running tally.

A tick (:meth:`EvidenceFold.advance`) reads the rows after the cursors in batches, folds each
(:func:`fold_rows`, pure) and writes the new fold with a compare-and-set on the cursors it read
(one Lua script): a leader that dies between reading and writing writes nothing, and a stale
leader's write is refused, so no row is ever folded twice and a new leader continues exactly where
the last write left off. A stream trimmed past ``MAXLEN`` cannot shorten evidence already folded.

A new evidence epoch (leaving an emergency rollback sets ``watchdog:since``) starts a new fold
from that moment. A fold that cannot be read (corrupt JSON, a missing hash after the watchdog has
run) is rebuilt from the streams, logged once, and marked ``rebuilt_at``, which the watchdog's
state and the status show.

Read API (for the watchdog and a rollout controller): ``await EvidenceFold(...).advance()``
returns the current :class:`Fold`; ``fold.evidence(python_health_failures=n)`` is the
:class:`~service.watchdog.verdict.Evidence` that :func:`~service.watchdog.verdict.decide` reads;
``fold.epoch``, ``fold.rows`` and ``fold.rebuilt_at`` say what it covers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from flags.model import System
from service.keys import Keys
from service.outcomes.buckets import bin_of, quantile
from service.outcomes.records import CompletionRecord, QualityRecord
from service.outcomes.stats import Rate
from service.watchdog.verdict import (
    Drift,
    Durations,
    Evidence,
    Policy,
    SystemEvidence,
    track,
)

__all__ = ["Fold", "SystemFold", "fold_key", "fold_rows"]


def fold_key(prefix: str) -> str:
    return Keys(prefix).watchdog_fold


@dataclass(frozen=True, slots=True)
class SystemFold:
    success: Rate = field(default_factory=Rate)
    build: Rate = field(default_factory=Rate)
    pr: Rate = field(default_factory=Rate)
    durations: int = 0
    above_ceiling: int = 0
    histogram: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fold:
    epoch: float
    cursor: str  # last completions id folded ("" before the first)
    quality_cursor: str
    python: SystemFold = field(default_factory=SystemFold)
    typescript: SystemFold = field(default_factory=SystemFold)
    drift: Drift = field(default_factory=Drift)
    rows: int = 0
    rebuilt_at: float | None = None

    def system(self, system: System) -> SystemFold:
        return self.python if system is System.PYTHON else self.typescript

    def evidence(self, *, python_health_failures: int) -> Evidence:
        def of(own: SystemFold, health: int) -> SystemEvidence:
            return SystemEvidence(
                success=own.success,
                build=own.build,
                pr=own.pr,
                durations=Durations(own.durations, quantile(own.histogram, 0.5), own.above_ceiling),
                health_failures=health,
            )

        return Evidence(
            python=of(self.python, python_health_failures),
            typescript=of(self.typescript, 0),
            drift=self.drift,
        )

    def to_json(self) -> str:
        def system(own: SystemFold) -> dict[str, Any]:
            return {
                "success": [own.success.successes, own.success.trials],
                "build": [own.build.successes, own.build.trials],
                "pr": [own.pr.successes, own.pr.trials],
                "durations": own.durations,
                "above_ceiling": own.above_ceiling,
                "histogram": {str(k): v for k, v in own.histogram.items()},
            }

        drift = self.drift
        return json.dumps(
            {
                "python": system(self.python),
                "typescript": system(self.typescript),
                "drift": [
                    drift.statistic,
                    drift.observations,
                    [drift.segment.successes, drift.segment.trials],
                    drift.reference,
                ],
                "rows": self.rows,
                "rebuilt_at": self.rebuilt_at,
            }
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Fold:
        """Parse the stored hash; raises ``ValueError``/``KeyError``/``TypeError`` if corrupt."""
        state = json.loads(fields["state"])

        def system(raw: dict[str, Any]) -> SystemFold:
            return SystemFold(
                Rate(*raw["success"]),
                Rate(*raw["build"]),
                Rate(*raw["pr"]),
                int(raw["durations"]),
                int(raw["above_ceiling"]),
                {int(k): int(v) for k, v in raw["histogram"].items()},
            )

        statistic, observations, segment, reference = state["drift"]
        rebuilt = state.get("rebuilt_at")
        return cls(
            epoch=float(fields["epoch"]),
            cursor=fields["cursor"],
            quality_cursor=fields["quality_cursor"],
            python=system(state["python"]),
            typescript=system(state["typescript"]),
            drift=Drift(float(statistic), int(observations), Rate(*segment), reference),
            rows=int(state["rows"]),
            rebuilt_at=None if rebuilt is None else float(rebuilt),
        )


def fold_rows(
    fold: Fold,
    completions: Iterable[tuple[str, CompletionRecord | None]],
    quality: Iterable[tuple[str, QualityRecord | None]],
    policy: Policy,
) -> Fold:
    """``fold`` with ``completions`` (in stream order) and ``quality`` rows folded in; pure."""
    own = {System.PYTHON: fold.python, System.TYPESCRIPT: fold.typescript}
    drift, cursor, quality_cursor, rows = fold.drift, fold.cursor, fold.quality_cursor, fold.rows
    for entry_id, row in completions:
        cursor, rows = entry_id, rows + 1
        if row is None or not row.acting:
            continue
        system, success = row.system, row.success
        seconds = max(row.duration_seconds, 0.0)
        if system is System.PYTHON:
            drift = track(
                drift, success=success, baseline=own[System.TYPESCRIPT].success, policy=policy
            )
        mine = own[system]
        histogram = dict(mine.histogram)
        histogram[bin_of(seconds)] = histogram.get(bin_of(seconds), 0) + 1
        own[system] = replace(
            mine,
            success=mine.success.add(success),
            durations=mine.durations + 1,
            above_ceiling=mine.above_ceiling + (seconds > policy.duration_ceiling_seconds),
            histogram=histogram,
        )
    for entry_id, found in quality:
        quality_cursor, rows = entry_id, rows + 1
        if found is None:
            continue
        system, success = found.system, found.success
        if found.is_build:
            own[system] = replace(own[system], build=own[system].build.add(success))
        elif found.is_pr:
            own[system] = replace(own[system], pr=own[system].pr.add(success))
    return replace(
        fold,
        cursor=cursor,
        quality_cursor=quality_cursor,
        python=own[System.PYTHON],
        typescript=own[System.TYPESCRIPT],
        drift=drift,
        rows=rows,
    )
