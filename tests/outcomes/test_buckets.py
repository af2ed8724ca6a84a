"""The read model's pure arithmetic (``service.outcomes.buckets``), from its docstring:
minute/hour/day buckets kept 2 days/90 days/for ever after they end, fields
``{system}:{role}:{counter}``, histogram bins ``(2^((k-1)/8), 2^(k/8)]``, windows as sums of
whole buckets starting at the finest resolution still kept."""

from __future__ import annotations

import json

import pytest

from flags.model import System
from service.outcomes.buckets import (
    BIN_MAX,
    BIN_MIN,
    DAY,
    HOUR,
    MINUTE,
    bin_of,
    bin_upper,
    bucket_spec,
    bucket_writes,
    comparison_fields,
    completion_fields,
    histogram_of,
    quality_fields,
    quantile,
    rebuild_set_key,
    window_keys,
    window_start,
)
from service.outcomes.records import BUILD_KIND, PR_CLOSED

D = 86400


def test_resolutions_and_their_retention() -> None:
    assert (MINUTE.name, MINUTE.seconds, MINUTE.retention) == ("m", 60, 2 * D)
    assert (HOUR.name, HOUR.seconds, HOUR.retention) == ("h", 3600, 90 * D)
    assert (DAY.name, DAY.seconds, DAY.retention) == ("d", D, None)
    assert MINUTE.start(179.9) == 120
    assert HOUR.start(7199.0) == 3600
    assert MINUTE.key("p", 120) == "p:rm:m:120"
    assert rebuild_set_key("p") == "p:rm:rebuild"


def test_bins_at_their_exact_bounds() -> None:
    assert bin_of(1.0) == 0
    assert bin_of(2.0) == 8
    assert bin_of(2.0 ** (1 / 8)) == 1
    assert bin_of(1.01) == 1
    assert bin_of(2.0 ** (-4)) == BIN_MIN  # 62.5 ms and below share the lowest bin
    assert bin_of(0.07) == -30
    assert bin_of(0.0) == BIN_MIN
    assert bin_of(2.0**17) == BIN_MAX
    assert bin_of(2.0**17 * 1.01) == BIN_MAX
    assert bin_of(1e9) == BIN_MAX
    assert bin_upper(8) == 2.0
    assert bin_upper(-8) == 0.5


def test_quantile_interpolates_inside_its_bin() -> None:
    assert quantile({8: 2}, 0.5) == pytest.approx(2.0 ** (7.5 / 8))  # halfway through bin 8
    assert quantile({0: 1, 8: 1}, 0.5) == 1.0  # the whole of bin 0
    assert quantile({0: 1, 8: 1}, 0.75) == pytest.approx(2.0 ** (7.5 / 8))
    assert quantile({0: 0, 8: 4}, 0.25) == pytest.approx(2.0 ** (7.25 / 8))
    assert quantile({BIN_MIN: 3}, 0.5) == 2.0**-4  # the lowest bin reads as its upper bound
    assert quantile({8: 1}, 1.5) == 2.0  # beyond every count: the top bin's bound
    assert quantile({8: 0}, 0.5) is None
    assert quantile({}, 0.5) is None


def test_a_completion_adds_one_to_its_role_and_its_bin() -> None:
    assert completion_fields("python", dry_run=False, success=True, seconds=2.0) == {
        "python:acting:n": 1,
        "python:acting:h8": 1,
        "python:acting:ok": 1,
    }
    assert completion_fields("typescript", dry_run=True, success=False, seconds=1.0) == {
        "typescript:shadow:n": 1,
        "typescript:shadow:h0": 1,
    }


def test_quality_counts_prs_and_builds_of_the_owner_only() -> None:
    assert quality_fields("python", kind=PR_CLOSED, success=True) == {
        "python:acting:pr": 1,
        "python:acting:merged": 1,
    }
    assert quality_fields("python", kind=BUILD_KIND, success=False) == {"python:acting:build": 1}
    assert quality_fields("python", kind=BUILD_KIND, success=True) == {
        "python:acting:build": 1,
        "python:acting:green": 1,
    }
    assert quality_fields("python", kind="ci:status", success=True) == {}


def test_a_comparison_counts_for_control_and_candidate() -> None:
    assert comparison_fields("typescript", "python", matched=False) == {
        "typescript:acting:cmp": 1,
        "typescript:acting:miss": 1,
        "python:shadow:cmp": 1,
        "python:shadow:miss": 1,
    }
    assert comparison_fields("python", "typescript", matched=True) == {
        "python:acting:cmp": 1,
        "typescript:shadow:cmp": 1,
    }
    # the same system in both roles keeps one count per role
    assert comparison_fields("python", "python", matched=True) == {
        "python:acting:cmp": 1,
        "python:shadow:cmp": 1,
    }


def test_bucket_writes_expire_after_retention_and_skip_buckets_already_gone() -> None:
    at = 10 * D + 3700.0  # minute 10 d + 3660, hour 10 d + 3600, day 10 d
    assert bucket_writes("p", at, now=at) == [
        (f"p:rm:m:{10 * D + 3660}", 10 * D + 3720 + 2 * D),
        (f"p:rm:h:{10 * D + 3600}", 10 * D + 7200 + 90 * D),
        (f"p:rm:d:{10 * D}", 0),
    ]
    # the minute bucket expires at exactly 12 d + 3720: a write at that moment leaves it out
    later = bucket_writes("p", at, now=12 * D + 3720)
    assert [key for key, _ in later] == [f"p:rm:h:{10 * D + 3600}", f"p:rm:d:{10 * D}"]
    assert len(bucket_writes("p", at, now=12 * D + 3719)) == 3
    assert bucket_writes("p", at, now=200 * D) == [(f"p:rm:d:{10 * D}", 0)]


def test_bucket_spec_names_the_keys_and_describes_the_fields() -> None:
    spec = bucket_spec("p", 120.0, {"python:acting:n": 1}, now=120.0)
    assert spec.keys == ("p:rm:m:120", "p:rm:h:0", "p:rm:d:0")
    assert json.loads(spec.argument) == {
        "expire": [180 + 2 * D, 3600 + 90 * D, 0],
        "fields": {"python:acting:n": 1},
    }


def test_window_start_uses_the_finest_resolution_kept_that_far_back() -> None:
    now = 100 * D + 5 * 3600 + 17 * 60 + 9
    assert window_start(now - 60, now) == now - 60 - 9
    # a minute bucket is kept 2 days after it ends: 2 d - 60 s back still reads minutes
    assert window_start(now - (2 * D - 61), now) == MINUTE.start(now - (2 * D - 61))
    assert window_start(now - (2 * D - 60), now) == HOUR.start(now - (2 * D - 60))
    assert window_start(now - (90 * D - 3601), now) == HOUR.start(now - (90 * D - 3601))
    assert window_start(now - (90 * D - 3600), now) == DAY.start(now - (90 * D - 3600))


def test_a_window_is_whole_buckets_coarsest_first_up_to_now() -> None:
    now = 2 * D + 3600 + 125.0  # 2 d 1 h 2 min 5 s
    assert window_keys("p", now - 65, now) == [
        f"p:rm:m:{2 * D + 3600 + 60}",
        f"p:rm:m:{2 * D + 3600 + 120}",
    ]
    assert window_keys("p", D + 3600, now) == [
        f"p:rm:h:{D + 3600}",
        *(f"p:rm:h:{D + h * 3600}" for h in range(2, 24)),
        f"p:rm:d:{2 * D}",  # the day holding now: nothing later exists
    ]
    assert window_keys("p", 0, now) == ["p:rm:d:0", f"p:rm:d:{D}", f"p:rm:d:{2 * D}"]


def test_a_window_with_an_end_stops_at_the_last_whole_bucket_before_it() -> None:
    now = 10 * D
    assert window_keys("p", D, now, end=3 * D) == ["p:rm:d:86400", "p:rm:d:172800"]
    assert window_keys("p", now - 180, now, end=now - 60) == [
        f"p:rm:m:{now - 180}",
        f"p:rm:m:{now - 120}",
    ]
    assert window_keys("p", now - 180, now, end=now - 180) == []
    # an hour that would run past the end is read as its minutes
    assert window_keys("p", now - 3600, now, end=now - 3540) == [f"p:rm:m:{now - 3600}"]


def test_histogram_of_one_system_and_role() -> None:
    counts = {
        "python:acting:h8": 2,
        "python:acting:h-3": 1,
        "python:acting:n": 3,
        "python:shadow:h8": 5,
        "typescript:acting:h8": 7,
    }
    assert histogram_of(counts, System.PYTHON, "acting") == {8: 2, -3: 1}
    assert histogram_of(counts, System.TYPESCRIPT, "shadow") == {}


def test_every_bin_bound_lands_in_its_own_bin_despite_log2_rounding() -> None:
    # 8 log2(2^(k/8)) rounds above k for some k (-4, 1, 4): the bound still belongs to bin k
    for k in range(BIN_MIN + 1, BIN_MAX + 1):
        assert bin_of(2.0 ** (k / 8)) == k


def test_durations_below_62_5_ms_all_share_the_lowest_bin() -> None:
    assert bin_of(0.03) == BIN_MIN
    assert bin_of(0.001) == BIN_MIN


def test_a_window_starting_now_holds_the_bucket_of_now() -> None:
    now = 10 * D
    assert window_keys("p", now, now) == [f"p:rm:d:{10 * D}"]


def test_a_window_ending_exactly_now_reads_only_whole_buckets_before_now() -> None:
    now = 10 * D + 120
    assert window_keys("p", 10 * D, now, end=now) == [f"p:rm:m:{10 * D}", f"p:rm:m:{10 * D + 60}"]
