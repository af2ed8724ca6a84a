"""The beta-binomial confidence sequence and the non-inferiority test, against literal values."""

from __future__ import annotations

import math
import random

import pytest

from service.outcomes.noninferiority import (
    beta_binomial_bounds,
    log_mixture,
    non_inferiority,
)


def test_no_trials_bounds_nothing() -> None:
    assert beta_binomial_bounds(0, 0, 0.05) == (0.0, 1.0)
    assert log_mixture(0, 0, 0.3) == 0.0


def test_all_failures_upper_bound_is_closed_form() -> None:
    # M(p) = B(1, 11) / (1 - p)^10 = 1 / (11 (1 - p)^10) reaches 20 at p = 1 - 220^(-1/10)
    low, high = beta_binomial_bounds(0, 10, 0.05)
    assert low == 0.0
    assert high == pytest.approx(1 - 220 ** (-1 / 10), abs=1e-9)
    assert high == pytest.approx(0.41688, abs=1e-5)


def test_all_successes_mirror_all_failures() -> None:
    low, high = beta_binomial_bounds(10, 10, 0.05)
    assert low == pytest.approx(220 ** (-1 / 10), abs=1e-9)
    assert high == 1.0


def test_bounds_contain_the_estimate_and_shrink_with_samples() -> None:
    low, high = beta_binomial_bounds(85, 100, 0.05)
    assert low == pytest.approx(0.70993, abs=1e-4)
    assert high == pytest.approx(0.94138, abs=1e-4)
    wider = beta_binomial_bounds(85, 100, 0.01)
    assert wider[0] < low and wider[1] > high
    narrower = beta_binomial_bounds(850, 1000, 0.05)
    assert low < narrower[0] < 0.85 < narrower[1] < high


def test_log_mixture_is_the_closed_form() -> None:
    # S = 1, n = 1, p = 1/2: B(2, 1) / B(1, 1) / (1/2) = (1/2) / (1/2) = 1
    assert log_mixture(1, 1, 0.5) == pytest.approx(0.0, abs=1e-12)
    # S = 2, n = 2, p = 1/2: B(3, 1) / (1/4) = (1/3) * 4
    assert log_mixture(2, 2, 0.5) == pytest.approx(math.log(4 / 3), abs=1e-12)


@pytest.mark.parametrize(
    ("successes", "trials", "alpha"), [(-1, 3, 0.1), (4, 3, 0.1), (1, 3, 0.0), (1, 3, 1.0)]
)
def test_bad_counts_or_alpha_are_refused(successes: int, trials: int, alpha: float) -> None:
    with pytest.raises(ValueError, match="need"):
        beta_binomial_bounds(successes, trials, alpha)


def test_log_mixture_refuses_a_rate_outside_the_open_interval() -> None:
    with pytest.raises(ValueError, match="0 < p < 1"):
        log_mixture(1, 2, 1.0)


def test_equal_rates_with_large_samples_pass() -> None:
    test = non_inferiority((1700, 2000), (17000, 20000), margin=0.05, alpha=0.0125)
    assert test.passed
    assert test.difference == pytest.approx(0.0)
    assert test.low == pytest.approx(-0.04703, abs=1e-4)
    assert test.as_dict()["passed"] is True


def test_python_ten_points_worse_fails() -> None:
    test = non_inferiority((1500, 2000), (17000, 20000), margin=0.05, alpha=0.0125)
    assert not test.passed
    assert test.high < 0  # the interval also shows python worse


def test_small_samples_are_inconclusive() -> None:
    test = non_inferiority((85, 100), (850, 1000), margin=0.05, alpha=0.0125)
    assert not test.passed
    assert test.low < -0.05 < 0 < test.high


def test_no_data_on_one_side_has_no_difference() -> None:
    test = non_inferiority((0, 0), (5, 10), margin=0.05, alpha=0.05)
    assert test.difference is None
    assert not test.passed


def test_margin_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        non_inferiority((1, 2), (1, 2), margin=0.0, alpha=0.05)


def test_coverage_holds_over_every_look() -> None:
    """200 paths of 500 observations at p = 0.85, looked at every 10: misses stay under alpha."""
    rng = random.Random(7)
    misses = 0
    for _ in range(200):
        successes = 0
        for n in range(1, 501):
            successes += rng.random() < 0.85
            if n % 10 == 0:
                low, high = beta_binomial_bounds(successes, n, 0.05)
                if not low <= 0.85 <= high:
                    misses += 1
                    break
    assert misses / 200 <= 0.05
