"""Promotion windows: when a plan may advance. A rollback is always allowed, windows or not.

A window is a set of weekdays, a span of hours (``"09:00-17:00"``, end exclusive; a span that
ends before it starts runs past midnight) in a time zone, and any number of freezes (declared
periods, ``start``/``end`` in ISO 8601, when nothing advances). Omitted: always open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.plan.errors import PlanInvalid

__all__ = ["WEEKDAYS", "Freeze", "Windows", "parse_windows"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_KNOWN = {"weekdays", "hours", "timezone", "freezes"}


@dataclass(frozen=True, slots=True)
class Freeze:
    start: dt.datetime
    end: dt.datetime
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Windows:
    weekdays: tuple[str, ...] = WEEKDAYS
    start: dt.time = dt.time(0, 0)
    end: dt.time = dt.time(0, 0)  # equal to start: all day
    timezone: str = "UTC"
    freezes: tuple[Freeze, ...] = ()

    def closed_because(self, now: dt.datetime) -> str | None:
        """Why an advance may not happen at ``now`` (aware), or None when the window is open."""
        for freeze in self.freezes:
            if freeze.start <= now < freeze.end:
                why = f": {freeze.reason}" if freeze.reason else ""
                return f"freeze until {freeze.end.isoformat()}{why}"
        local = now.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        if self.start == self.end:
            inside = True
        elif self.start < self.end:
            inside = self.start <= clock < self.end
        else:  # past midnight: the day's share is judged by the day it started
            inside = clock >= self.start or clock < self.end
        day = local.weekday()
        if self.start > self.end and clock < self.end:
            day = (day - 1) % 7
        if WEEKDAYS[day] not in self.weekdays:
            return f"outside the promotion days ({', '.join(self.weekdays)}; {self.timezone})"
        if not inside:
            return f"outside the promotion hours ({self.hours_text()} {self.timezone})"
        return None

    def hours_text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "weekdays": list(self.weekdays),
            "hours": self.hours_text(),
            "timezone": self.timezone,
            "freezes": [freeze.as_dict() for freeze in self.freezes],
        }


def parse_windows(raw: Any) -> Windows:
    """Validate a ``windows`` object; :class:`PlanInvalid` names the field at fault."""
    if raw is None:
        return Windows()
    if not isinstance(raw, Mapping):
        raise PlanInvalid("windows", "must be an object")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise PlanInvalid(f"windows.{unknown[0]}", "unknown field")
    timezone = raw.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanInvalid("windows.timezone", f"unknown time zone {timezone!r}") from None
    weekdays = raw.get("weekdays", list(WEEKDAYS))
    if not isinstance(weekdays, list) or not weekdays:
        raise PlanInvalid("windows.weekdays", "must be a non-empty list of mon..sun")
    for day in weekdays:
        if day not in WEEKDAYS:
            raise PlanInvalid("windows.weekdays", f"unknown day {day!r} (mon..sun)")
    start, end = _hours(raw.get("hours", "00:00-00:00"))
    freezes = raw.get("freezes", [])
    if not isinstance(freezes, list):
        raise PlanInvalid("windows.freezes", "must be a list")
    zone = ZoneInfo(str(timezone))
    return Windows(
        weekdays=tuple(day for day in WEEKDAYS if day in weekdays),
        start=start,
        end=end,
        timezone=str(timezone),
        freezes=tuple(_freeze(item, i, zone) for i, item in enumerate(freezes)),
    )


def _hours(text: Any) -> tuple[dt.time, dt.time]:
    field = "windows.hours"
    if not isinstance(text, str) or text.count("-") != 1:
        raise PlanInvalid(field, f'must look like "09:00-17:00", got {text!r}')
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise PlanInvalid(field, f'must look like "09:00-17:00", got {text!r}') from None
    return start, end


def _freeze(item: Any, index: int, zone: ZoneInfo) -> Freeze:
    field = f"windows.freezes[{index}]"
    if not isinstance(item, Mapping):
        raise PlanInvalid(field, "must be an object with start, end and reason")
    moments = []
    for name in ("start", "end"):
        try:
            moment = dt.datetime.fromisoformat(str(item[name]))
        except (KeyError, ValueError):
            raise PlanInvalid(f"{field}.{name}", "must be an ISO 8601 date and time") from None
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=zone))
    if moments[1] <= moments[0]:
        raise PlanInvalid(f"{field}.end", "must be after start")
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise PlanInvalid(f"{field}.reason", "must be text")
    return Freeze(moments[0], moments[1], reason)
