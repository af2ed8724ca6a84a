"""Jittered exponential backoff: the pure bounds, and the retry loop with an injected sleep."""

from __future__ import annotations

import random

import pytest

from flags.model import System
from service.errors import AgentRejected, AgentRetryable
from service.pipeline.retry import RetryPolicy, backoff_ceiling, backoff_delay, retry

POLICY = RetryPolicy(max_attempts=4, base_seconds=0.5, cap_seconds=3.0)


def _retryable() -> AgentRetryable:
    return AgentRetryable("503", system=System.PYTHON, agent_status=503)


def test_ceiling_doubles_from_base_up_to_cap() -> None:
    ceilings = [backoff_ceiling(POLICY, attempt) for attempt in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_ceiling_of_a_huge_attempt_number_is_the_cap() -> None:
    assert backoff_ceiling(POLICY, 10_000) == 3.0


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        delays = [backoff_delay(POLICY, attempt, draw=rng.random) for _ in range(200)]
        assert all(0 <= delay <= backoff_ceiling(POLICY, attempt) <= 3.0 for delay in delays)
        assert max(delays) > 0.5 * backoff_ceiling(POLICY, attempt)  # it really spreads


def test_delay_is_the_draw_times_the_ceiling() -> None:
    assert backoff_delay(POLICY, 3, draw=lambda: 0.0) == 0.0
    assert backoff_delay(POLICY, 3, draw=lambda: 0.25) == 0.5


@pytest.mark.parametrize(
    "policy", [{"max_attempts": 0}, {"base_seconds": -1.0}, {"cap_seconds": -0.5}]
)
def test_nonsense_policies_are_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**policy)  # type: ignore[arg-type]


def test_attempts_are_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        backoff_ceiling(POLICY, 0)


class _Flaky:
    """Fails with the given errors in order, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_retryable_failures_are_retried_with_backoff_until_success() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    call = _Flaky(_retryable(), _retryable())
    assert await retry(call, POLICY, sleep=sleep, draw=lambda: 1.0) == "ok"
    assert call.calls == 3
    assert pauses == [0.5, 1.0]


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    errors = [_retryable() for _ in range(10)]
    call = _Flaky(*errors)
    with pytest.raises(AgentRetryable) as raised:
        await retry(call, POLICY, sleep=sleep)
    assert call.calls == POLICY.max_attempts
    assert raised.value is errors[POLICY.max_attempts - 1]
    assert len(pauses) == POLICY.max_attempts - 1


async def test_rejections_are_not_retried() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("no pause expected")

    call = _Flaky(AgentRejected("400", system=System.TYPESCRIPT, agent_status=400))
    with pytest.raises(AgentRejected):
        await retry(call, POLICY, sleep=sleep)
    assert call.calls == 1


async def test_other_errors_are_not_retried() -> None:
    call = _Flaky(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        await retry(call, POLICY)
    assert call.calls == 1


async def test_a_single_attempt_policy_never_sleeps() -> None:
    call = _Flaky(_retryable())
    with pytest.raises(AgentRetryable):
        await retry(call, RetryPolicy(max_attempts=1))
    assert call.calls == 1
