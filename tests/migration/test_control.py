"""Mode changes through the real Unleash: written, audited, broadcast, imported."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Mode
from flags.transitions import Actor, ActorKind, MigrationState, TransitionRefused
from service.migration.control import MigrationControl
from service.migration.propagation import flag_channel
from service.migration.unleash_events import import_unleash_events

pytestmark = pytest.mark.integration

ALICE = Actor("alice", ActorKind.HUMAN, "cli")
WATCHDOG = Actor("watchdog-1", ActorKind.WATCHDOG, "watchdog")


@pytest.fixture
def control(flags_reset: UnleashAdmin, redis_client: Redis, prefix: str) -> MigrationControl:
    return MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)


async def test_mode_and_rollout_changes_reach_unleash_and_the_audit_trail(
    control: MigrationControl,
) -> None:
    await control.set_mode(Mode.PARALLEL, actor=ALICE, reason="shadow first")
    await control.set_mode(Mode.GRADUAL, actor=ALICE, reason="start moving")
    result = await control.set_rollout(25, actor=ALICE, reason="a quarter")
    assert result.changed
    assert await control.state() == MigrationState(Mode.GRADUAL, 25, kill_switch=False)
    entries = await control.audit.recent()
    assert [(entry.change, entry.before, entry.after) for entry in entries] == [
        ("set_rollout", "gradual at 0%", "gradual at 25%"),
        ("set_mode", "parallel at 0%", "gradual at 0%"),
        ("set_mode", "typescript_only at 0%", "parallel at 0%"),
    ]
    assert all(entry.actor == "alice" and entry.source == "cli" for entry in entries)
    assert entries[0].reason == "a quarter"


async def test_refused_change_writes_nothing(control: MigrationControl) -> None:
    with pytest.raises(TransitionRefused, match="skips a step"):
        await control.set_mode(Mode.PYTHON_ONLY, actor=ALICE, reason="hurry")
    assert (await control.state()).mode is Mode.TYPESCRIPT_ONLY
    assert await control.audit.recent() == []


async def test_watchdog_rollback_is_idempotent_and_keeps_evidence(
    control: MigrationControl,
) -> None:
    evidence = {"metric": "success_rate", "python": 0.4, "samples": 120}
    first = await control.rollback(actor=WATCHDOG, reason="python worse", evidence=evidence)
    second = await control.rollback(actor=WATCHDOG, reason="python worse", evidence=evidence)
    assert first.changed and not second.changed
    assert (await control.state()).kill_switch is True
    entries = await control.audit.recent()
    assert len(entries) == 1 and entries[0].evidence == evidence
    with pytest.raises(TransitionRefused, match="only roll back"):
        await control.leave_rollback(Mode.GRADUAL, actor=WATCHDOG, reason="recovered")
    await control.leave_rollback(Mode.PARALLEL, actor=ALICE, reason="fix deployed")
    assert await control.state() == MigrationState(Mode.PARALLEL, 0, kill_switch=False)


async def test_a_change_is_broadcast_to_every_process(
    control: MigrationControl, redis_client: Redis, prefix: str
) -> None:
    async with redis_client.pubsub() as pubsub:
        await pubsub.subscribe(flag_channel(prefix))
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        await control.rollback(actor=ALICE, reason="drill")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None
    assert json.loads(message["data"])["source"] == "cli"


async def test_changes_made_in_unleash_directly_are_imported_once(
    control: MigrationControl, flags_reset: UnleashAdmin, redis_client: Redis, prefix: str
) -> None:
    await import_unleash_events(flags_reset, redis_client, prefix=prefix)  # history so far
    await control.set_mode(Mode.PARALLEL, actor=ALICE, reason="through switchyard")
    await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)  # as if someone used the UI

    added = await import_unleash_events(flags_reset, redis_client, prefix=prefix)
    again = await import_unleash_events(flags_reset, redis_client, prefix=prefix)

    assert (added, again) == (1, 0)
    imported, ours = await control.audit.recent(2)
    assert (ours.source, ours.change, ours.reason) == ("cli", "set_mode", "through switchyard")
    assert imported.source == "unleash"
    assert (imported.change, imported.after) == ("rollback", "kill switch on")
    assert imported.unleash_event_id is not None
