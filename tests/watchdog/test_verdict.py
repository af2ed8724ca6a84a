"""The watchdog's verdict: a pure function of (evidence, policy), tested without a server."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.outcomes.stats import Rate
from service.watchdog.verdict import (
    Drift,
    Durations,
    Evidence,
    Metric,
    Policy,
    Rule,
    SystemEvidence,
    Verdict,
    decide,
    track,
)

POLICY = Policy()
HEALTHY = SystemEvidence(success=Rate(850, 1000), build=Rate(850, 1000), pr=Rate(850, 1000))


def _evidence(
    python: SystemEvidence, typescript: SystemEvidence = HEALTHY, drift: Drift | None = None
) -> Evidence:
    return Evidence(python, typescript, drift or Drift())


def _tracked(outcomes: list[bool], baseline: Rate, policy: Policy = POLICY) -> Drift:
    drift = Drift()
    for success in outcomes:
        drift = track(drift, success=success, baseline=baseline, policy=policy)
    return drift


def _fails(verdict: Verdict, rule: Rule, metric: Metric) -> None:
    assert verdict.rollback
    assert verdict.rule is rule
    assert verdict.evidence["rule"] == rule.value
    assert verdict.evidence["metric"] == metric.value
    json.dumps(verdict.evidence, allow_nan=False)


def test_no_evidence_means_no_action() -> None:
    verdict = decide(_evidence(SystemEvidence(), SystemEvidence()), POLICY)
    assert verdict == Verdict(False, None, (), verdict.evidence)
    assert verdict.evidence["rule"] is None
    assert verdict.evidence["samples"] == 0


@pytest.mark.parametrize(
    "python",
    [
        SystemEvidence(success=Rate(0, 29)),
        SystemEvidence(build=Rate(0, 29), pr=Rate(0, 29)),
        SystemEvidence(durations=Durations(29, 5_000.0, 29)),
        SystemEvidence(health_failures=2),
    ],
    ids=["29 failures", "29 red builds and rejected PRs", "29 slow runs", "2 failed health checks"],
)
def test_too_few_samples_take_no_action(python: SystemEvidence) -> None:
    assert not decide(_evidence(python), POLICY).rollback


def test_three_failures_in_a_row_at_the_start_take_no_action() -> None:
    drift = _tracked([False, False, False], Rate(85, 100))
    verdict = decide(_evidence(SystemEvidence(success=Rate(0, 3)), drift=drift), POLICY)
    assert not verdict.rollback


def test_a_huge_cusum_before_min_samples_takes_no_action() -> None:
    drift = Drift(statistic=100.0, observations=29)
    assert not decide(_evidence(SystemEvidence(), drift=drift), POLICY).rollback


def test_clear_degradation_rolls_back_on_the_floor_and_the_comparison() -> None:
    verdict = decide(_evidence(SystemEvidence(success=Rate(40, 100))), POLICY)
    _fails(verdict, Rule.FLOOR, Metric.SUCCESS_RATE)
    assert verdict.evidence["samples"] == 100
    assert verdict.evidence["estimate"] == pytest.approx(0.4)
    low, high = verdict.evidence["interval"]
    assert low <= 0.4 <= high < POLICY.success_floor
    assert len(verdict.reasons) == 2
    assert "trails typescript" in verdict.reasons[1]


@pytest.mark.parametrize(
    ("python", "metric"),
    [
        (SystemEvidence(build=Rate(40, 100)), Metric.BUILD_SUCCESS),
        (SystemEvidence(pr=Rate(10, 100)), Metric.PR_ACCEPTANCE),
    ],
)
def test_every_rate_has_a_floor(python: SystemEvidence, metric: Metric) -> None:
    _fails(decide(_evidence(python, SystemEvidence()), POLICY), Rule.FLOOR, metric)


def test_a_rate_above_its_floor_but_far_behind_typescript_fires_the_comparison() -> None:
    python = SystemEvidence(success=Rate(700, 1000))
    typescript = SystemEvidence(success=Rate(980, 1000))
    verdict = decide(_evidence(python, typescript), POLICY)
    _fails(verdict, Rule.COMPARISON, Metric.SUCCESS_RATE)
    assert verdict.evidence["estimate"] == pytest.approx(-0.28)
    assert verdict.evidence["interval"][1] < -POLICY.margin
    assert verdict.evidence["typescript_samples"] == 1000


def test_typescript_equally_bad_silences_the_comparison_but_not_the_floor() -> None:
    bad = SystemEvidence(success=Rate(220, 400))
    rng = random.Random(1)
    drift = _tracked([rng.random() < 0.55 for _ in range(400)], Rate(220, 400))
    verdict = decide(_evidence(bad, bad, drift), POLICY)
    _fails(verdict, Rule.FLOOR, Metric.SUCCESS_RATE)
    assert len(verdict.reasons) == 1
    assert drift.statistic < POLICY.drift_threshold


def test_slightly_worse_python_within_the_margin_is_left_alone() -> None:
    python = SystemEvidence(success=Rate(820, 1000))
    assert not decide(_evidence(python), POLICY).rollback


@pytest.mark.parametrize(("failures", "rollback"), [(0, False), (2, False), (3, True), (9, True)])
def test_consecutive_failed_health_checks(failures: int, rollback: bool) -> None:
    verdict = decide(_evidence(SystemEvidence(health_failures=failures)), POLICY)
    assert verdict.rollback is rollback
    if rollback:
        _fails(verdict, Rule.HEALTH, Metric.HEALTH_CHECKS)
        assert verdict.evidence["samples"] == failures
        assert verdict.evidence["threshold"] == POLICY.health_check_limit


def test_health_is_checked_first_and_every_reason_is_listed() -> None:
    python = SystemEvidence(success=Rate(0, 100), health_failures=3)
    verdict = decide(_evidence(python), POLICY)
    assert verdict.rule is Rule.HEALTH
    assert len(verdict.reasons) == 3  # health, floor, comparison


def test_p50_duration_above_the_ceiling_rolls_back() -> None:
    durations = Durations.from_seconds([900.0] * 90 + [100.0] * 10, ceiling=600.0)
    verdict = decide(_evidence(SystemEvidence(durations=durations)), POLICY)
    _fails(verdict, Rule.CEILING, Metric.DURATION_P50)
    assert verdict.evidence["estimate"] == 900.0
    assert verdict.evidence["share_above_ceiling"] == pytest.approx(0.9)
    assert verdict.evidence["interval"][0] > 0.5


@pytest.mark.parametrize("slow", [10, 50, 60])
def test_p50_duration_not_credibly_above_the_ceiling_is_left_alone(slow: int) -> None:
    durations = Durations.from_seconds([900.0] * slow + [100.0] * (100 - slow), ceiling=600.0)
    assert not decide(_evidence(SystemEvidence(durations=durations)), POLICY).rollback


def test_durations_from_seconds() -> None:
    assert Durations.from_seconds([], ceiling=600) == Durations(0, None, 0)
    assert Durations.from_seconds([700.0, 100.0, 300.0], ceiling=600) == Durations(3, 300.0, 1)
    assert Durations.from_seconds([1.0, 2.0, 3.0, 700.0], ceiling=600) == Durations(4, 2.5, 1)


def test_a_drop_after_a_healthy_stretch_is_caught_by_the_cusum() -> None:
    rng = random.Random(5)
    baseline, drift, python = Rate(850, 1000), Drift(), Rate()
    for n in range(1, 301):
        success = rng.random() < (0.85 if n <= 200 else 0.55)
        python = Rate(python.successes + success, n)
        drift = track(drift, success=success, baseline=baseline, policy=POLICY)
        verdict = decide(_evidence(SystemEvidence(success=python), drift=drift), POLICY)
        if verdict.rollback:
            break
    assert 200 < n < 300
    _fails(verdict, Rule.DRIFT, Metric.SUCCESS_RATE)
    assert verdict.evidence["statistic"] >= POLICY.drift_threshold
    assert verdict.evidence["reference"] == pytest.approx(0.85 - 1 / (2 * 1000**0.5))
    assert verdict.evidence["samples"] == drift.segment.trials > 0


def test_track_waits_for_typescript_min_samples_but_counts_the_completion() -> None:
    drift = _tracked([False] * 50, Rate(29, 29))
    assert drift == Drift(0.0, 50, Rate(), None)


def test_track_holds_still_when_typescript_is_too_poor_to_drop_below() -> None:
    drift = _tracked([False] * 50, Rate(10, 100))
    assert drift.statistic == 0.0
    assert drift.observations == 50


def test_track_restarts_the_segment_when_the_statistic_returns_to_zero() -> None:
    drift = _tracked([False, False, True], Rate(85, 100))
    assert drift.segment == Rate(1, 3)
    assert _tracked([False] + [True] * 10, Rate(85, 100)).segment == Rate()


@pytest.mark.parametrize(
    "change",
    [
        {"alpha": 0.0},
        {"success_floor": 1.0},
        {"drift_drop": 0.0},
        {"min_samples": 0},
        {"health_check_limit": 0},
        {"drift_threshold": 0.0},
        {"duration_ceiling_seconds": -1.0},
        {"margin": -0.1},
        {"drift_spend_after": 0},
        {"drift_spend_power": -0.1},
    ],
)
def test_policy_rejects_values_out_of_range(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        dataclasses.replace(POLICY, **change)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 0), (2, 1)])
def test_tally_rejects_impossible_counts(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        Rate(successes, trials)
    with pytest.raises(ValueError, match="above_ceiling <= n"):
        Durations(trials, None, successes)


def test_verdict_is_frozen() -> None:
    verdict = decide(_evidence(HEALTHY), POLICY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.rollback = True  # type: ignore[misc]


# -- properties ---------------------------------------------------------------------------------


@st.composite
def tallies(draw: st.DrawFn, max_trials: int = 600) -> Rate:
    trials = draw(st.integers(min_value=0, max_value=max_trials))
    return Rate(draw(st.integers(min_value=0, max_value=trials)), trials)


@st.composite
def systems(draw: st.DrawFn) -> SystemEvidence:
    n = draw(st.integers(min_value=0, max_value=600))
    return SystemEvidence(
        success=draw(tallies()),
        build=draw(tallies()),
        pr=draw(tallies()),
        durations=Durations(n, 300.0, draw(st.integers(min_value=0, max_value=n))),
        health_failures=draw(st.integers(min_value=0, max_value=5)),
    )


@st.composite
def drifts(draw: st.DrawFn) -> Drift:
    outcomes = draw(st.lists(st.booleans(), max_size=80))
    return _tracked(outcomes, draw(tallies()))


def _worse(tally: Rate, fewer: int) -> Rate:
    return Rate(max(0, tally.successes - fewer), tally.trials)


@given(systems(), systems(), drifts(), st.integers(min_value=0, max_value=600), st.data())
def test_more_failures_never_turn_a_rollback_into_no_rollback(
    python: SystemEvidence,
    typescript: SystemEvidence,
    drift: Drift,
    fewer: int,
    data: st.DataObject,
) -> None:
    field = data.draw(st.sampled_from(["success", "build", "pr"]))
    change: dict[str, Any] = {field: _worse(getattr(python, field), fewer)}
    worse = dataclasses.replace(python, **change)
    if decide(_evidence(python, typescript, drift), POLICY).rollback:
        assert decide(_evidence(worse, typescript, drift), POLICY).rollback


@given(systems(), systems(), drifts(), st.integers(min_value=0, max_value=100))
def test_more_slow_runs_never_turn_a_rollback_into_no_rollback(
    python: SystemEvidence, typescript: SystemEvidence, drift: Drift, more: int
) -> None:
    durations = python.durations
    slower = Durations(durations.n, 300.0, min(durations.n, durations.above_ceiling + more))
    if decide(_evidence(python, typescript, drift), POLICY).rollback:
        slow = dataclasses.replace(python, durations=slower)
        assert decide(_evidence(slow, typescript, drift), POLICY).rollback


@given(
    st.integers(min_value=0, max_value=2_000),
    systems(),
    tallies(max_trials=2_000),
    st.integers(min_value=0, max_value=2),
)
def test_a_perfect_record_never_rolls_back(
    n: int, typescript: SystemEvidence, baseline: Rate, health_failures: int
) -> None:
    perfect = Rate(n, n)
    python = SystemEvidence(perfect, perfect, perfect, Durations(n, 1.0, 0), health_failures)
    drift = _tracked([True] * min(n, 200), baseline)
    assert drift.statistic == 0.0
    assert not decide(_evidence(python, typescript, drift), POLICY).rollback


@given(systems(), systems(), drifts())
def test_the_verdict_is_pure_and_its_evidence_is_json(
    python: SystemEvidence, typescript: SystemEvidence, drift: Drift
) -> None:
    verdict = decide(_evidence(python, typescript, drift), POLICY)
    assert verdict == decide(_evidence(python, typescript, drift), POLICY)
    record = json.loads(json.dumps(verdict.evidence, allow_nan=False))
    assert {"rule", "metric", "samples", "estimate", "interval"} <= record.keys()
    assert verdict.rollback is (verdict.rule is not None) is bool(verdict.reasons)
    if record["interval"] is not None:
        low, high = record["interval"]
        assert -1.0 <= low <= high <= 1.0


# Literal thresholds from the module docstring (not from the code): each confidence-sequence
# test gets alpha / 14 (half the 0.01 budget, Bonferroni over seven tests).
def test_each_confidence_sequence_test_gets_alpha_over_fourteen() -> None:
    assert Policy().test_alpha == pytest.approx(0.01 / 14)
    assert Policy(alpha=0.07).test_alpha == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("observations", "statistic", "rollback"),
    [
        (29, 1e9, False),  # one short of min_samples (30)
        (30, 7.25, True),  # exactly min_samples, exactly h: "reaches h" fires
        (30, 7.2499, False),
        (31, 7.25, True),
    ],
)
def test_the_drift_rule_fires_when_the_cusum_reaches_h_after_min_samples(
    observations: int, statistic: float, rollback: bool
) -> None:
    drift = Drift(statistic, observations, Rate(3, 10), reference=0.8)
    verdict = decide(_evidence(HEALTHY, drift=drift), POLICY)
    assert verdict.rollback is rollback
    if rollback:
        _fails(verdict, Rule.DRIFT, Metric.SUCCESS_RATE)
        assert verdict.evidence["statistic"] == statistic
        assert verdict.evidence["threshold"] == 7.25
        assert verdict.evidence["samples"] == 10


# Boundaries written from the docstring: "each needs min_samples (30) on every side it reads".
@pytest.mark.parametrize(
    ("python", "rule", "metric"),
    [
        (SystemEvidence(success=Rate(0, 30)), Rule.FLOOR, Metric.SUCCESS_RATE),
        (SystemEvidence(build=Rate(0, 30)), Rule.FLOOR, Metric.BUILD_SUCCESS),
        (SystemEvidence(durations=Durations(30, 5_000.0, 30)), Rule.CEILING, Metric.DURATION_P50),
    ],
)
def test_exactly_min_samples_is_enough_to_act(
    python: SystemEvidence, rule: Rule, metric: Metric
) -> None:
    verdict = decide(_evidence(python, SystemEvidence()), POLICY)
    _fails(verdict, rule, metric)
    assert verdict.evidence["samples"] == 30


def test_floor_and_ceiling_records_carry_their_thresholds() -> None:
    floor = decide(_evidence(SystemEvidence(pr=Rate(0, 30)), SystemEvidence()), POLICY)
    assert floor.evidence["threshold"] == 0.50
    slow = Durations(30, 5_000.0, 30)
    ceiling = decide(_evidence(SystemEvidence(durations=slow), SystemEvidence()), POLICY)
    assert ceiling.evidence["threshold"] == 600.0
    assert ceiling.evidence["share_above_ceiling"] == 1.0
    low = ceiling.evidence["interval"][0]
    assert ceiling.reasons == (f"python p50 duration above 600 s: share above in [{low:.3f}, 1]",)


def test_the_comparison_needs_min_samples_on_both_sides_and_reads_every_rate() -> None:
    python = SystemEvidence(success=Rate(29, 29), build=Rate(0, 30))
    typescript = SystemEvidence(success=Rate(29, 29), build=Rate(30, 30))
    verdict = decide(_evidence(python, typescript), Policy(build_floor=0.01))
    # success: 29 on each side, too few; build at exactly 30 on each side is compared
    assert verdict.rule is Rule.COMPARISON
    assert verdict.evidence["metric"] == Metric.BUILD_SUCCESS.value
    assert verdict.evidence["typescript_samples"] == 30


def test_the_quiet_record_shows_pythons_success_rate_and_the_cusum() -> None:
    drift = Drift(2.5, 40, Rate(1, 2), reference=0.8)
    verdict = decide(_evidence(SystemEvidence(success=Rate(45, 50)), drift=drift), POLICY)
    assert not verdict.rollback
    evidence = verdict.evidence
    assert (evidence["samples"], evidence["estimate"]) == (50, pytest.approx(0.9))
    low, high = evidence["interval"]
    assert 0 <= low < 0.9 < high <= 1
    assert (evidence["drift_statistic"], evidence["drift_threshold"]) == (2.5, 7.25)


def test_a_duration_at_the_ceiling_does_not_exceed_it() -> None:
    assert Durations.from_seconds([600.0, 600.0, 601.0], ceiling=600.0).above_ceiling == 1


@pytest.mark.parametrize(
    "edge",
    [
        {"min_samples": 1},
        {"health_check_limit": 1},
        {"tightest_at": 1},
        {"drift_threshold": 0.5},
        {"duration_ceiling_seconds": 0.5},
        {"margin": 0.0},
        {"drift_reference_se": 0.0},
        {"drift_spend_after": 1},
        {"drift_spend_power": 0.0},
    ],
)
def test_policy_accepts_the_edges_of_its_ranges(edge: dict[str, Any]) -> None:
    assert dataclasses.replace(POLICY, **edge) is not None


def test_track_caps_typescripts_reference_below_one() -> None:
    perfect = Rate(10_000, 10_000)  # estimate 1.0 less one s.e. of 0.005: capped at 0.99
    drift = track(Drift(), success=True, baseline=perfect, policy=POLICY)
    assert drift.reference == pytest.approx(0.99)


def test_track_starts_at_exactly_min_samples_and_keeps_its_reference_while_holding() -> None:
    started = track(Drift(), success=False, baseline=Rate(27, 30), policy=POLICY)
    assert started.reference is not None and started.statistic > 0
    held = track(started, success=False, baseline=Rate(5, 30), policy=POLICY)  # too poor
    assert (held.reference, held.statistic, held.observations) == (
        started.reference,
        started.statistic,
        2,
    )


# The comparison's numbers below are Robbins' mixture bounds (service.outcomes.stats, tested
# on their own) as the module docstring specifies them: each side's CS at half the test's alpha
# (0.01 / 28), tightest at n = 200.
@pytest.mark.parametrize(("typescript", "rollback"), [(894, True), (893, False)])
def test_the_comparison_edge_is_each_sides_bound_at_half_the_test_alpha(
    typescript: int, rollback: bool
) -> None:
    python = SystemEvidence(success=Rate(700, 1000))
    verdict = decide(_evidence(python, SystemEvidence(success=Rate(typescript, 1000))), POLICY)
    assert verdict.rollback is rollback
    assert verdict.rule is (Rule.COMPARISON if rollback else None)


def test_the_comparison_record_shows_the_difference_its_interval_and_the_threshold() -> None:
    python = SystemEvidence(success=Rate(700, 1000))
    verdict = decide(_evidence(python, SystemEvidence(success=Rate(980, 1000))), POLICY)
    assert verdict.reasons == (
        "python success_rate trails typescript by more than 0.05: "
        "estimate -0.280 in [-0.372, -0.137], n=1000",
    )
    evidence = verdict.evidence
    assert (evidence["samples"], evidence["threshold"], evidence["typescript_samples"]) == (
        1000,
        -0.05,
        1000,
    )


def test_a_python_that_never_succeeds_trails_by_typescripts_whole_rate() -> None:
    python = SystemEvidence(success=Rate(0, 100))
    verdict = decide(_evidence(python, SystemEvidence(success=Rate(90, 100))), POLICY)
    assert verdict.reasons[1] == (
        "python success_rate trails typescript by more than 0.05: "
        "estimate -0.900 in [-1.000, -0.450], n=100"
    )


def test_python_trailing_by_exactly_the_margin_is_allowed() -> None:
    # 700/1000 against 900/1000: python's upper bound is 0.05652158440242172 below
    # typescript's lower one; "python may trail typescript by this much".
    evidence = _evidence(
        SystemEvidence(success=Rate(700, 1000)), SystemEvidence(success=Rate(900, 1000))
    )
    assert not decide(evidence, Policy(margin=0.05652158440242172)).rollback
    assert decide(evidence, Policy(margin=0.0565215844024217)).rule is Rule.COMPARISON


def test_python_trailing_within_the_margin_stays_quiet_however_tight_the_bounds() -> None:
    # 100,000 each: the bounds are +-0.008, python's upper one 0.014 below typescript's lower
    python = SystemEvidence(success=Rate(80_000, 100_000))
    typescript = SystemEvidence(success=Rate(83_000, 100_000))
    assert not decide(_evidence(python, typescript), POLICY).rollback


def test_a_bound_exactly_on_the_floor_is_not_below_it() -> None:
    # 500/1000: the upper bound of python's success rate (alpha / 14) is 0.5692528478539431
    alone = _evidence(SystemEvidence(success=Rate(500, 1000)), SystemEvidence())
    assert not decide(alone, Policy(success_floor=0.5692528478539431)).rollback
    assert decide(alone, Policy(success_floor=0.57)).rule is Rule.FLOOR


def test_a_share_above_the_ceiling_bounded_at_exactly_one_half_is_not_credibly_above() -> None:
    # 60 of 80 durations above the ceiling; at this alpha the share's lower bound is exactly 0.5
    slow = _evidence(SystemEvidence(durations=Durations(80, 900.0, 60)), SystemEvidence())
    assert not decide(slow, Policy(alpha=0.006066931083479443)).rollback
    assert decide(slow, Policy(alpha=0.0061)).rule is Rule.CEILING


def test_track_takes_one_worst_case_standard_error_off_typescripts_rate() -> None:
    # one completion, 1/1: p0 = 1.0 - 1 / (2 * sqrt(1)) = 0.5
    drift = track(Drift(), success=True, baseline=Rate(1, 1), policy=Policy(min_samples=1))
    assert drift.reference == 0.5


def test_track_holds_still_when_typescript_never_succeeds() -> None:
    drift = track(Drift(), success=False, baseline=Rate(0, 30), policy=POLICY)
    assert drift == Drift(0.0, 1, Rate(), None)


def test_track_runs_when_the_alternative_lands_exactly_on_the_lowest_rate() -> None:
    # p0 = 1/50 = 0.02 (no slack), p1 = p0 - 0.01 = 0.01: the lowest rate the CUSUM takes
    policy = Policy(drift_reference_se=0.0, drift_drop=0.01)
    drift = track(Drift(), success=False, baseline=Rate(1, 50), policy=policy)
    assert drift.reference == 0.02
    assert drift.statistic == pytest.approx(math.log(0.99 / 0.98))


# The drift rule's threshold spends its budget (module docstring): h0 = 7.25 up to n0 = 500
# python completions, then 7.25 + 1.5 log(n / 500): 8.290 at 1,000, 10.704 at 5,000.
@pytest.mark.parametrize(
    ("observations", "statistic", "rollback"),
    [
        (500, 7.25, True),
        (501, 7.25, False),
        (1_000, 8.289, False),
        (1_000, 8.29, True),
        (5_000, 10.703, False),
        (5_000, 10.704, True),
    ],
)
def test_the_drift_threshold_grows_with_pythons_completions(
    observations: int, statistic: float, rollback: bool
) -> None:
    drift = Drift(statistic, observations, Rate(3, 10), reference=0.8)
    verdict = decide(_evidence(HEALTHY, drift=drift), POLICY)
    assert verdict.rollback is rollback
    h = verdict.evidence["threshold" if rollback else "drift_threshold"]
    expected = {500: 7.25, 501: 7.252997, 1_000: 8.289721, 5_000: 10.703878}[observations]
    assert h == pytest.approx(expected, abs=1e-6)
    if rollback:
        assert f"CUSUM {statistic:.2f} >= {expected:.2f}," in verdict.reasons[0]


def test_a_spend_power_of_zero_keeps_a_fixed_threshold() -> None:
    fixed = Policy(drift_spend_power=0.0)
    assert fixed.drift_threshold_at(10**6) == 7.25
    drift = Drift(7.25, 10**6, Rate(3, 10), reference=0.8)
    assert decide(_evidence(HEALTHY, drift=drift), fixed).rule is Rule.DRIFT
    assert not decide(_evidence(HEALTHY, drift=drift), POLICY).rollback


def test_the_drift_reason_names_the_reference_the_statistic_and_the_suspect_stretch() -> None:
    drift = Drift(7.5, 40, Rate(3, 10), reference=0.8)
    verdict = decide(_evidence(HEALTHY, drift=drift), POLICY)
    # 3/10: the textbook 95 % Wilson interval [0.108, 0.603]
    assert verdict.reasons == (
        "python success rate fell below typescript's reference 0.80: "
        "CUSUM 7.50 >= 7.25, estimate 0.300 in [0.108, 0.603], n=10",
    )
