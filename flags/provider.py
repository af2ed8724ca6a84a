"""An OpenFeature provider over UnleashClient that is honest about where its flags come from.

Why not the contrib ``openfeature-provider-unleash``: it cannot set the Unleash environment or
the refresh interval, it cannot refetch on demand, and it never reports STALE. This provider
fetches ``/api/client/features`` itself (httpx, with ETags), hands the payload to UnleashClient
through a :class:`~flags.flag_cache.FlagCache` and evaluates with UnleashClient, so the
bucketing is exactly Unleash's. It polls every ``refresh_seconds`` and refetches at once when
:meth:`refresh` is called (Switchyard's broadcast and Unleash's webhook addon both do).

Status follows the evidence: READY while fetches succeed, STALE when the last fetch failed or
is older than ``stale_after`` but flags are known (evaluation continues from them), ERROR when
no flags were ever known (evaluation returns the caller's default with reason ERROR).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, FlagNotFoundError, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata, ProviderStatus
from UnleashClient.clients.unleash_client import UnleashClient
from UnleashClient.constants import ETAG
from UnleashClient.utils import InstanceAllowType

from flags.flag_cache import FlagCache
from flags.secret import Secret
from flags.validation import FlagProblem, flag_problems

__all__ = ["FetchStats", "UnleashFlagProvider"]

_log = logging.getLogger("switchyard.flags")
# UnleashClient warns "no cached features" whenever it is built before a fetch; here that is
# always so (this provider fetches), and the provider reports its own status instead.
logging.getLogger("UnleashClient").setLevel(logging.ERROR)


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


class UnleashFlagProvider(AbstractProvider):
    """OpenFeature provider: Unleash flags fetched by us, evaluated by UnleashClient."""

    def __init__(
        self,
        *,
        url: str,
        client_token: Secret,
        app_name: str,
        environment: str,
        refresh_seconds: float = 5.0,
        stale_after: float | None = None,
        cache_dir: Path | None = None,
        http: httpx.AsyncClient | None = None,
        request_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._url = url.rstrip("/")
        self._token = client_token
        self._app_name = app_name
        self._environment = environment
        self.refresh_seconds = refresh_seconds
        self._stale_after = stale_after if stale_after is not None else 3 * refresh_seconds
        self._timeout = request_timeout
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()
        self._cache = FlagCache(cache_dir)
        self.stats = FetchStats(loaded_from_disk=self._cache.features is not None)
        self._client = UnleashClient(
            url=self._url + "/api",
            app_name=app_name,
            environment=environment,
            refresh_interval=3600,
            disable_metrics=True,
            disable_registration=True,
            cache=self._cache,
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        )
        self._client.initialize_client(fetch_toggles=False)
        self._names = _flag_names(self._cache.features)
        self._problems = _problems(self._cache.features)
        self._lock = asyncio.Lock()
        self._requested = 0
        self._completed = 0
        self._poller: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if self._cache.features is None:
            raise ProviderNotReadyError("no flags known yet: Unleash unreachable and no cache")

    async def start(self) -> None:
        """First fetch, then poll in the background."""
        await self.refresh()
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="switchyard-flag-poller")

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._owns_http:
            await self._http.aclose()
        self._client.destroy()

    def problems(self) -> list[FlagProblem]:
        """What Switchyard cannot interpret in the flags held (:mod:`flags.validation`)."""
        return list(self._problems)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every fetch that brought new flags."""
        self._listeners.append(listener)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh(conditional=True)
            except Exception:  # the poller must outlive any surprise
                _log.exception("flag poll failed")

    # --- fetching ----------------------------------------------------------------------------

    async def refresh(self, *, conditional: bool = False) -> bool:
        """Fetch now; concurrent calls coalesce. True if the flags are fresh afterwards.

        Polls are ``conditional`` (If-None-Match). A refetch on a change notification is not:
        Unleash advances the revision behind its ETag only once a second, so a conditional
        fetch right after a change can answer 304 with the old flags.
        """
        self._requested += 1
        wanted = self._requested
        async with self._lock:
            if self._completed >= wanted:
                return self.stats.status == "ready"
            covering = self._requested
            ok = await self._fetch(conditional=conditional)
            self._completed = covering
            return ok

    async def _fetch(self, *, conditional: bool) -> bool:
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
                f"{self._url}/api/client/features", headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            return self._failed(f"{type(error).__name__} fetching flags")
        if response.status_code == 304:
            return self._succeeded(changed=False)
        if response.status_code != 200:
            return self._failed(f"HTTP {response.status_code} fetching flags")
        names = _features(response.text)
        if names is None:  # e.g. a wrong URL whose server answers its web UI's HTML with 200
            return self._failed("the answer is not Unleash's feature list")
        self._cache.store(response.text, response.headers.get("etag", ""))
        self._names = names
        self._problems = _problems(response.text)
        # Hand the new payload to UnleashClient's engine now rather than at its next reload.
        self._client._store.load_from_cache()
        return self._succeeded(changed=True)

    def _succeeded(self, *, changed: bool) -> bool:
        self.stats.fetches_ok += 1
        self.stats.last_success = self._clock()
        self.stats.last_error = None
        was = self.stats.status
        self.stats.status = "ready"
        if was != "ready":
            self.emit_provider_ready(ProviderEventDetails(message="flags fetched"))
        if changed:
            self.emit_provider_configuration_changed(ProviderEventDetails(message="flags changed"))
            for listener in self._listeners:
                listener()
        return True

    def _failed(self, reason: str) -> bool:
        self.stats.fetches_failed += 1
        self.stats.last_error = reason
        _log.warning(
            "flags: %s; serving %s",
            reason,
            "last known flags" if self._cache.features else "defaults",
        )
        self._update_status()
        return False

    def _update_status(self) -> None:
        if self._cache.features is None:
            new = "error"
        elif self.stats.last_error is not None or self._age() > self._stale_after:
            new = "stale"
        else:
            new = "ready"
        if new == self.stats.status:
            return
        self.stats.status = new
        details = ProviderEventDetails(message=self.stats.last_error or "flags are old")
        if new == "stale":
            self.emit_provider_stale(details)
        elif new == "error":
            details.error_code = ErrorCode.PROVIDER_NOT_READY
            self.emit_provider_error(details)

    def _age(self) -> float:
        if self.stats.last_success is None:
            return float("inf")
        return self._clock() - self.stats.last_success

    def routed_flags(self) -> tuple[str | None, str]:
        """The features payload this provider evaluates with (None before any) and its ETag,
        Unleash's revision of it; read from memory, no request."""
        return self._cache.features, str(self._cache.get(ETAG, "") or "")

    def freshness(self) -> str:
        """``ready``, ``stale`` or ``error``, re-checked against the clock."""
        self._update_status()
        return self.stats.status

    def status(self) -> ProviderStatus:
        return {
            "ready": ProviderStatus.READY,
            "stale": ProviderStatus.STALE,
            "error": ProviderStatus.ERROR,
        }.get(self.freshness(), ProviderStatus.NOT_READY)

    # --- evaluation --------------------------------------------------------------------------

    def get_metadata(self) -> Metadata:
        return Metadata(name="switchyard-unleash")

    def _context(self, evaluation_context: EvaluationContext | None) -> dict[str, Any]:
        context: dict[str, Any] = {"environment": self._environment, "appName": self._app_name}
        if evaluation_context is None:
            return context
        if evaluation_context.targeting_key:
            context["userId"] = evaluation_context.targeting_key
        properties = {key: str(value) for key, value in evaluation_context.attributes.items()}
        context["properties"] = properties
        return context

    def _known(self, flag_key: str) -> None:
        if self._cache.features is None:
            raise ProviderNotReadyError("no flags known: Unleash unreachable and no cache")
        if flag_key not in self._names:
            raise FlagNotFoundError(f"flag {flag_key!r} is not defined in Unleash")

    def _reason(self, matched: bool) -> Reason:
        if self.freshness() == "stale":
            return Reason.CACHED
        return Reason.TARGETING_MATCH if matched else Reason.DEFAULT

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        self._known(flag_key)
        value = bool(self._client.is_enabled(flag_key, self._context(evaluation_context)))
        return FlagResolutionDetails(value=value, reason=self._reason(value))

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        self._known(flag_key)
        variant = self._client.get_variant(flag_key, self._context(evaluation_context))
        if not variant.get("enabled") or variant.get("name") in (None, "disabled"):
            return FlagResolutionDetails(value=default_value, reason=Reason.DISABLED)
        name = str(variant["name"])
        return FlagResolutionDetails(value=name, variant=name, reason=self._reason(True))

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        raise FlagNotFoundError("Switchyard's Unleash flags are boolean or string-variant")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        raise FlagNotFoundError("Switchyard's Unleash flags are boolean or string-variant")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        raise FlagNotFoundError("Switchyard's Unleash flags are boolean or string-variant")


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
