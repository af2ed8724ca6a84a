"""The OpenFeature provider against the real Unleash: bucketing, freshness, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openfeature.exception import ErrorCode, FlagNotFoundError
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, ROLLOUT_FLAG, Mode
from flags.provider import UnleashFlagProvider
from flags.provision import rollout_strategy
from flags.source import FlagSource, Freshness
from service.settings import Settings

pytestmark = pytest.mark.integration

ISSUES = range(1, 301)


def _provider(
    settings: Settings,
    url: str | None = None,
    cache: Path | None = None,
) -> UnleashFlagProvider:
    return UnleashFlagProvider(
        url=url or settings.unleash_url,
        client_token=settings.unleash_client_token,
        app_name="switchyard-tests",
        environment=settings.unleash_environment,
        refresh_seconds=60,
        cache_dir=cache,
    )


@pytest.fixture
async def source(settings: Settings) -> AsyncIterator[FlagSource]:
    provider = _provider(settings)
    await provider.start()
    flag_source = FlagSource(provider)
    yield flag_source
    flag_source.close()
    await provider.aclose()


async def _set_rollout(admin: UnleashAdmin, percentage: int) -> None:
    strategy = (await admin.strategies(ROLLOUT_FLAG))[0]
    await admin.update_strategy(ROLLOUT_FLAG, strategy["id"], rollout_strategy(percentage))


def _python_issues(source: FlagSource) -> set[int]:
    return {
        number
        for number in ISSUES
        if source.snapshot(repository="acme/app", issue_number=number).python_rollout
    }


async def test_rollout_zero_enables_no_issue_and_hundred_enables_all(
    flags_reset: UnleashAdmin, source: FlagSource
) -> None:
    await source.provider.refresh()
    assert _python_issues(source) == set()

    await _set_rollout(flags_reset, 100)
    await source.provider.refresh()
    assert _python_issues(source) == set(ISSUES)


async def test_rollout_answer_is_deterministic_per_issue(
    flags_reset: UnleashAdmin, source: FlagSource, settings: Settings
) -> None:
    await _set_rollout(flags_reset, 30)
    await source.provider.refresh()
    first = _python_issues(source)
    other = _provider(settings)
    await other.start()
    second_source = FlagSource(other)
    try:
        assert _python_issues(second_source) == first
        assert _python_issues(source) == first
        assert 0 < len(first) < len(ISSUES)
    finally:
        second_source.close()
        await other.aclose()


async def test_snapshot_reads_mode_and_kill_switch(
    flags_reset: UnleashAdmin, source: FlagSource
) -> None:
    await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
    await source.provider.refresh()
    snapshot = source.snapshot(repository="acme/app", issue_number=7)
    assert snapshot.kill_switch is True
    assert snapshot.mode is Mode.TYPESCRIPT_ONLY
    assert snapshot.freshness is Freshness.LIVE
    assert snapshot.problem is None


async def test_unreachable_unleash_serves_last_known_flags_as_stale(
    flags_reset: UnleashAdmin, settings: Settings, tmp_path: Path
) -> None:
    live = _provider(settings, cache=tmp_path)
    await live.start()
    await live.aclose()

    offline = _provider(settings, url="http://127.0.0.1:9", cache=tmp_path)
    await offline.start()
    source = FlagSource(offline)
    try:
        assert offline.status() is ProviderStatus.STALE
        snapshot = source.snapshot(repository="acme/app", issue_number=3)
        assert snapshot.freshness is Freshness.CACHED
        assert snapshot.mode is Mode.TYPESCRIPT_ONLY
        assert snapshot.kill_switch is False
        assert offline.stats.fetches_failed == 1
        assert offline.stats.loaded_from_disk
    finally:
        source.close()
        await offline.aclose()


async def test_no_flags_at_all_evaluates_to_errors_not_exceptions(
    settings: Settings, tmp_path: Path
) -> None:
    provider = _provider(settings, url="http://127.0.0.1:9", cache=tmp_path)
    await provider.start()
    source = FlagSource(provider)
    try:
        snapshot = source.snapshot(repository="acme/app", issue_number=3)
        assert snapshot.freshness is Freshness.MISSING
        assert snapshot.kill_switch is None and snapshot.mode is None
        assert snapshot.problem is not None
        details = source._client.get_boolean_details(KILL_SWITCH_FLAG, False)
        assert details.reason == Reason.ERROR
    finally:
        source.close()
        await provider.aclose()


class _Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _observed(statuses: list[int]) -> httpx.AsyncClient:
    """A real HTTP client that notes the status of every answer (the requests are real)."""

    async def note(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    return httpx.AsyncClient(event_hooks={"response": [note]})


async def test_flags_older_than_stale_after_are_stale_until_the_next_fetch(
    settings: Settings,
) -> None:
    clock = _Clock()
    provider = UnleashFlagProvider(
        url=settings.unleash_url,
        client_token=settings.unleash_client_token,
        app_name="switchyard-tests",
        environment=settings.unleash_environment,
        refresh_seconds=60,
        stale_after=30,
        clock=clock,
    )
    await provider.start()
    try:
        assert provider.freshness() == "ready"
        clock.now += 30  # exactly stale_after: still fresh
        assert provider.freshness() == "ready"
        clock.now += 0.5
        assert provider.freshness() == "stale"
        assert provider.status() is ProviderStatus.STALE
        details = provider.resolve_boolean_details(KILL_SWITCH_FLAG, True)
        assert (details.value, details.reason) == (False, Reason.CACHED)  # old flags, still used
        assert await provider.refresh() is True
        assert provider.freshness() == "ready"
        assert provider.stats.last_success == clock.now
    finally:
        await provider.aclose()


async def test_a_conditional_poll_of_unchanged_flags_is_a_304_that_tells_no_listener(
    settings: Settings,
) -> None:
    statuses: list[int] = []
    async with _observed(statuses) as http:
        provider = UnleashFlagProvider(
            url=settings.unleash_url,
            client_token=settings.unleash_client_token,
            app_name="switchyard-tests",
            environment=settings.unleash_environment,
            refresh_seconds=60,
            http=http,
        )
        changes: list[None] = []
        provider.on_change(lambda: changes.append(None))
        try:
            assert await provider.refresh() is True
            assert await provider.refresh(conditional=True) is True
            assert statuses == [200, 304]
            assert len(changes) == 1  # only the first fetch brought flags
            assert provider.stats.fetches_ok == 2 and provider.freshness() == "ready"
            assert await provider.refresh() is True  # a notification's refetch is unconditional
            assert statuses == [200, 304, 200] and len(changes) == 2
        finally:
            await provider.aclose()


async def test_concurrent_refreshes_coalesce_into_at_most_two_fetches(
    settings: Settings,
) -> None:
    statuses: list[int] = []
    async with _observed(statuses) as http:
        provider = UnleashFlagProvider(
            url=settings.unleash_url,
            client_token=settings.unleash_client_token,
            app_name="switchyard-tests",
            environment=settings.unleash_environment,
            refresh_seconds=60,
            http=http,
        )
        try:
            results = await asyncio.gather(*(provider.refresh() for _ in range(8)))
            assert results == [True] * 8
            # the first caller's fetch, then one fetch covering the seven that asked meanwhile
            assert statuses == [200, 200]
        finally:
            await provider.aclose()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/no-such-api", "HTTP 404 fetching flags"),
        # Unleash answers unknown paths outside /api with its web UI: 200, HTML
        ("/no-such-prefix", "the answer is not Unleash's feature list"),
    ],
)
async def test_a_wrong_answer_keeps_the_known_flags_stale_and_is_counted(
    settings: Settings, path: str, error: str
) -> None:
    provider = _provider(settings)
    await provider.start()
    try:
        provider._fetcher.url = settings.unleash_url + path
        assert await provider.refresh() is False
        assert provider.stats.last_error == error
        assert (provider.stats.fetches_ok, provider.stats.fetches_failed) == (1, 1)
        assert provider.freshness() == "stale"
        details = provider.resolve_boolean_details(KILL_SWITCH_FLAG, True)
        assert (details.value, details.reason) == (False, Reason.CACHED)  # last known flags
    finally:
        await provider.aclose()


async def test_an_unknown_flag_is_not_found_and_the_client_gets_its_default(
    source: FlagSource,
) -> None:
    provider = source.provider
    with pytest.raises(FlagNotFoundError, match="not defined in Unleash"):
        provider.resolve_boolean_details("no-such-flag", True)
    details = source._client.get_boolean_details("no-such-flag", True)
    assert (details.value, details.reason, details.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )
    for resolve in (
        lambda: provider.resolve_integer_details(ROLLOUT_FLAG, 0),
        lambda: provider.resolve_float_details(ROLLOUT_FLAG, 0.0),
        lambda: provider.resolve_object_details(ROLLOUT_FLAG, {}),
    ):
        with pytest.raises(FlagNotFoundError, match="boolean or string-variant"):
            resolve()


async def test_a_flag_without_an_enabled_variant_resolves_to_the_default_as_disabled(
    source: FlagSource,
) -> None:
    # the kill switch has no variants: Unleash answers the "disabled" variant for it
    details = source.provider.resolve_string_details(KILL_SWITCH_FLAG, "fallback")
    assert (details.value, details.reason, details.variant) == ("fallback", Reason.DISABLED, None)
