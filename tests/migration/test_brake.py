"""The break-glass brake on the real Redis and Unleash: a rollback while Unleash cannot be
reached sets the override, audited; once Unleash answers, one process writes the kill switch
there, once; with Redis down a rollback still reaches Unleash and says what it could not record."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.errors import UnleashUnreachable
from flags.model import KILL_SWITCH_FLAG, Issue, Mode, System
from flags.transitions import Actor, ActorKind, MigrationState, TransitionRefused
from service.devtools.child_processes import free_port
from service.migration.brake import OVERRIDE_TEXT, Brake
from service.migration.change_result import BrakeUnavailable
from service.migration.control import MigrationControl
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter
from service.runtime import Runtime
from service.settings import Settings
from tests.pipeline.test_worker import runtime  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

ALICE = Actor("alice", ActorKind.HUMAN, "cli")
WATCHDOG = Actor("watchdog-1", ActorKind.WATCHDOG, "watchdog")


def _unreachable(settings: Settings, http: httpx.AsyncClient) -> UnleashAdmin:
    """An admin client whose Unleash does not answer (nothing listens on the port)."""
    return UnleashAdmin(
        base_url=f"http://127.0.0.1:{free_port()}",
        token=settings.require_admin_token(),
        project=settings.unleash_project,
        environment=settings.unleash_environment,
        http=http,
    )


@pytest.fixture
def down(
    settings: Settings, http: httpx.AsyncClient, redis_client: Redis, prefix: str
) -> MigrationControl:
    return MigrationControl(admin=_unreachable(settings, http), redis=redis_client, prefix=prefix)


@pytest.fixture
def up(flags_reset: UnleashAdmin, redis_client: Redis, prefix: str) -> MigrationControl:
    return MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)


async def test_rollback_with_unleash_down_sets_an_audited_override(
    down: MigrationControl, up: MigrationControl, flags_reset: UnleashAdmin
) -> None:
    result = await down.rollback(actor=WATCHDOG, reason="python worse", evidence={"n": 40})
    again = await down.rollback(actor=ALICE, reason="me too")

    assert result.override and result.changed and result.unrecorded == ()
    assert result.as_dict()["after"] == OVERRIDE_TEXT and result.as_dict()["kill_switch"]
    assert again.override and not again.changed  # the first override stays in force
    override = await down.brake.read()
    assert override is not None and override.pending
    assert (override.actor, override.source) == ("watchdog-1", "watchdog")
    [entry] = await down.audit.recent()
    assert (entry.change, entry.after, entry.evidence) == (
        "rollback_override",
        OVERRIDE_TEXT,
        {"n": 40},
    )
    assert "unreachable" in entry.reason
    assert not await flags_reset.is_enabled(KILL_SWITCH_FLAG)  # Unleash has not heard of it
    assert (await up.state()).kill_switch  # but Switchyard counts it as on


async def test_the_override_reaches_unleash_once_when_it_answers_again(
    down: MigrationControl, up: MigrationControl, flags_reset: UnleashAdmin
) -> None:
    await down.rollback(actor=ALICE, reason="unleash is down and python misbehaves")
    with pytest.raises(UnleashUnreachable):  # Unleash still down: the claim is let go
        await down.sync_override(holder="still-down")
    assert (await down.brake.read() or pytest.fail("override lost")).pending

    results = await asyncio.gather(*(up.sync_override(holder=f"p{i}") for i in range(5)))

    assert sorted(results) == [False] * 4 + [True]
    assert await flags_reset.is_enabled(KILL_SWITCH_FLAG)
    override = await up.brake.read()
    assert override is not None and not override.pending  # synced: honoured a little longer
    changes = [entry.change for entry in await up.audit.recent()]
    assert changes == ["override_synced", "rollback_override"]
    assert not await up.sync_override(holder="later")  # nothing left to do


async def test_only_a_human_leaves_a_pending_override(
    down: MigrationControl, up: MigrationControl, flags_reset: UnleashAdmin
) -> None:
    await down.rollback(actor=ALICE, reason="drill")
    with pytest.raises(TransitionRefused, match="only roll back"):
        await up.leave_rollback(Mode.TYPESCRIPT_ONLY, actor=WATCHDOG, reason="looks fine")
    assert await up.brake.engaged()

    left = await up.leave_rollback(Mode.TYPESCRIPT_ONLY, actor=ALICE, reason="all clear")

    assert left.changed and not await up.brake.engaged()
    assert await up.state() == MigrationState(Mode.TYPESCRIPT_ONLY, 0, kill_switch=False)
    assert not await flags_reset.is_enabled(KILL_SWITCH_FLAG)


async def test_rollback_with_redis_down_still_turns_the_kill_switch_on_in_unleash(
    flags_reset: UnleashAdmin, settings: Settings, prefix: str
) -> None:
    dead_redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    control = MigrationControl(admin=flags_reset, redis=dead_redis, prefix=prefix)
    try:
        result = await control.rollback(actor=ALICE, reason="redis is down too")
    finally:
        await dead_redis.aclose()

    assert result.changed and not result.override
    assert await flags_reset.is_enabled(KILL_SWITCH_FLAG)
    assert "audit entry" in result.unrecorded
    assert any(item.startswith("broadcast") for item in result.unrecorded)
    assert "NOT recorded" in result.summary()


async def test_with_neither_unleash_nor_redis_the_rollback_says_nothing_changed(
    settings: Settings, http: httpx.AsyncClient, prefix: str
) -> None:
    dead_redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    control = MigrationControl(admin=_unreachable(settings, http), redis=dead_redis, prefix=prefix)
    try:
        with pytest.raises(BrakeUnavailable, match="NOT applied"):
            await control.rollback(actor=ALICE, reason="everything is down")
    finally:
        await dead_redis.aclose()


async def test_the_router_honours_the_override_whatever_the_flags_say(
    runtime: Runtime,  # noqa: F811
    flags_reset: UnleashAdmin,
) -> None:
    owners = OwnershipStore(runtime.redis, prefix=runtime.prefix)
    brake = Brake(runtime.redis, prefix=runtime.prefix)
    router = IssueRouter(flags=runtime.flags, owners=owners, brake=brake)
    owned = Issue("acme/app", 7)
    await owners.claim(owned, System.PYTHON, reason="test")

    before = await router.explain(owned)
    await brake.pull(actor="alice", source="cli", reason="drill")
    after = await router.route(owned)
    fresh = await router.route(Issue("acme/app", 8))

    assert before.decision.acting is System.PYTHON
    assert after.decision.mode is Mode.EMERGENCY_ROLLBACK and after.decision.hand_back
    assert "break-glass override" in after.decision.reason
    assert after.owner is not None and after.owner.system is System.TYPESCRIPT
    assert fresh.decision.acting is System.TYPESCRIPT
