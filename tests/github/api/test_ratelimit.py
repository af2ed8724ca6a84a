from __future__ import annotations

import pytest

from service.github.api.ratelimit import RateLimitPolicy, wait_after, wait_before

POLICY = RateLimitPolicy()
NOW = 1_000_000.0


def after(
    status: int, headers: dict[str, str], message: str = "", attempt: int = 1
) -> float | None:
    return wait_after(
        status=status, headers=headers, message=message, attempt=attempt, now=NOW, policy=POLICY
    )


def test_retry_after_is_obeyed_first() -> None:
    assert after(403, {"retry-after": "7", "x-ratelimit-remaining": "0"}) == 7.0
    assert after(429, {"retry-after": "0"}) == 0.0


def test_a_spent_primary_quota_waits_until_the_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)}
    assert after(403, headers) == 121.0
    assert after(429, headers) == 121.0


def test_a_secondary_limit_waits_a_minute_then_doubles() -> None:
    message = "You have exceeded a secondary rate limit."
    remaining = {"x-ratelimit-remaining": "4000"}
    assert after(403, remaining, message, attempt=1) == 60.0
    assert after(403, remaining, message, attempt=2) == 120.0
    assert after(429, {}, attempt=3) == 240.0


def test_a_forbidden_that_is_no_rate_limit_is_given_up() -> None:
    assert after(403, {"x-ratelimit-remaining": "4000"}, "Resource not accessible") is None
    assert after(404, {}) is None
    assert after(422, {"retry-after": "1"}) is None


def test_server_errors_are_retried_a_few_times_only() -> None:
    waits = [after(503, {}, attempt=n) for n in range(1, 5)]
    assert waits == [1.0, 2.0, 4.0, None]


@pytest.mark.parametrize("bad", ["soon", "nan", "inf", ""])
def test_malformed_headers_are_ignored(bad: str) -> None:
    assert after(403, {"retry-after": bad}, "Resource not accessible") is None


def test_waits_never_exceed_the_single_wait_bound() -> None:
    assert after(403, {"retry-after": "999999"}) == POLICY.max_single_wait


def test_wait_before_only_when_the_quota_is_known_spent() -> None:
    assert wait_before(remaining=None, reset_epoch=None, now=NOW) == 0.0
    assert wait_before(remaining=0, reset_epoch=NOW + 50, now=NOW) == 0.0
    assert wait_before(remaining=-1, reset_epoch=NOW + 50, now=NOW) == 51.0
    assert wait_before(remaining=-1, reset_epoch=NOW - 5, now=NOW) == 0.0
