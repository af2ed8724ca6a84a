"""How long to wait for GitHub's rate limits: pure functions of a response and the clock.

GitHub's documented rules, in the order :func:`wait_after` applies them to a 403 or 429:

1. a ``Retry-After`` header: wait that many seconds;
2. ``X-RateLimit-Remaining: 0``: wait until ``X-RateLimit-Reset`` (unix seconds);
3. otherwise a secondary rate limit (GitHub says so in the message, or it is a 429): wait at
   least a minute, doubling on each further refusal of the same request.

Any other 403 (a missing permission) is not a rate limit: :func:`wait_after` returns ``None``
and the caller raises. 502, 503 and 504 are retried a few times with a short backoff.
:func:`wait_before` keeps a client that knows its quota is spent from asking at all until the
reset. Nothing here sleeps; :mod:`service.github.api.client` does, through an injected sleep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RateLimitPolicy", "wait_after", "wait_before"]

_TRANSIENT = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitPolicy:
    """Bounds on waiting; past ``max_total_wait`` seconds for one request the client gives up
    with :class:`~service.errors.GitHubRateLimited` and the caller keeps the operation."""

    secondary_wait: float = 60.0  # GitHub: "wait for at least one minute"
    max_single_wait: float = 3600.0  # a primary reset is at most an hour away
    max_total_wait: float = 3600.0
    server_error_retries: int = 3
    server_error_wait: float = 1.0


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None  # no NaN, no inf


def wait_before(*, remaining: int | None, reset_epoch: float | None, now: float) -> float:
    """Seconds to hold a request back: until the reset when the quota is known to be spent.

    ``remaining`` is what the last answer said is left, less the requests sent since.
    """
    if remaining is None or reset_epoch is None or remaining >= 0 or reset_epoch < now:
        return 0.0
    return max(0.0, reset_epoch - now) + 1.0  # a second more: clocks differ


def wait_after(
    *,
    status: int,
    headers: Mapping[str, str],
    message: str,
    attempt: int,
    now: float,
    policy: RateLimitPolicy,
) -> float | None:
    """Seconds to wait before retrying a refused request, or ``None`` to give up on it.

    ``headers`` must answer lowercase names; ``attempt`` counts the tries so far (1 = first).
    """
    if status in _TRANSIENT:
        if attempt > policy.server_error_retries:
            return None
        return min(policy.server_error_wait * 2.0 ** (attempt - 1), 30.0)
    if status not in {403, 429}:
        return None
    retry_after = _number(headers, "retry-after")
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_single_wait)
    remaining = _number(headers, "x-ratelimit-remaining")
    reset = _number(headers, "x-ratelimit-reset")
    if remaining == 0 and reset is not None:
        return min(max(reset - now, 0.0) + 1.0, policy.max_single_wait)
    if status == 429 or "rate limit" in message.lower():
        return min(policy.secondary_wait * 2.0 ** (attempt - 1), policy.max_single_wait)
    return None
