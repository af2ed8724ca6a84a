"""The plan on the dashboard against the real service, Redis and Unleash: the card shows the
steps, the decision and the timeline; approve/pause/resume/abort sit behind the same login and
CSRF as the other actions, and the shared admin token never approves (403)."""

from __future__ import annotations

import re

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.transitions import Actor, ActorKind
from service.migration.control import MigrationControl
from service.plan.actions import PlanActions
from service.plan.decision import Status
from service.plan.model import parse_plan
from service.plan.store import PlanStore
from tests.browser import admin_token
from tests.conftest import RunningService

pytestmark = pytest.mark.integration

PLAN = parse_plan({"steps": [{"percentage": 10, "gate": "approval"}, 50, 100]})


async def test_the_card_and_the_actions(
    service: RunningService, flags_reset: UnleashAdmin, redis_client: Redis
) -> None:
    prefix = service.settings.redis_prefix
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    store = PlanStore(redis_client, prefix=prefix)
    actions = PlanActions(store=store, control=control)
    record = await actions.start(PLAN, actor=Actor("alice", ActorKind.HUMAN, "cli"), reason="go")
    bearer = {"Authorization": f"Bearer {admin_token(service)}"}
    async with httpx.AsyncClient(base_url=service.url) as http:
        page = (await http.get("/migration/dashboard")).text
        assert f"Plan <strong>{record.id}</strong>" in page
        assert "started by alice" in page and "approval" in page
        assert "<strong>started</strong> by alice: go" in page
        assert 'action="/migration/dashboard/plan/pause' not in page  # not logged in
        refused = await http.post("/migration/dashboard/plan/pause", data={"reason": "x"})
        assert refused.status_code == 401
        approve = await http.post(
            "/migration/dashboard/plan/approve",
            data={"reason": "ok", "actor": "bob"},
            headers=bearer,
        )
        assert approve.status_code == 403
        assert "approver role" in approve.json()["result"]
        paused = await http.post(
            "/migration/dashboard/plan/pause",
            data={"reason": "lunch <b>", "actor": "bob"},
            headers=bearer,
        )
        assert paused.status_code == 200 and "now paused" in paused.json()["result"]
        again = await http.post(
            "/migration/dashboard/plan/resume", data={"reason": ""}, headers=bearer
        )
        assert again.status_code == 409
        unknown = await http.post("/migration/dashboard/plan/promote", headers=bearer)
        assert unknown.status_code == 404
        page = (await http.get("/migration/dashboard")).text
        assert "by bob: lunch &lt;b&gt;" in page  # escaped
        origin = {"Origin": service.url}
        login = {"actor": "carol", "token": admin_token(service)}
        assert (
            await http.post("/migration/dashboard/login", data=login, headers=origin)
        ).status_code == 303
        page = (await http.get("/migration/dashboard")).text
        assert 'action="/migration/dashboard/plan/resume' in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        forged = await http.post(
            "/migration/dashboard/plan/resume", data={"reason": "x"}, headers=origin
        )
        assert forged.status_code == 403  # the session without its CSRF token
        resumed = await http.post(
            "/migration/dashboard/plan/resume",
            data={"reason": "back", "csrf_token": csrf.group(1)},
            headers=origin,
        )
        assert resumed.status_code == 303
        page = (await http.get("/migration/dashboard")).text
        assert "now running" in page
    stored = await store.load()
    assert stored is not None and stored.state.status is Status.RUNNING
    changes = [(e.change, e.actor, e.source) for e in await control.audit.recent(10)]
    assert ("plan_paused", "bob", "api") in changes
    assert ("plan_resumed", "carol", "dashboard") in changes
