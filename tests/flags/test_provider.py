"""The OpenFeature provider against the real Unleash: bucketing, freshness, fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
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
