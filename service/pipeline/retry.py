"""Retrying an agent call with jittered exponential backoff ("full jitter").

The pure part: attempt ``n`` (1-based) that failed is followed by a pause drawn uniformly from
``[0, min(cap, base * 2 ** (n - 1))]`` (AWS's "Exponential Backoff and Jitter": full jitter
spreads the retries of many workers best). :func:`retry` runs a call until it succeeds, raises
something other than :class:`~service.errors.AgentRetryable`, or has been tried
``max_attempts`` times; then the last error propagates unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from service.errors import AgentRetryable

__all__ = ["RetryPolicy", "backoff_ceiling", "backoff_delay", "retry"]

_log = logging.getLogger("switchyard.retry")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry: ``max_attempts`` tries in all (the first
    included), pauses growing from ``base_seconds`` by doubling up to ``cap_seconds``."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("base_seconds and cap_seconds must not be negative")


def backoff_ceiling(policy: RetryPolicy, attempt: int) -> float:
    """The longest pause after failed attempt ``attempt`` (1-based): ``min(cap, base*2^(n-1))``."""
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    exponent = min(attempt - 1, 64)  # 2**64 * base is past any sensible cap
    return float(min(policy.cap_seconds, policy.base_seconds * 2**exponent))


def backoff_delay(
    policy: RetryPolicy, attempt: int, *, draw: Callable[[], float] = random.random
) -> float:
    """The pause after failed attempt ``attempt``: uniform in ``[0, ceiling]``. ``draw``
    returns a number in ``[0, 1)`` (injectable for tests)."""
    return draw() * backoff_ceiling(policy, attempt)


async def retry(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """``await call()`` until it returns; retry only :class:`AgentRetryable`, at most
    ``policy.max_attempts`` tries in all, then re-raise the last error."""
    attempt = 1
    while True:
        try:
            return await call()
        except AgentRetryable as error:
            if attempt >= policy.max_attempts:
                raise
            pause = backoff_delay(policy, attempt, draw=draw)
            _log.info(
                "attempt %d/%d failed (%s); retrying in %.2f s",
                attempt,
                policy.max_attempts,
                error,
                pause,
            )
            await sleep(pause)
            attempt += 1
