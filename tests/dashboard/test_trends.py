"""Completions bucketed over time, per system (pure)."""

from __future__ import annotations

from flags.model import Issue, System
from service.dashboard.trends import bucket_completions
from service.outcomes.records import CompletionRecord

HOUR = 3600.0
NOW = 1_700_000_000.0 + 1234.0  # not on a bucket edge


def _row(system: str, at: float, success: bool, dry_run: bool = False) -> CompletionRecord:
    return CompletionRecord(
        job_id="j",
        delivery_id="d",
        system=System(system),
        issue=Issue("acme/app", 1),
        success=success,
        duration_seconds=1.0,
        dry_run=dry_run,
        pr_number=None,
        output_digest="",
        at=at,
    )


def test_buckets_are_aligned_and_the_last_holds_now() -> None:
    trends = bucket_completions([], window="1d", now=NOW)
    starts = trends.starts
    assert len(starts) == 24
    assert all(start % HOUR == 0 for start in starts)
    last = trends.series[System.PYTHON][-1]
    assert last.start <= NOW < last.end
    assert trends.empty


def test_completions_land_in_their_bucket_per_system() -> None:
    rows = [
        _row("python", NOW - 10, True),
        _row("python", NOW - 20, False),
        _row("typescript", NOW - 10, True),
        _row("python", NOW - 3 * HOUR, True),
        _row("python", NOW - 30, True, dry_run=True),  # shadow runs are not acting completions
        _row("python", NOW - 2 * 86400, False),  # outside the window
        _row("python", NOW + HOUR, False),  # in the future: ignored
    ]
    trends = bucket_completions(rows, window="1d", now=NOW)
    python = trends.series[System.PYTHON]
    assert (python[-1].successes, python[-1].trials) == (1, 2)
    assert python[-1].success_rate == 0.5
    assert [b.trials for b in python].count(0) == 22
    three_hours_ago = next(b for b in python if b.start <= NOW - 3 * HOUR < b.end)
    assert (three_hours_ago.successes, three_hours_ago.trials) == (1, 1)
    assert trends.series[System.TYPESCRIPT][-1].trials == 1
    assert python[0].success_rate is None
    assert not trends.empty


def test_window_sizes() -> None:
    assert bucket_completions([], window="1h", now=NOW).bucket_seconds == 300
    week = bucket_completions([], window="7d", now=NOW)
    assert (len(week.starts), week.bucket_seconds) == (28, 6 * HOUR)
