from __future__ import annotations

from typing import Any

import pytest

from service.github.reconciler.plan import (
    REDELIVERY_WINDOW_SECONDS,
    Attempt,
    failed_events,
    parse_time,
    window_start,
)

NOW = 1_800_000_000.0


def attempt(ident: int, guid: str, code: int, age: float = 60.0) -> Attempt:
    return Attempt(ident, guid, NOW - age, code, "issues")


def test_an_event_with_any_successful_attempt_is_not_missing() -> None:
    attempts = [attempt(1, "a", 503), attempt(2, "a", 202), attempt(3, "b", 0)]
    assert [m.guid for m in failed_events(attempts, now=NOW)] == ["b"]


def test_a_missing_event_is_redelivered_by_its_latest_attempt() -> None:
    attempts = [attempt(5, "a", 503, age=300), attempt(9, "a", 0, age=100), attempt(7, "a", 500)]
    (missing,) = failed_events(attempts, now=NOW)
    assert (missing.redeliver_id, missing.attempts) == (7, 3)  # 7 is the newest (age 60)


def test_events_past_githubs_window_are_left_alone_and_order_is_oldest_first() -> None:
    window = REDELIVERY_WINDOW_SECONDS
    attempts = [
        attempt(1, "old", 0, age=window + 1),
        attempt(2, "late", 0, age=10),
        attempt(3, "early", 0, age=window - 1),
    ]
    assert [m.guid for m in failed_events(attempts, now=NOW)] == ["early", "late"]


def test_redirects_and_client_errors_count_as_failures() -> None:
    attempts = [attempt(1, "a", 302), attempt(2, "b", 401), attempt(3, "c", 200)]
    assert [m.guid for m in failed_events(attempts, now=NOW)] == ["a", "b"]


def test_window_start_goes_back_to_the_last_complete_run_with_an_overlap() -> None:
    oldest = NOW - REDELIVERY_WINDOW_SECONDS
    assert window_start(now=NOW, last_complete=None) == oldest
    assert window_start(now=NOW, last_complete=NOW - 1000) == NOW - 1300
    assert window_start(now=NOW, last_complete=oldest - 50) == oldest
    assert window_start(now=NOW, last_complete=NOW - 10, since=NOW - 7200) == NOW - 7200
    assert window_start(now=NOW, last_complete=None, since=0) == oldest


GOOD: dict[str, Any] = {
    "id": 12,
    "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
    "delivered_at": "2019-06-03T00:57:16Z",
    "status_code": 502,
    "event": "issues",
}


def test_githubs_delivery_object_parses() -> None:
    parsed = Attempt.from_json(GOOD)
    assert parsed == Attempt(
        12, GOOD["guid"], parse_time("2019-06-03T00:57:16+00:00") or 0, 502, "issues"
    )
    assert parsed is not None and not parsed.succeeded


@pytest.mark.parametrize(
    "change",
    [
        {"id": "12"},
        {"id": True},
        {"id": 0},
        {"guid": ""},
        {"guid": "a\nb"},
        {"guid": "x" * 200},
        {"status_code": None},
        {"status_code": False},
        {"delivered_at": "yesterday"},
        {"delivered_at": 5},
    ],
)
def test_malformed_entries_are_skipped(change: dict[str, Any]) -> None:
    assert Attempt.from_json({**GOOD, **change}) is None


def test_parse_time_takes_githubs_form_and_refuses_the_rest() -> None:
    assert parse_time("1970-01-01T00:01:00Z") == 60.0
    assert parse_time("1970-01-01T00:01:00") == 60.0
    assert parse_time("x" * 50) is None
    assert parse_time(None) is None
