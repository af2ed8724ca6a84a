"""gidgethub's httpx adapter with GitHub's rate limits honoured: it waits, it never drops.

gidgethub (6.x) calls two hooks around every request: ``manage_rate_limit`` before sending and
``handle_rate_limit_error`` when the answer is an error. :class:`RateLimitedTransport` fills
them with :mod:`service.github.api.ratelimit`: before a request, it waits for the reset if the
quota is known to be spent; after a 403/429 rate-limit answer or a 502/503/504, it waits as told
and retries the same request. Past the policy's ``max_total_wait`` for one request it raises
:class:`~service.errors.GitHubRateLimited` with the time to try again, so a caller that keeps
its operations (a stream, a reconciler run) retries later. Sleeping and the clock are injected.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable

import httpx
from gidgethub import HTTPException
from gidgethub.httpx import GitHubAPI

from service.errors import GitHubRateLimited
from service.escape import escape
from service.github.api.ratelimit import RateLimitPolicy, wait_after, wait_before

__all__ = ["RateLimitedTransport", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]

_log = logging.getLogger("switchyard.github")
# Seconds already waited for the request under way in this task (one request at a time each).
_WAITED: contextvars.ContextVar[float] = contextvars.ContextVar("github_waited", default=0.0)


class RateLimitedTransport(GitHubAPI):
    """One GitHub identity's requests (rate limits are counted per identity)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        requester: str,
        policy: RateLimitPolicy,
        sleep: Sleep,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(http, requester, base_url=base_url)
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self.waited_seconds = 0.0
        self.waits = 0

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def _wait(self, seconds: float, why: str, url: str) -> None:
        _log.warning("GitHub %s: waiting %.1f s before %s", why, seconds, escape(url))
        self.waits += 1
        self.waited_seconds += seconds
        await self.sleep(seconds)

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        limit = self.rate_limit
        if limit is None:
            return
        delay = wait_before(
            remaining=limit.remaining,
            reset_epoch=limit.reset_datetime.timestamp(),
            now=self._clock(),
        )
        if delay > 0:
            self.rate_limit = None  # the next answer tells the new quota
            await self._wait(delay, "quota spent", f"{method} {url}")

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        if attempt == 1:
            _WAITED.set(0.0)
        status = int(exception.status_code)
        now = self._clock()
        delay = wait_after(
            status=status,
            headers=exception.headers,
            message=str(exception),
            attempt=attempt,
            now=now,
            policy=self._policy,
        )
        if delay is None:
            return False
        waited = _WAITED.get()
        if waited + delay > self._policy.max_total_wait:
            raise GitHubRateLimited(
                f"GitHub still refuses {method} {escape(url)} ({status}) after {waited:.0f} s",
                github_status=status,
                retry_at=now + delay,
            )
        _WAITED.set(waited + delay)
        await self._wait(delay, f"answered {status}", f"{method} {url}")
        return True
