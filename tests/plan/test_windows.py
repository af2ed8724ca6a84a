"""Promotion windows: hours, weekdays, time zones, freezes, and the messages of bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.plan.errors import PlanInvalid
from service.plan.windows import Windows, parse_windows

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_no_windows_is_always_open() -> None:
    assert parse_windows(None) == Windows()
    assert Windows().closed_because(at("2026-12-05T03:00:00+00:00")) is None


def test_office_hours_on_weekdays() -> None:
    windows = parse_windows({"hours": "09:00-17:00", "weekdays": ["mon", "tue", "wed"]})
    assert windows.closed_because(at("2026-11-30T09:00:00+00:00")) is None  # a Monday
    assert windows.closed_because(at("2026-11-30T16:59:59+00:00")) is None
    assert windows.closed_because(at("2026-11-30T17:00:00+00:00")) == (
        "outside the promotion hours (09:00-17:00 UTC)"
    )
    assert windows.closed_because(at("2026-12-03T10:00:00+00:00")) == (
        "outside the promotion days (mon, tue, wed; UTC)"
    )


def test_hours_are_read_in_the_windows_time_zone() -> None:
    windows = parse_windows({"hours": "09:00-17:00", "timezone": "Europe/Berlin"})
    assert windows.closed_because(at("2026-11-30T08:30:00+00:00")) is None  # 09:30 in Berlin
    assert windows.closed_because(at("2026-11-30T16:30:00+00:00")) is not None  # 17:30


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    windows = parse_windows({"hours": "22:00-02:00", "weekdays": ["fri"]})
    assert windows.closed_because(at("2026-12-04T23:00:00+00:00")) is None  # Friday night
    assert windows.closed_because(at("2026-12-05T01:00:00+00:00")) is None  # still Friday's
    assert windows.closed_because(at("2026-12-05T23:00:00+00:00")) is not None  # Saturday's
    assert windows.closed_because(at("2026-12-04T03:00:00+00:00")) is not None  # Thursday's


def test_a_freeze_closes_the_window_and_says_until_when() -> None:
    windows = parse_windows(
        {
            "freezes": [
                {"start": "2026-12-20T00:00:00", "end": "2027-01-04T00:00:00", "reason": "holidays"}
            ]
        }
    )
    assert windows.closed_because(at("2026-12-19T23:59:59+00:00")) is None
    assert windows.closed_because(at("2026-12-24T12:00:00+00:00")) == (
        "freeze until 2027-01-04T00:00:00+00:00: holidays"
    )
    assert windows.closed_because(at("2027-01-04T00:00:00+00:00")) is None
    assert parse_windows(windows.as_dict()) == windows


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("weekdays", "windows"),
        ({"hours": "9-5pm"}, "windows.hours"),
        ({"hours": "09:00"}, "windows.hours"),
        ({"hours": 9}, "windows.hours"),
        ({"weekdays": ["monday"]}, "windows.weekdays"),
        ({"weekdays": []}, "windows.weekdays"),
        ({"timezone": "Mars/Olympus"}, "windows.timezone"),
        ({"freezes": "xmas"}, "windows.freezes"),
        ({"freezes": ["xmas"]}, "windows.freezes[0]"),
        (
            {"freezes": [{"start": "soon", "end": "2027-01-01T00:00:00"}]},
            "windows.freezes[0].start",
        ),
        ({"freezes": [{"start": "2027-01-01T00:00:00"}]}, "windows.freezes[0].end"),
        (
            {"freezes": [{"start": "2027-01-02T00:00:00", "end": "2027-01-01T00:00:00"}]},
            "windows.freezes[0].end",
        ),
        (
            {"freezes": [{"start": "2027-01-01", "end": "2027-01-02", "reason": 3}]},
            "windows.freezes[0].reason",
        ),
        ({"days": ["mon"]}, "windows.days"),
    ],
)
def test_malformed_windows_are_refused_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(PlanInvalid) as refused:
        parse_windows(raw)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert refused.value.status_code == 400
