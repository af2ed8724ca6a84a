"""Mode changes: checked against the transition table, written to Unleash, audited, broadcast.

This is the one code path behind ``switchyard mode|rollout|rollback``, the dashboard's actions
and the watchdog. A change is written through Unleash's admin API (admin token or personal
access token); once Unleash has accepted it, it is recorded in the audit trail and every
process is told to refetch its flags.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode
from flags.provision import mode_strategy, rollout_strategy
from flags.transitions import Actor, Change, ChangeKind, MigrationState, check_transition
from service.errors import NotProvisioned
from service.migration.audit import AuditEntry, AuditTrail
from service.migration.propagation import publish_flag_change
from service.migration.unleash_events import import_unleash_events
from service.watchdog.evidence import evidence_epoch_key

__all__ = ["ChangeResult", "MigrationControl", "NotProvisioned", "read_state"]


@dataclass(frozen=True, slots=True)
class ChangeResult:
    before: MigrationState
    after: MigrationState
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.describe(),
            "after": self.after.describe(),
            "changed": self.changed,
            "mode": self.after.effective_mode.value,
            "rollout": self.after.rollout,
            "kill_switch": self.after.kill_switch,
        }


async def _strategy(admin: UnleashAdmin, flag: str) -> dict[str, Any]:
    strategies = await admin.strategies(flag)
    if not strategies:
        raise NotProvisioned(f"flag {flag} has no strategy: run `switchyard provision`")
    return strategies[0]


async def read_state(admin: UnleashAdmin) -> MigrationState:
    """The migration's state as Unleash holds it (admin API, not the SDK's cache)."""
    mode_variants = (await _strategy(admin, MODE_FLAG)).get("variants") or []
    names = [variant.get("name") for variant in mode_variants]
    mode = Mode(names[0]) if names and names[0] in set(Mode.variants()) else None
    if mode is None:
        raise NotProvisioned(f"{MODE_FLAG} has no known mode variant ({names})")
    rollout_raw = (await _strategy(admin, ROLLOUT_FLAG)).get("parameters", {}).get("rollout", "0")
    return MigrationState(
        mode=mode,
        rollout=int(rollout_raw),
        kill_switch=await admin.is_enabled(KILL_SWITCH_FLAG),
    )


class MigrationControl:
    def __init__(
        self, *, admin: UnleashAdmin, redis: Redis, prefix: str, audit: AuditTrail | None = None
    ) -> None:
        self._admin = admin
        self._redis = redis
        self._prefix = prefix
        self.audit = audit or AuditTrail(redis, prefix=prefix)
        self.own_events_key = f"{prefix}:unleash-own-events"

    async def state(self) -> MigrationState:
        return await read_state(self._admin)

    async def import_unleash_changes(self) -> int:
        """Pull changes made in Unleash directly into the audit trail; how many were new."""
        return await import_unleash_events(
            self._admin, self._redis, prefix=self._prefix, audit=self.audit
        )

    async def set_mode(
        self, mode: Mode, *, actor: Actor, reason: str, force: bool = False
    ) -> ChangeResult:
        return await self._apply(Change(ChangeKind.SET_MODE, mode=mode, force=force), actor, reason)

    async def set_rollout(self, percentage: int, *, actor: Actor, reason: str) -> ChangeResult:
        return await self._apply(Change(ChangeKind.SET_ROLLOUT, rollout=percentage), actor, reason)

    async def rollback(
        self, *, actor: Actor, reason: str, evidence: dict[str, Any] | None = None
    ) -> ChangeResult:
        return await self._apply(Change(ChangeKind.ROLLBACK), actor, reason, evidence)

    async def leave_rollback(self, mode: Mode, *, actor: Actor, reason: str) -> ChangeResult:
        result = await self._apply(Change(ChangeKind.LEAVE_ROLLBACK, mode=mode), actor, reason)
        if result.changed:  # python gets a fresh start: the watchdog's evidence restarts now
            await self._redis.set(evidence_epoch_key(self._prefix), f"{time.time():.3f}")
        return result

    async def _apply(
        self,
        change: Change,
        actor: Actor,
        reason: str,
        evidence: dict[str, Any] | None = None,
    ) -> ChangeResult:
        before = await self.state()
        after = check_transition(before, change, actor=actor, reason=reason)
        written = await self._write(before, after)
        if not written:
            return ChangeResult(before, after, changed=False)
        await self._remember_own_events(written)
        await publish_flag_change(self._redis, prefix=self._prefix, source=actor.source)
        await self.audit.record(
            AuditEntry(
                actor=actor.name,
                source=actor.source,
                change=change.kind.value,
                before=before.describe(),
                after=after.describe(),
                reason=reason,
                evidence=evidence,
            )
        )
        return ChangeResult(before, after, changed=True)

    async def _write(self, before: MigrationState, after: MigrationState) -> list[str]:
        """Write what differs; the kill switch goes first when turning on, last when off."""
        written: list[str] = []
        if after.kill_switch and not before.kill_switch:
            await self._admin.set_enabled(KILL_SWITCH_FLAG, True)
            written.append(KILL_SWITCH_FLAG)
        if after.mode is not before.mode:
            strategy = await _strategy(self._admin, MODE_FLAG)
            await self._admin.update_strategy(MODE_FLAG, strategy["id"], mode_strategy(after.mode))
            written.append(MODE_FLAG)
        if after.rollout != before.rollout:
            strategy = await _strategy(self._admin, ROLLOUT_FLAG)
            await self._admin.update_strategy(
                ROLLOUT_FLAG, strategy["id"], rollout_strategy(after.rollout)
            )
            written.append(ROLLOUT_FLAG)
        if before.kill_switch and not after.kill_switch:
            await self._admin.set_enabled(KILL_SWITCH_FLAG, False)
            written.append(KILL_SWITCH_FLAG)
        return written

    async def _remember_own_events(self, flags: list[str]) -> None:
        """Mark the Unleash events our write produced, so the importer does not audit them twice."""
        events, _ = await self._admin.events(features=flags, limit=2 * len(flags))
        ids = [str(event["id"]) for event in events[: len(flags)]]
        if ids:
            await self._redis.sadd(self.own_events_key, *ids)
