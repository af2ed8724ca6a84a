"""/migration/status and /metrics against the real edge, Redis and Unleash."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue, System
from flags.secret import Secret
from service.app import create_app
from service.devtools.child_processes import free_port
from service.health.monitor import monitor_for, read_health
from service.outcomes.metrics import compare, read_metrics
from service.outcomes.stats import Rate
from service.routing.ownership import OwnershipStore
from service.runtime import open_runtime
from service.settings import Settings
from tests.auth import viewer_bearer
from tests.conftest import InProcessService, record_completion


@pytest.mark.integration
async def test_status_shows_state_owners_health_and_comparison(
    edge: InProcessService, flags_reset: UnleashAdmin
) -> None:
    runtime = edge.runtime
    await monitor_for(runtime).check()  # the service's monitor does this; status only reads it
    owners = OwnershipStore(runtime.redis, prefix=runtime.prefix)
    await owners.claim(Issue("acme/app", 1), System.PYTHON, reason="t")
    await owners.claim(Issue("acme/app", 2), System.TYPESCRIPT, reason="t")
    for number in range(1, 11):
        await record_completion(
            edge.runtime.redis,
            edge.runtime.prefix,
            System.PYTHON,
            number,
            number <= 8,
            float(number),
        )
        await record_completion(
            edge.runtime.redis,
            edge.runtime.prefix,
            System.TYPESCRIPT,
            100 + number,
            number <= 9,
            2.0,
        )
    status = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()
    metrics = await edge.client.get("/metrics")
    assert status["mode"] == "typescript_only" and status["rollout_percentage"] == 0
    assert status["kill_switch"] is False
    assert status["owners"] == {"typescript": 1, "python": 1}
    assert status["health"]["redis"]["healthy"] is True, status["health"]
    assert status["health"]["unleash"]["healthy"] is True
    python = status["comparison"]["python"]["success_rate"]
    assert (python["n"], python["successes"]) == (10, 8)
    assert python["ci95"][0] < 0.8 < python["ci95"][1]
    # From the read model's duration histogram: within a bin's width (~9 %) of the exact 5.5.
    assert status["comparison"]["python"]["duration_seconds"]["p50"] == pytest.approx(5.5, rel=0.1)
    assert status["comparison"]["difference"]["success"]["difference"] == pytest.approx(-0.1)
    assert metrics.status_code == 200
    assert 'switchyard_rate{metric="success_rate",system="python"} 0.8' in metrics.text
    assert 'switchyard_owned_issues{system="python"} 1.0' in metrics.text
    python_acting = 'role="acting",system="python"'
    for line in (
        f'switchyard_completion_duration_seconds_bucket{{le="1.0",{python_acting}}} 1.0',
        f'switchyard_completion_duration_seconds_bucket{{le="5.0",{python_acting}}} 5.0',
        f'switchyard_completion_duration_seconds_bucket{{le="15.0",{python_acting}}} 10.0',
        f'switchyard_completion_duration_seconds_bucket{{le="+Inf",{python_acting}}} 10.0',
        f"switchyard_completion_duration_seconds_count{{{python_acting}}} 10.0",
        f"switchyard_completion_duration_seconds_sum{{{python_acting}}} 55.0",
        f'switchyard_completions_total{{outcome="failure",{python_acting}}} 2.0',
        'switchyard_completions_total{outcome="success",role="acting",system="typescript"} 9.0',
    ):
        assert line in metrics.text, line


@pytest.mark.integration
async def test_window_must_be_known(edge: InProcessService) -> None:
    response = await edge.client.get(
        "/migration/status?window=1y", headers=viewer_bearer(edge.settings)
    )
    assert response.status_code == 400


def test_rate_interval_is_wilsons() -> None:
    low, high = Rate(8, 10).interval
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert Rate(0, 0).interval == (0.0, 1.0)


def test_newcombe_difference_contains_the_estimate() -> None:
    result = compare(Rate(80, 100), Rate(90, 100))
    low, high = result["ci95"]
    assert low < result["difference"] < high
    assert result["difference"] == pytest.approx(-0.1)
    assert compare(Rate(0, 0), Rate(1, 2)) == {"difference": None, "ci95": None}


@pytest.mark.integration
async def test_last_n_window_reads_the_newest_rows(edge: InProcessService) -> None:
    for number in range(1, 6):
        await record_completion(
            edge.runtime.redis, edge.runtime.prefix, System.PYTHON, number, number > 3, 1.0
        )
    runtime = edge.runtime
    metrics = await read_metrics(runtime.redis, prefix=runtime.prefix, last_n=2)
    assert metrics[System.PYTHON].success == Rate(2, 2)


@pytest.mark.integration
async def test_health_monitor_records_every_component(edge: InProcessService) -> None:
    runtime = edge.runtime
    monitor = monitor_for(runtime)
    await monitor.check()
    await monitor.check()
    recorded = await read_health(runtime.redis, prefix=runtime.prefix)
    assert recorded["redis"]["healthy"] is True and recorded["redis"]["history"] >= 2
    assert recorded["unleash"]["healthy"] is True
    assert recorded["unleash"]["consecutive_failures"] == 0
    status = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()
    assert status["health_history"]["redis"]["healthy"] is True


@pytest.mark.integration
async def test_status_reads_recorded_health_and_routed_flags_never_probes(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: a probe would fail
    own = dataclasses.replace(settings, redis_prefix=prefix, python_url=closed)
    async with open_runtime(own, role="service") as runtime:
        app = create_app(own, runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=own.service_url) as client:
            # Unleash changes; this process has not refetched: status shows what it routes with.
            await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
            status = (await client.get("/migration/status", headers=viewer_bearer(own))).json()
            scrape = (await client.get("/metrics")).text
            assert status["health"]["python"] == {"healthy": None, "detail": "not checked yet"}
            assert status["kill_switch"] is False
            payload, etag = runtime.provider.routed_flags()
            assert payload is not None and status["flags_revision"] == etag
            assert status["flags_fetched_at"] == runtime.provider.stats.last_success
            assert "switchyard_kill_switch 0.0" in scrape
            await monitor_for(runtime).check()  # the monitor's round: now status shows it
            await runtime.provider.refresh()
            status = (await client.get("/migration/status", headers=viewer_bearer(own))).json()
    assert status["health"]["python"]["healthy"] is False
    assert status["kill_switch"] is True and status["mode"] == "emergency_rollback"


@pytest.mark.integration
async def test_metrics_can_require_a_bearer_token(settings: Settings, prefix: str) -> None:
    token = Secret("scrape-me-0123456789")
    own = dataclasses.replace(settings, redis_prefix=prefix, metrics_token=token)
    async with open_runtime(own, role="service") as runtime:
        app = create_app(own, runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=own.service_url) as client:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            right = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {token.reveal()}"}
            )
            health = await client.get("/healthz")
    assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "switchyard_kill_switch_override" in right.text
    assert health.status_code == 200  # liveness stays open
