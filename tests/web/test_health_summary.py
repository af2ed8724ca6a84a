"""What a stranger sees: ``/health/summary``, ``/healthz`` and ``/readyz``, and nothing of the
status, the dashboard or its panels. Hostile text (a person's name and reason, a private
repository and issue number, an agent's error) sits in Redis and never reaches them; a viewer's
bearer token reads it all, and wrong bearers are throttled like failed logins."""

from __future__ import annotations

import json
import time

import pytest

from flags.admin_api import UnleashAdmin
from flags.transitions import Actor, ActorKind
from service.dashboard.throttle import MAX_FAILURES
from service.migration.control import MigrationControl
from service.pipeline.stream import EventStream, StreamEntry
from service.web.health_summary import summarize
from tests.auth import viewer_bearer
from tests.conftest import InProcessService

SECRETS = ("mallory", "secret-repo", "4242", "Traceback", "<script>")
HOSTILE = "<script>alert(1)</script> mallory broke acme/secret-repo#4242: Traceback (most recent"


def _record(healthy: bool | None, detail: str = "HTTP 200") -> str:
    return json.dumps({"healthy": healthy, "detail": detail, "at": 1.0, "latency_ms": 3.0})


def test_the_summary_is_words_from_a_fixed_set() -> None:
    latest = {
        "typescript": _record(True),
        "python": _record(False, HOSTILE),
        "unleash": "not json {",
        "redis": None,
    }
    summary = summarize(latest, flags="ready", flags_invalid=False, mode=HOSTILE, override=False)
    assert summary == {
        "status": "degraded",
        "components": {
            "typescript": "ok",
            "python": "down",
            "unleash": "unknown",
            "redis": "unknown",
            "flags": "ok",
        },
        "mode": None,  # not a mode name: not shown
    }
    healthy = {name: _record(True) for name in ("typescript", "python", "unleash", "redis")}
    assert summarize(healthy, flags="stale", flags_invalid=False, mode="gradual", override=False)[
        "status"
    ] == ("degraded")
    calm = summarize(healthy, flags="ready", flags_invalid=False, mode="gradual", override=False)
    assert (calm["status"], calm["mode"]) == ("ok", "gradual")
    held = summarize(healthy, flags="ready", flags_invalid=True, mode="invalid", override=True)
    assert (held["components"]["flags"], held["mode"]) == ("invalid", "emergency_rollback")


@pytest.mark.integration
async def test_strangers_see_the_summary_and_nothing_else(
    edge: InProcessService, flags_reset: UnleashAdmin
) -> None:
    runtime = edge.runtime
    control = MigrationControl(admin=flags_reset, redis=runtime.redis, prefix=runtime.prefix)
    await control.rollback(actor=Actor("mallory", ActorKind.HUMAN, "cli"), reason=HOSTILE)
    await runtime.redis.set(runtime.keys.health_latest("python"), _record(False, HOSTILE))
    await EventStream(runtime.redis, prefix=runtime.prefix).bury(
        StreamEntry("0-1", "d-4242", "issues", time.time(), b"{}"),
        system="python",
        error=HOSTILE,
        attempts=5,
    )
    await runtime.provider.refresh()

    anonymous = {
        path: await edge.client.get(path)
        for path in (
            "/migration/status",
            "/migration/status?window=1y",
            "/migration/dashboard",
            "/migration/dashboard/panels",
            "/migration/dashboard/login",
            "/health/summary",
            "/healthz",
            "/readyz",
        )
    }
    status = anonymous["/migration/status"]
    assert status.status_code == 401 and status.headers["www-authenticate"] == "Bearer"
    assert anonymous["/migration/status?window=1y"].status_code == 401  # checked first
    assert anonymous["/migration/dashboard"].status_code == 303
    assert anonymous["/migration/dashboard/panels"].status_code == 401
    assert anonymous["/health/summary"].json() == {
        "status": "degraded",
        "components": {
            "typescript": "unknown",
            "python": "down",
            "unleash": "unknown",
            "redis": "unknown",
            "flags": "ok",
        },
        "mode": "emergency_rollback",
    }
    for path, answer in anonymous.items():
        assert answer.status_code < 500, path
        for secret in SECRETS:
            assert secret not in answer.text, (path, secret)

    shown = await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    assert shown.status_code == 200  # the hostile text was there to leak
    assert all(secret in shown.text for secret in ("mallory", "secret-repo", "4242"))


@pytest.mark.integration
async def test_wrong_bearers_are_throttled_and_counted_like_failed_logins(
    edge: InProcessService,
) -> None:
    answers = [
        await edge.client.get("/migration/status", headers={"Authorization": f"Bearer guess{n}"})
        for n in range(MAX_FAILURES)
    ]
    assert [answer.status_code for answer in answers] == [401] * MAX_FAILURES
    right = await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    assert right.status_code == 429 and 0 < int(right.headers["Retry-After"]) <= 60
    page = await edge.client.get("/migration/dashboard", headers=viewer_bearer(edge.settings))
    assert page.status_code == 429
    metrics = (await edge.client.get("/metrics")).text
    assert f'switchyard_dashboard_logins_total{{outcome="failed"}} {MAX_FAILURES}.0' in metrics
    assert 'switchyard_dashboard_logins_total{outcome="throttled"} 2.0' in metrics
    assert (await edge.client.get("/health/summary")).status_code == 200  # still open
