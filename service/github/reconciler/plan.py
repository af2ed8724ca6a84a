"""What to redeliver: a pure function of a hook's delivery attempts, what Switchyard stored,
and the clock.

GitHub lists one entry per *attempt*; attempts of one event share its ``guid`` (the
``X-GitHub-Delivery`` Switchyard deduplicates by). An event is *missing* when none of its
attempts succeeded (a 2xx) and Switchyard has not stored it (its intake dedupe mark is absent:
an attempt GitHub saw time out may still have been stored). A missing event is redelivered by
its latest attempt's id, if that attempt is within GitHub's redelivery window (3 days).

:func:`window_start` says how far back to page: to the last complete run, less an overlap (a
delivery can show up in the list a little after its ``delivered_at``), never before the window.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "REDELIVERY_WINDOW_SECONDS",
    "Attempt",
    "Missing",
    "failed_events",
    "parse_time",
    "window_start",
]

REDELIVERY_WINDOW_SECONDS = 3 * 24 * 3600
_OVERLAP_SECONDS = 300.0


def parse_time(raw: object) -> float | None:
    """GitHub's ``2026-12-01T12:00:00Z`` as unix seconds, or None if it is not a time."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One entry of a hook's delivery list, with only what reconciling needs."""

    id: int
    guid: str
    delivered_at: float
    status_code: int
    event: str

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Attempt | None:
        """The attempt, or None for an entry without a usable id, guid, time or status."""
        ident, guid, code = raw.get("id"), raw.get("guid"), raw.get("status_code")
        delivered_at = parse_time(raw.get("delivered_at"))
        event = raw.get("event")
        if not (isinstance(ident, int) and not isinstance(ident, bool) and ident > 0):
            return None
        if not isinstance(guid, str) or not 0 < len(guid) <= 128 or not guid.isprintable():
            return None
        if not isinstance(code, int) or isinstance(code, bool) or delivered_at is None:
            return None
        return cls(ident, guid, delivered_at, code, event if isinstance(event, str) else "")


@dataclass(frozen=True, slots=True)
class Missing:
    """An event none of whose attempts succeeded; ``redeliver_id`` is its latest attempt."""

    guid: str
    event: str
    redeliver_id: int
    last_attempt_at: float
    attempts: int


def failed_events(attempts: Iterable[Attempt], *, now: float) -> list[Missing]:
    """Events with no successful attempt whose latest attempt GitHub still redelivers, oldest
    first. Whether Switchyard stored them is the caller's question (it needs Redis)."""
    by_guid: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_guid.setdefault(attempt.guid, []).append(attempt)
    missing: list[Missing] = []
    for guid, tries in by_guid.items():
        if any(t.succeeded for t in tries):
            continue
        latest = max(tries, key=lambda t: (t.delivered_at, t.id))
        if latest.delivered_at < now - REDELIVERY_WINDOW_SECONDS:
            continue
        missing.append(Missing(guid, latest.event, latest.id, latest.delivered_at, len(tries)))
    missing.sort(key=lambda m: (m.last_attempt_at, m.redeliver_id))
    return missing


def window_start(*, now: float, last_complete: float | None, since: float | None = None) -> float:
    """The oldest ``delivered_at`` to look at: ``since`` if given, else the last complete run
    less an overlap, else the whole window; never older than GitHub's redelivery window."""
    oldest = now - REDELIVERY_WINDOW_SECONDS
    if since is not None:
        return max(since, oldest)
    if last_complete is None:
        return oldest
    return max(last_complete - _OVERLAP_SECONDS, oldest)
