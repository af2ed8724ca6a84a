"""The pure statistics: Wilson intervals, the normal-mixture confidence sequence, the CUSUM."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.outcomes import stats

ALPHA = 0.01 / 14
RHO = stats.mixture_rho(200, ALPHA)


@st.composite
def counts(draw: st.DrawFn, max_trials: int = 5_000) -> tuple[int, int]:
    trials = draw(st.integers(min_value=0, max_value=max_trials))
    return draw(st.integers(min_value=0, max_value=trials)), trials


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = stats.wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)


def test_wilson_interval_without_trials_is_the_unit_interval() -> None:
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 3), (4, 3), (1, -1)])
def test_impossible_counts_are_rejected(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        stats.wilson_interval(successes, trials)
    with pytest.raises(ValueError, match="successes <= trials"):
        stats.confidence_sequence(successes, trials, ALPHA, rho=RHO)


@given(counts(), st.floats(min_value=0.1, max_value=5.0))
def test_wilson_interval_contains_the_estimate_and_stays_in_the_unit_interval(
    sample: tuple[int, int], z: float
) -> None:
    successes, trials = sample
    low, high = stats.wilson_interval(successes, trials, z)
    assert 0.0 <= low <= high <= 1.0
    if trials:
        assert low <= successes / trials <= high


@given(counts(), st.floats(min_value=0.1, max_value=3.0))
def test_wilson_interval_widens_with_z(sample: tuple[int, int], z: float) -> None:
    successes, trials = sample
    narrow, wide = (
        stats.wilson_interval(successes, trials, z),
        stats.wilson_interval(successes, trials, z + 1),
    )
    assert wide[0] <= narrow[0] + 1e-12
    assert wide[1] >= narrow[1] - 1e-12


def test_mixture_rho_solves_the_optimality_condition() -> None:
    rho = stats.mixture_rho(200, ALPHA)
    ratio = stats.HOEFFDING_VARIANCE * 200 / rho
    assert ratio == pytest.approx(2 * math.log(1 / ALPHA) + math.log1p(ratio), rel=1e-12)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_mixture_rho_makes_the_boundary_tightest_at_n_opt(scale: float) -> None:
    best = stats.mixture_radius(200, ALPHA, rho=RHO)
    assert best < stats.mixture_radius(200, ALPHA, rho=RHO * scale)


@pytest.mark.parametrize(("n_opt", "alpha"), [(0, 0.01), (10, 0.0), (10, 1.0)])
def test_mixture_rho_rejects_nonsense(n_opt: int, alpha: float) -> None:
    with pytest.raises(ValueError, match="n_opt"):
        stats.mixture_rho(n_opt, alpha)


def test_mixture_radius_is_infinite_before_any_observation() -> None:
    assert stats.mixture_radius(0, ALPHA, rho=RHO) == math.inf
    assert stats.confidence_sequence(0, 0, ALPHA, rho=RHO) == (0.0, 1.0)


@given(st.integers(min_value=1, max_value=100_000))
def test_mixture_radius_shrinks_with_every_observation(trials: int) -> None:
    assert stats.mixture_radius(trials + 1, ALPHA, rho=RHO) < stats.mixture_radius(
        trials, ALPHA, rho=RHO
    )


@given(counts())
def test_confidence_sequence_contains_the_estimate_and_the_wilson_interval(
    sample: tuple[int, int],
) -> None:
    successes, trials = sample
    low, high = stats.confidence_sequence(successes, trials, ALPHA, rho=RHO)
    wilson_low, wilson_high = stats.wilson_interval(successes, trials)
    assert 0.0 <= low <= wilson_low + 1e-12
    assert wilson_high - 1e-12 <= high <= 1.0


def test_confidence_sequence_leaves_the_mean_on_at_most_alpha_of_paths() -> None:
    """Checked after every one of 500 observations: the time-uniform guarantee."""
    alpha, rng = 0.2, random.Random(7)
    rho = stats.mixture_rho(100, alpha)
    paths, escaped = 300, 0
    for _ in range(paths):
        successes = 0
        for trials in range(1, 501):
            successes += rng.random() < 0.5
            low, high = stats.confidence_sequence(successes, trials, alpha, rho=rho)
            if not low <= 0.5 <= high:
                escaped += 1
                break
    assert escaped / paths <= alpha


def test_bernoulli_llr_values() -> None:
    assert stats.bernoulli_llr(True, 0.8, 0.6) == pytest.approx(math.log(0.75))
    assert stats.bernoulli_llr(False, 0.8, 0.6) == pytest.approx(math.log(2.0))


@pytest.mark.parametrize(("p0", "p1"), [(0.0, 0.5), (1.0, 0.5), (0.5, 0.0), (0.5, 1.0)])
def test_bernoulli_llr_rejects_rates_on_the_edge(p0: float, p1: float) -> None:
    with pytest.raises(ValueError, match="rates must be in"):
        stats.bernoulli_llr(True, p0, p1)


def test_cusum_step_restarts_at_zero_and_grows_on_failures() -> None:
    assert stats.cusum_step(0.0, True, 0.85, 0.65) == 0.0
    grown = stats.cusum_step(0.0, False, 0.85, 0.65)
    assert grown == pytest.approx(math.log(0.35 / 0.15))
    assert stats.cusum_step(grown, True, 0.85, 0.65) == pytest.approx(grown + math.log(0.65 / 0.85))


@given(st.lists(st.booleans(), max_size=200), st.data())
def test_cusum_never_drops_when_a_success_becomes_a_failure(
    outcomes: list[bool], data: st.DataObject
) -> None:
    def run(sequence: list[bool]) -> float:
        statistic = 0.0
        for success in sequence:
            statistic = stats.cusum_step(statistic, success, 0.85, 0.65)
            assert statistic >= 0.0
        return statistic

    worse = list(outcomes)
    if worse:
        worse[data.draw(st.integers(min_value=0, max_value=len(worse) - 1))] = False
    assert run(worse) >= run(outcomes) - 1e-9


# h(n) = h0 up to n0, then h0 + k log(n / n0): literal values, ln 2 = 0.6931..., ln 10 = 2.3026...
@pytest.mark.parametrize(
    ("observations", "expected"),
    [(0, 7.25), (1, 7.25), (500, 7.25), (1_000, 8.636294361119891), (5_000, 11.855170185988092)],
)
def test_spending_threshold_values(observations: int, expected: float) -> None:
    h = stats.spending_threshold(observations, base=7.25, after=500, power=2.0)
    assert h == pytest.approx(expected, abs=1e-12)


def test_spending_threshold_with_power_zero_is_a_fixed_threshold() -> None:
    assert stats.spending_threshold(10**9, base=7.25, after=500, power=0.0) == 7.25


def test_spending_threshold_accepts_the_edges_of_its_ranges() -> None:
    assert stats.spending_threshold(2, base=1.0, after=1, power=1.0) == 1.0 + math.log(2)
    assert stats.spending_threshold(2, base=1.0, after=1, power=0.0) == 1.0


@pytest.mark.parametrize(("after", "power"), [(0, 2.0), (500, -0.1)])
def test_spending_threshold_rejects_nonsense(after: int, power: float) -> None:
    with pytest.raises(ValueError, match="after >= 1 and power >= 0"):
        stats.spending_threshold(1_000, base=7.25, after=after, power=power)


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=1, max_value=5_000),
    st.floats(min_value=0.0, max_value=4.0),
)
def test_spending_threshold_never_falls_and_grows_k_nats_per_factor_e(
    n: int, factor: int, after: int, power: float
) -> None:
    def h(observations: int) -> float:
        return stats.spending_threshold(observations, base=7.25, after=after, power=power)

    assert h(n) <= h(n * factor) and h(n) >= 7.25
    if n >= after:  # past n0, multiplying n by m adds exactly k log m
        assert h(n * factor) - h(n) == pytest.approx(power * math.log(factor), abs=1e-9)


def test_mixture_radius_after_one_observation_is_the_documented_boundary() -> None:
    # the docstring's boundary at n = 1, rho = 1, alpha = 0.05, over n:
    # sqrt((1/4 + 1) * log((1/4 + 1) / 0.05^2)) / 1 = sqrt(1.25 log 500)
    assert stats.mixture_radius(1, 0.05, rho=1.0) == pytest.approx(2.787160, abs=1e-6)


def test_a_rate_adds_one_trial_at_a_time() -> None:
    assert stats.Rate(2, 3).add(True) == stats.Rate(3, 4)
    assert stats.Rate(2, 3).add(False) == stats.Rate(2, 4)
    assert stats.Rate().add(True).add(False) == stats.Rate(1, 2)


def test_a_rate_shows_its_estimate_count_and_wilson_interval() -> None:
    assert stats.Rate().as_dict() == {"estimate": None, "n": 0, "successes": 0, "ci95": [0.0, 1.0]}
    shown = stats.Rate(5, 10).as_dict()
    assert (shown["estimate"], shown["n"], shown["successes"]) == (0.5, 10, 5)
    assert shown["ci95"] == [pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4)]


@pytest.mark.parametrize("power", [0.0, 1.5, 1e308, math.inf])
def test_spending_threshold_at_exactly_n0_is_the_base_whatever_the_power(power: float) -> None:
    assert stats.spending_threshold(500, base=7.25, after=500, power=power) == 7.25
