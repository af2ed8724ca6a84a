"""The plan on the dashboard against the real service, Redis and Unleash: the card shows the
steps, the decision and the timeline; approve/pause/resume/abort sit behind the same login and
CSRF as the other actions, as the person the token names. Four eyes: an approver other than the
plan's starter approves (and the controller then advances the step through MigrationControl);
the starter, a mere operator, a viewer and the shared admin token are refused with 403."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import System
from flags.secret import Secret
from flags.transitions import Actor, ActorKind
from service.devtools.child_processes import free_port
from service.migration.control import MigrationControl
from service.notify.outbox import Outbox
from service.notify.senders import configured_senders
from service.plan.actions import PlanActions
from service.plan.controller import PlanController
from service.plan.decision import Action, Status
from service.plan.evidence import StreamFold
from service.plan.model import parse_plan
from service.plan.store import PlanStore
from service.plan.users import token_hash
from service.settings import Settings
from tests.auth import admin_bearer
from tests.conftest import RunningService, record_completion, serve_app
from tests.notify.receiver import SECRET, running_receiver

pytestmark = pytest.mark.integration

PLAN = parse_plan({"steps": [{"percentage": 10, "gate": "approval"}, 50, 100]})
PEOPLE = {"alice": "operator", "bob": "approver", "carol": "approver", "vic": "viewer"}


def _bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token-0123456789"}


@pytest.fixture
async def staffed(settings: Settings, prefix: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service with a users file: alice operates, bob and carol approve, vic views."""
    users = tmp_path / "users.json"
    entries = [
        {"name": name, "role": role, "token_sha256": token_hash(f"{name}-token-0123456789")}
        for name, role in PEOPLE.items()
    ]
    users.write_text(json.dumps({"users": entries}))
    own = dataclasses.replace(
        settings,
        redis_prefix=prefix,
        users_file=users,
        notify_webhook_url="http://127.0.0.1:9/notifications",  # the watchdog would deliver
        notify_webhook_secret=Secret("notify-secret"),
    )
    async with serve_app(own, free_port()) as running:
        yield running


async def test_the_card_and_the_actions(
    staffed: RunningService, flags_reset: UnleashAdmin, redis_client: Redis
) -> None:
    service = staffed
    prefix = service.settings.redis_prefix
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    store = PlanStore(redis_client, prefix=prefix)
    actions = PlanActions(store=store, control=control)
    record = await actions.start(PLAN, actor=Actor("alice", ActorKind.HUMAN, "cli"), reason="go")
    async with httpx.AsyncClient(base_url=service.url) as http:
        assert (await http.get("/migration/dashboard")).status_code == 303  # to the login
        page = (await http.get("/migration/dashboard", headers=_bearer("vic"))).text
        assert f"Plan <strong>{record.id}</strong>" in page
        assert "started by alice" in page and "approval" in page
        assert "<strong>started</strong> by alice: go" in page
        assert 'action="/migration/dashboard/plan/pause' not in page  # a viewer
        refused = await http.post("/migration/dashboard/plan/pause", data={"reason": "x"})
        assert refused.status_code == 401
        viewer = await http.post(
            "/migration/dashboard/plan/pause", data={"reason": "x"}, headers=_bearer("vic")
        )
        assert viewer.status_code == 403
        paused = await http.post(
            "/migration/dashboard/plan/pause",
            data={"reason": "lunch <b>", "actor": "mallory"},  # a typed name is ignored
            headers=_bearer("bob"),
        )
        assert paused.status_code == 200 and "now paused" in paused.json()["result"]
        again = await http.post(
            "/migration/dashboard/plan/resume", data={"reason": ""}, headers=_bearer("bob")
        )
        assert again.status_code == 409
        unknown = await http.post("/migration/dashboard/plan/promote", headers=_bearer("bob"))
        assert unknown.status_code == 404
        page = (await http.get("/migration/dashboard", headers=_bearer("vic"))).text
        assert "by bob: lunch &lt;b&gt;" in page  # escaped
        origin = {"Origin": service.url}
        login = {"token": "carol-token-0123456789"}
        assert (
            await http.post("/migration/dashboard/login", data=login, headers=origin)
        ).status_code == 303
        page = (await http.get("/migration/dashboard")).text
        assert 'id="actor">carol<' in page
        assert 'action="/migration/dashboard/plan/resume' in page
        assert 'action="/migration/dashboard/plan/approve' in page  # carol approves
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
    assert not any(actor == "mallory" for _, actor, _ in changes)


async def test_four_eyes_on_the_dashboard_then_the_step_advances(
    staffed: RunningService, flags_reset: UnleashAdmin, redis_client: Redis
) -> None:
    service = staffed
    prefix = service.settings.redis_prefix
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    store = PlanStore(redis_client, prefix=prefix)
    quick = parse_plan(
        {
            "steps": [
                {"percentage": 10, "gate": "approval", "min_completions": 20,
                 "min_outcomes": 0, "min_dwell_seconds": 0},
                {"percentage": 50, "min_dwell_seconds": 0},
                100,
            ],
            "margin": 0.3,
            "min_rate_samples": 20,
        }
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=service.url) as http:
        started = await http.post(
            "/migration/dashboard/plan/start",
            data={"reason": "migrate", "plan": json.dumps(quick.as_dict())},
            headers=_bearer("bob"),
        )
        assert started.status_code == 200, started.text
        await asyncio.sleep(0.002)  # the evidence below is recorded after the step started
        for index in range(40):
            await record_completion(redis_client, prefix, System.TYPESCRIPT, 1 + index, True)
            await record_completion(redis_client, prefix, System.PYTHON, 501 + index, True)
        controller = PlanController(
            store=store, control=control, evidence=StreamFold(redis_client, prefix=prefix)
        )
        held = await controller.tick()
        assert held is not None and held.action is Action.AWAIT_APPROVAL
        refusals = {
            "bob (the starter)": _bearer("bob"),
            "alice (an operator)": _bearer("alice"),
            "vic (a viewer)": _bearer("vic"),
            "the admin token": admin_bearer(service.settings),
        }
        for who, headers in refusals.items():
            answer = await http.post(
                "/migration/dashboard/plan/approve", data={"reason": "ok"}, headers=headers
            )
            assert answer.status_code == 403, (who, answer.text)
        record = await store.load()
        assert record is not None and record.state.approvals == {}
        approved = await http.post(
            "/migration/dashboard/plan/approve",
            data={"reason": "evidence looks fine", "actor": "bob"},
            headers=_bearer("carol"),
        )
        assert approved.status_code == 200, approved.text
    advanced = await controller.tick()
    assert advanced is not None and advanced.action is Action.ADVANCE
    assert (await control.state()).rollout == 50
    record = await store.load()
    assert record is not None and record.state.step == 1
    assert record.started_by == "bob" and record.state.approvals == {0: "carol"}
    changes = [(e.change, e.actor) for e in await control.audit.recent(20)]
    assert ("plan_started", "bob") in changes and ("plan_approved", "carol") in changes
    outbox = Outbox(redis_client, prefix=prefix)
    people = {"plan_started": "bob", "plan_approved": "carol"}
    published = {
        (row["event"]["kind"], row["event"]["actor"], row["receiver"])
        for row in await outbox.recent()
    }  # the people's own actions, named by their tokens, for the watchdog to deliver
    assert {(kind, who, "*") for kind, who in people.items()} <= published
    receivers = dataclasses.replace(  # the watchdog's settings: both receivers
        service.settings, notify_webhook_secret=SECRET, slack_webhook_url=None
    )
    async with running_receiver() as (own, url), httpx.AsyncClient() as http:
        receivers = dataclasses.replace(receivers, notify_webhook_url=f"{url}/hook")
        senders = configured_senders(receivers, http, slack_url=f"{url}/slack")  # --alert-url
        deliverer = Outbox(redis_client, prefix=prefix, senders=senders)
        while await deliverer.deliver_due():  # what the watchdog's outbox task runs
            pass
    arrived = {(e["kind"], e["actor"]) for i, e in own.events.items() if own.accepted[i] == 1}
    assert set(people.items()) <= arrived and own.bad_signatures == 0
    for kind, who in people.items():
        verb = kind.removeprefix("plan_")
        assert sum(f" {verb}, " in t and f"(by {who})" in t for t in own.slack) == 1, own.slack
