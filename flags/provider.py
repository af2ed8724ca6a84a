"""An OpenFeature provider over UnleashClient that is honest about where its flags come from.

Why not the contrib ``openfeature-provider-unleash``: it cannot set the Unleash environment or
the refresh interval, it cannot refetch on demand, and it never reports STALE. This provider
fetches ``/api/client/features`` itself (:mod:`flags.fetcher`: httpx, with ETags), hands the
payload to UnleashClient through a :class:`~flags.flag_cache.FlagCache` and evaluates with
UnleashClient, so the bucketing is exactly Unleash's. It polls every ``refresh_seconds`` and
refetches at once when :meth:`refresh` is called (Switchyard's broadcast and Unleash's webhook
addon both do).

Status follows the evidence: READY while fetches succeed, STALE when the last fetch failed or
is older than ``stale_after`` but flags are known (evaluation continues from them), ERROR when
no flags were ever known (evaluation returns the caller's default with reason ERROR).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
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

from flags.fetcher import FeatureFetcher
from flags.flag_cache import FlagCache
from flags.secret import Secret
from flags.validation import FlagProblem

__all__ = ["UnleashFlagProvider"]

_log = logging.getLogger("switchyard.flags")
# UnleashClient warns "no cached features" whenever it is built before a fetch; here that is
# always so (this provider fetches), and the provider reports its own status instead.
logging.getLogger("UnleashClient").setLevel(logging.ERROR)


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
        self._app_name = app_name
        self._environment = environment
        self.refresh_seconds = refresh_seconds
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()
        self._cache = FlagCache(cache_dir)
        self._fetcher = FeatureFetcher(
            url=url.rstrip("/"),
            client_token=client_token,
            app_name=app_name,
            cache=self._cache,
            http=self._http,
            request_timeout=request_timeout,
            stale_after=stale_after if stale_after is not None else 3 * refresh_seconds,
            clock=clock,
        )
        self.stats = self._fetcher.stats
        self._client = UnleashClient(
            url=url.rstrip("/") + "/api",
            app_name=app_name,
            environment=environment,
            refresh_interval=3600,
            disable_metrics=True,
            disable_registration=True,
            cache=self._cache,
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        )
        self._client.initialize_client(fetch_toggles=False)
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
        return list(self._fetcher.problems)

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
        fetched = await self._fetcher.fetch(conditional=conditional)
        if fetched is None:
            self._update_status()
            return False
        if fetched:  # hand the new payload to UnleashClient's engine now, not at its reload
            self._client._store.load_from_cache()
        return self._succeeded(changed=fetched)

    def _succeeded(self, *, changed: bool) -> bool:
        was = self.stats.status
        self.stats.status = "ready"
        if was != "ready":
            self.emit_provider_ready(ProviderEventDetails(message="flags fetched"))
        if changed:
            self.emit_provider_configuration_changed(ProviderEventDetails(message="flags changed"))
            for listener in self._listeners:
                listener()
        return True

    def _update_status(self) -> None:
        new = self._fetcher.freshness()
        if new == self.stats.status:
            return
        self.stats.status = new
        details = ProviderEventDetails(message=self.stats.last_error or "flags are old")
        if new == "stale":
            self.emit_provider_stale(details)
        elif new == "error":
            details.error_code = ErrorCode.PROVIDER_NOT_READY
            self.emit_provider_error(details)

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
        if flag_key not in self._fetcher.names:
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
