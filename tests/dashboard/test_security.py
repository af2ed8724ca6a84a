"""Who may act: unauthenticated, forged and cross-origin requests (plain httpx, in-process) are
refused and change nothing in Unleash; a bearer token acts and answers JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest

from flags.admin_api import UnleashAdmin
from flags.model import Mode
from flags.transitions import MigrationState
from service.app import create_app
from service.dashboard.throttle import MAX_FAILURES
from service.migration.audit import AuditTrail
from service.migration.control import read_state
from service.plan.users import token_hash
from tests.auth import viewer_bearer
from tests.browser import admin_token
from tests.conftest import InProcessService

pytestmark = pytest.mark.integration

DEFAULTS = MigrationState(Mode.TYPESCRIPT_ONLY, 0, kill_switch=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the logged-in page"
    return found.group(1)


async def _unchanged(edge: InProcessService, admin: UnleashAdmin) -> None:
    assert await read_state(admin) == DEFAULTS
    assert await AuditTrail(edge.runtime.redis, prefix=edge.runtime.prefix).recent() == []


async def test_unauthenticated_or_forged_actions_are_refused_and_change_nothing(
    edge: InProcessService, flags_reset: UnleashAdmin
) -> None:
    url = f"{edge.url}/migration/dashboard/actions/mode"
    form = {"mode": "parallel", "reason": "forged"}
    origin = {"Origin": edge.url}
    client = edge.client
    assert (await client.post(url, data=form, headers=origin)).status_code == 401
    wrong_bearer = {"Authorization": "Bearer not-the-token"}
    assert (await client.post(url, data=form, headers=wrong_bearer)).status_code == 401
    refused_login = await client.post(
        f"{edge.url}/migration/dashboard/login",
        data={"actor": "mallory", "token": "guess"},
        headers=origin,
    )
    assert refused_login.status_code == 401 and "set-cookie" not in refused_login.headers
    cross_login = await client.post(
        f"{edge.url}/migration/dashboard/login",
        data={"actor": "mallory", "token": admin_token(edge)},
        headers={"Origin": "http://evil.example"},
    )
    assert cross_login.status_code == 403 and "set-cookie" not in cross_login.headers
    await _unchanged(edge, flags_reset)

    login = await client.post(
        f"{edge.url}/migration/dashboard/login",
        data={"actor": "alice", "token": admin_token(edge)},
        headers=origin,
    )
    assert login.status_code == 303
    set_cookie = login.headers["set-cookie"]
    assert "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower()
    assert admin_token(edge) not in set_cookie
    page = await client.get(f"{edge.url}/migration/dashboard")
    csrf = _csrf(page.text)
    forged = [
        ({**form}, origin),  # no CSRF token
        ({**form, "csrf_token": "0" * len(csrf)}, origin),  # a wrong one
        ({**form, "csrf_token": csrf}, {"Origin": "http://evil.example"}),  # foreign origin
        ({**form, "csrf_token": csrf}, {}),  # neither Origin nor Referer
    ]
    for data, headers in forged:
        answer = await client.post(url, data=data, headers=headers)
        assert answer.status_code == 403, (data.keys(), headers, answer.text)
    await _unchanged(edge, flags_reset)

    # the same request with everything right goes through: the refusals above were real
    done = await client.post(url, data={**form, "csrf_token": csrf}, headers=origin)
    assert done.status_code == 303
    assert (await read_state(flags_reset)).mode is Mode.PARALLEL

    logout = await client.post(
        f"{edge.url}/migration/dashboard/logout", data={"csrf_token": csrf}, headers=origin
    )
    assert logout.status_code == 303
    replay = await client.post(
        url,
        data={"mode": "typescript_only", "reason": "after logout", "csrf_token": csrf},
        headers={**origin, "Cookie": set_cookie.split(";")[0]},
    )
    assert replay.status_code == 401
    assert (await read_state(flags_reset)).mode is Mode.PARALLEL


async def test_bearer_token_acts_and_answers_json(
    edge: InProcessService, flags_reset: UnleashAdmin
) -> None:
    bearer = {"Authorization": f"Bearer {admin_token(edge)}"}
    base = f"{edge.url}/migration/dashboard/actions"
    client = edge.client
    done = await client.post(
        f"{base}/rollout",
        data={"percentage": "10", "reason": "api", "actor": "ci"},
        headers=bearer,
    )
    assert done.status_code == 200 and done.json()["rollout"] == 10
    refused = await client.post(
        f"{base}/mode", data={"mode": "python_only", "reason": "skip"}, headers=bearer
    )
    assert refused.status_code == 409 and "skips a step" in refused.json()["error"]
    malformed = await client.post(
        f"{base}/rollout", data={"percentage": "110", "reason": "x"}, headers=bearer
    )
    assert malformed.status_code == 400
    as_json = await client.post(f"{base}/rollout", json={"percentage": 5}, headers=bearer)
    assert as_json.status_code == 415
    assert await read_state(flags_reset) == MigrationState(Mode.TYPESCRIPT_ONLY, 10, False)
    (entry,) = await AuditTrail(edge.runtime.redis, prefix=edge.runtime.prefix).recent()
    assert (entry.actor, entry.source, entry.reason) == ("admin", "api", "api")  # not "ci"


async def test_failed_logins_are_throttled_per_client_and_counted(
    edge: InProcessService,
) -> None:
    url = f"{edge.url}/migration/dashboard/login"
    origin = {"Origin": edge.url}
    answers = [
        (await edge.client.post(url, data={"actor": "m", "token": "guess"}, headers=origin))
        for _ in range(MAX_FAILURES + 1)
    ]
    right = await edge.client.post(
        url, data={"actor": "alice", "token": admin_token(edge)}, headers=origin
    )
    assert [a.status_code for a in answers] == [401] * MAX_FAILURES + [429]
    assert right.status_code == 429  # even the right token waits: no oracle for guessing
    assert 0 < int(right.headers["Retry-After"]) <= 60
    metrics = (await edge.client.get("/metrics")).text
    assert f'switchyard_dashboard_logins_total{{outcome="failed"}} {MAX_FAILURES}.0' in metrics
    assert 'switchyard_dashboard_logins_total{outcome="throttled"} 2.0' in metrics


async def test_a_viewer_cannot_act_and_an_operator_acts_as_themselves(
    edge: InProcessService, flags_reset: UnleashAdmin, tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    entry = {"name": "olga", "role": "operator", "token_sha256": token_hash("olga-token-01234")}
    users.write_text(json.dumps({"users": [entry]}))
    staffed = create_app(dataclasses.replace(edge.settings, users_file=users), runtime=edge.runtime)
    transport = httpx.ASGITransport(app=staffed, raise_app_exceptions=False)
    url = "/migration/dashboard/actions/rollout"
    form = {"percentage": "20", "reason": "more python", "actor": "someone-else"}
    async with httpx.AsyncClient(transport=transport, base_url=edge.url) as client:
        viewer = await client.post(url, data=form, headers=viewer_bearer(edge.settings))
        assert viewer.status_code == 403 and "viewer" in viewer.json()["error"]
        await _unchanged(edge, flags_reset)
        done = await client.post(
            url, data=form, headers={"Authorization": "Bearer olga-token-01234"}
        )
        assert done.status_code == 200, done.text
    assert (await read_state(flags_reset)).rollout == 20
    (entry_,) = await AuditTrail(edge.runtime.redis, prefix=edge.runtime.prefix).recent()
    assert (entry_.actor, entry_.source, entry_.reason) == ("olga", "api", "more python")
