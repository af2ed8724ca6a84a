"""The provider's fetch of Unleash's flags: ``/api/client/features`` (httpx, with ETags) into a
:class:`~flags.flag_cache.FlagCache`, and what the fetches say about freshness.

:class:`FeatureFetcher` counts every fetch in :class:`FetchStats` and answers
:meth:`~FeatureFetcher.freshness` from the evidence: ``ready`` while fetches succeed, ``stale``
when the last fetch failed or is older than ``stale_after`` but flags are known, ``error`` when
no flags were ever known. :class:`~flags.provider.UnleashFlagProvider` turns that into
OpenFeature's status and events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from UnleashClient.constants import ETAG

from flags.flag_cache import FlagCache
from flags.secret import Secret
from flags.validation import FlagProblem, flag_problems

__all__ = ["FeatureFetcher", "FetchStats"]

_log = logging.getLogger("switchyard.flags")


@dataclass
class FetchStats:
    """What the provider knows about its own freshness; shown on health and status pages."""

    status: str = "not_ready"
    fetches_ok: int = 0
    fetches_failed: int = 0
    last_success: float | None = None  # wall-clock seconds
    last_error: str | None = None
    loaded_from_disk: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "fetches_ok": self.fetches_ok,
            "fetches_failed": self.fetches_failed,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "loaded_from_disk": self.loaded_from_disk,
        }


class FeatureFetcher:
    """Fetches the features payload into ``cache``; the flag names and problems it holds."""

    def __init__(
        self,
        *,
        url: str,
        client_token: Secret,
        app_name: str,
        cache: FlagCache,
        http: httpx.AsyncClient,
        request_timeout: float,
        stale_after: float,
        clock: Callable[[], float],
    ) -> None:
        self.url = url
        self._token = client_token
        self._app_name = app_name
        self._cache = cache
        self._http = http
        self._timeout = request_timeout
        self._stale_after = stale_after
        self._clock = clock
        self.stats = FetchStats(loaded_from_disk=cache.features is not None)
        self.names = _flag_names(cache.features)
        self.problems = _problems(cache.features)

    async def fetch(self, *, conditional: bool) -> bool | None:
        """True when new flags were stored, False when Unleash answered 304 (``conditional``:
        If-None-Match), None when the fetch failed (``stats.last_error`` says why)."""
        headers = {
            "Authorization": self._token.reveal(),
            "UNLEASH-APPNAME": self._app_name,
            "Content-Type": "application/json",
        }
        etag = self._cache.get(ETAG, "") if conditional and self._cache.features else ""
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = await self._http.get(
                f"{self.url}/api/client/features", headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            self._failed(f"{type(error).__name__} fetching flags")
            return None
        if response.status_code == 304:
            self._succeeded()
            return False
        if response.status_code != 200:
            self._failed(f"HTTP {response.status_code} fetching flags")
            return None
        names = _features(response.text)
        if names is None:  # e.g. a wrong URL whose server answers its web UI's HTML with 200
            self._failed("the answer is not Unleash's feature list")
            return None
        self._cache.store(response.text, response.headers.get("etag", ""))
        self.names = names
        self.problems = _problems(response.text)
        self._succeeded()
        return True

    def _succeeded(self) -> None:
        self.stats.fetches_ok += 1
        self.stats.last_success = self._clock()
        self.stats.last_error = None

    def _failed(self, reason: str) -> None:
        self.stats.fetches_failed += 1
        self.stats.last_error = reason
        _log.warning(
            "flags: %s; serving %s",
            reason,
            "last known flags" if self._cache.features else "defaults",
        )

    def freshness(self) -> str:
        """``ready``, ``stale`` or ``error`` from the fetches so far and the clock."""
        if self._cache.features is None:
            return "error"
        if self.stats.last_error is not None or self._age() > self._stale_after:
            return "stale"
        return "ready"

    def _age(self) -> float:
        if self.stats.last_success is None:
            return float("inf")
        return self._clock() - self.stats.last_success


def _problems(payload: str | None) -> tuple[FlagProblem, ...]:
    """What :mod:`flags.validation` finds in a features payload (none when it is no payload)."""
    try:
        data = json.loads(payload) if payload else None
    except ValueError:
        return ()
    return tuple(flag_problems(data)) if isinstance(data, dict) else ()


def _flag_names(payload: str | None) -> frozenset[str]:
    return (_features(payload) if payload else None) or frozenset()


def _features(payload: str) -> frozenset[str] | None:
    """The flag names of a ``/api/client/features`` answer; None if it is not one."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        return None
    return frozenset(str(feature.get("name")) for feature in features)
