"""The stand-in's rate limits: GitHub's headers on every answer, and both kinds of refusal.

Every authenticated answer carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Used``,
``-Reset`` (unix seconds) and ``-Resource: core``, counted per identity (App, installation,
token) over a window of ``window`` seconds (GitHub: an hour). Past the limit: 403 with
``X-RateLimit-Remaining: 0`` until the reset (primary limit). A secondary limit refuses with
``secondary_status`` (403 by default; GitHub also uses 429) and ``Retry-After``: either more
than ``secondary_limit`` requests within ``secondary_window`` seconds, or the next
``force_secondary`` requests whatever their pace (set by a test or ``/_standin/limits``).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import Response

from service.devtools.github_standin.errors import github_error

__all__ = ["LimitSettings", "StandinLimits"]

_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass(kw_only=True)
class LimitSettings:
    limit: int = 5000
    window: float = 3600.0
    secondary_limit: int | None = None
    secondary_window: float = 60.0
    secondary_retry_after: int = 60
    secondary_status: int = 403
    force_secondary: int = 0


@dataclass
class _Bucket:
    started: float
    used: int = 0
    recent: collections.deque[float] = field(default_factory=collections.deque)


class StandinLimits:
    def __init__(self, *, clock: Callable[[], float], settings: LimitSettings | None = None):
        self._clock = clock
        self.settings = settings or LimitSettings()
        self._buckets: dict[str, _Bucket] = {}
        self.refused = collections.Counter[str]()

    def check(self, bucket_name: str) -> tuple[Response | None, dict[str, str]]:
        """A refusal (or None) and the rate-limit headers for one request of ``bucket_name``."""
        now = self._clock()
        conf = self.settings
        bucket = self._buckets.get(bucket_name)
        if bucket is None or now >= math.ceil(bucket.started + conf.window):
            bucket = self._buckets[bucket_name] = _Bucket(started=now)
        reset = math.ceil(bucket.started + conf.window)
        if bucket.used >= conf.limit:
            self.refused["primary"] += 1
            headers = _headers(conf.limit, 0, bucket.used, reset)
            return github_error(
                403, f"API rate limit exceeded for {bucket_name}.", headers=headers
            ), headers
        while bucket.recent and bucket.recent[0] <= now - conf.secondary_window:
            bucket.recent.popleft()
        too_fast = conf.secondary_limit is not None and len(bucket.recent) >= conf.secondary_limit
        if conf.force_secondary > 0 or too_fast:
            conf.force_secondary = max(0, conf.force_secondary - 1)
            self.refused["secondary"] += 1
            headers = _headers(conf.limit, conf.limit - bucket.used, bucket.used, reset)
            refusal = github_error(
                conf.secondary_status,
                _SECONDARY,
                headers={**headers, "Retry-After": str(conf.secondary_retry_after)},
            )
            return refusal, headers
        bucket.used += 1
        bucket.recent.append(now)
        return None, _headers(conf.limit, conf.limit - bucket.used, bucket.used, reset)


def _headers(limit: int, remaining: int, used: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Used": str(used),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Resource": "core",
    }
