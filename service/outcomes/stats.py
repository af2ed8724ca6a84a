"""Pure statistics for the watchdog and the metrics display: no I/O, no state.

**Wilson score interval** (Wilson, 1927), for display. For ``k`` successes in ``n`` trials,
``p = k / n``::

    centre = (p + z^2/2n) / (1 + z^2/n)
    half   = z * sqrt(p (1 - p)/n + z^2/4n^2) / (1 + z^2/n)

A fixed-``n`` interval: fine to show, not for deciding after every completion.

**Confidence sequence for a mean in [0, 1]**: Robbins' normal-mixture boundary (1970), in the
form of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic
confidence sequences" (Annals of Statistics, 2021). Observations in [0, 1] are sub-Gaussian with
variance proxy ``s2 = 1/4`` (Hoeffding's lemma). With ``S_n = sum(X_i - mu)``, ``V_n = s2 n``::

    P( exists n >= 1:  |S_n| >= sqrt((V_n + rho) * log((V_n + rho) / (rho * alpha^2))) ) <= alpha

so ``mu`` lies in ``mean_n +- radius(n)`` for every ``n`` at once with probability
``>= 1 - alpha``: the bound may be checked after every completion without inflating the error
rate. ``rho`` sets the ``n`` where the boundary is tightest: :func:`mixture_rho` solves Howard et
al.'s optimality condition ``m/rho = 2 log(1/alpha) + log(1 + m/rho)`` at ``m = s2 n_opt``.

**Page's CUSUM** (Page, 1954) for a drop of a Bernoulli rate from ``p0`` to ``p1 < p0``::

    llr(x) = x log(p1/p0) + (1 - x) log((1 - p1)/(1 - p0))
    S_t    = max(0, S_{t-1} + llr(x_t)),      alarm when S_t >= h

O(1) per observation. ``exp(S_t)`` is at most the Shiryaev-Roberts statistic ``R_t``, and while
every observation has mean ``>= p0``, ``R_t + T - t`` is a non-negative supermartingale for
``t <= T``; Ville's inequality then gives ``P(exists t <= T: S_t >= h) <= T exp(-h)`` (the
e-detector bound of Shin, Ramdas & Rinaldo, 2023). That bound is loose, so the watchdog's
threshold is calibrated by simulation (``bench/watchdog_sim.py``).

**Spending the CUSUM's false-alarm budget over an unbounded horizon.** With a fixed ``h`` the
CUSUM is a renewal process: with no change it alarms at a roughly constant rate, about one per
``ARL0 ~ e^h / c`` observations (Siegmund, "Sequential Analysis", 1985, ch. X), so the chance of a
false alarm within ``T`` observations grows like ``T / ARL0``: a threshold calibrated for 500
completions false-alarms in half of all rollouts that feed it 20,000. Lorden (1971) bounds what
any detector can do: with ``ARL0 >= gamma`` the worst-case delay is at least
``log(gamma) / KL(1 + o(1))``, and the CUSUM attains it, so delay and the horizon's false-alarm
rate trade one for one on a log scale: ``log`` of the horizon more nats of threshold, ``1/KL``
observations of delay per nat. :func:`spending_threshold` spends the budget instead of renewing
it (Lai, "Information bounds and quick detection of parameter changes in stochastic systems",
IEEE Trans. Inf. Theory 1998, asks for a bounded false-alarm probability per window rather than
an ARL)::

    h(n) = h0                          for n <= n0
    h(n) = h0 + k log(n / n0)          for n >  n0

The alarm rate at observation ``n`` is proportional to ``e^-h(n)``, so beyond ``n0`` it falls
like ``(n0/n)^k``; for ``k > 1`` its sum over an unbounded horizon converges
(``integral from n0 of (n0/n)^k dn = n0/(k - 1)``): the probability of a false alarm *ever* is
about ``k/(k - 1)`` times what the first ``n0`` observations spend. The same ``log n`` growth is
what the e-detectors of Shin, Ramdas & Rinaldo pay for a change at ``n`` (a mixture over change
points with weights ``w_n ~ n^-k`` alarms at ``log(1/alpha) + log(1/w_n)``). The price is
explicit: a change at observation ``n > n0`` is detected about ``k log(n/n0) / KL`` observations
later than with ``h0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "HOEFFDING_VARIANCE",
    "Rate",
    "bernoulli_llr",
    "confidence_sequence",
    "cusum_step",
    "mixture_radius",
    "mixture_rho",
    "spending_threshold",
    "wilson_interval",
]

HOEFFDING_VARIANCE = 0.25
"""Variance proxy of any random variable in [0, 1] (Hoeffding's lemma)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``successes`` out of ``trials``: completions that succeeded, PRs merged out of closed,
    builds green out of concluded, shadow comparisons that disagreed. The metrics show it with
    its Wilson interval; the watchdog and the rollout plan test it with confidence sequences."""

    successes: int = 0
    trials: int = 0

    def __post_init__(self) -> None:
        _check_counts(self.successes, self.trials)

    @property
    def estimate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % Wilson interval (for display)."""
        return wilson_interval(self.successes, self.trials)

    def add(self, success: bool) -> Rate:
        """One more trial."""
        return Rate(self.successes + success, self.trials + 1)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "estimate": self.estimate,
            "n": self.trials,
            "successes": self.successes,
            "ci95": [low, high],
        }


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for ``successes / trials``; ``(0, 1)`` with no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


@lru_cache(maxsize=64)
def mixture_rho(n_opt: int, alpha: float, variance: float = HOEFFDING_VARIANCE) -> float:
    """The mixture parameter ``rho`` making the boundary tightest at ``n_opt`` observations.

    Solves ``y = 2 log(1/alpha) + log(1 + y)`` by fixed-point iteration (a contraction by
    ``1/(1 + y)`` per step) and returns ``rho = variance * n_opt / y``.
    """
    if n_opt < 1 or not 0 < alpha < 1:
        raise ValueError(f"need n_opt >= 1 and 0 < alpha < 1, got {n_opt}, {alpha}")
    base = 2 * math.log(1 / alpha)
    y, previous = base, 0.0
    while abs(y - previous) > 1e-14 * y:
        y, previous = base + math.log1p(y), y
    return variance * n_opt / y


def mixture_radius(
    trials: int, alpha: float, *, rho: float, variance: float = HOEFFDING_VARIANCE
) -> float:
    """Half-width of the normal-mixture confidence sequence for the mean after ``trials``."""
    if trials <= 0:
        return math.inf
    intrinsic = variance * trials + rho
    return math.sqrt(intrinsic * math.log(intrinsic / (rho * alpha * alpha))) / trials


def confidence_sequence(
    successes: int, trials: int, alpha: float, *, rho: float
) -> tuple[float, float]:
    """Time-uniform ``1 - alpha`` bounds for a Bernoulli rate, clipped to [0, 1]."""
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    estimate = successes / trials
    radius = mixture_radius(trials, alpha, rho=rho)
    return max(0.0, estimate - radius), min(1.0, estimate + radius)


def bernoulli_llr(success: bool, p0: float, p1: float) -> float:
    """Log-likelihood ratio of one Bernoulli outcome, rate ``p1`` against rate ``p0``."""
    if not (0 < p0 < 1 and 0 < p1 < 1):
        raise ValueError(f"rates must be in (0, 1), got p0={p0}, p1={p1}")
    return math.log(p1 / p0) if success else math.log((1 - p1) / (1 - p0))


def cusum_step(statistic: float, success: bool, p0: float, p1: float) -> float:
    """One step of Page's CUSUM for a drop from ``p0`` to ``p1``: ``max(0, S + llr)``."""
    return max(0.0, statistic + bernoulli_llr(success, p0, p1))


def spending_threshold(observations: int, *, base: float, after: int, power: float) -> float:
    """The CUSUM's threshold after ``observations``: ``base`` up to ``after``, then
    ``base + power * log(observations / after)`` (see the module docstring)."""
    if after < 1 or power < 0:
        raise ValueError(f"need after >= 1 and power >= 0, got {after}, {power}")
    if observations <= after:
        return base
    return base + power * math.log(observations / after)


def _check_counts(successes: int, trials: int) -> None:
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
