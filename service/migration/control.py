"""Mode changes: checked against the transition table, written to Unleash, audited, broadcast.

This is the one code path behind ``switchyard mode|rollout|rollback``, the dashboard's actions
and the watchdog. A change is written through Unleash's admin API (admin token or personal
access token); once Unleash has accepted it, it is recorded in the audit trail and every
process is told to refetch its flags. How the state sits in Unleash's flags is
:mod:`service.migration.unleash_state` (``read_state`` is re-exported here).

The brake never depends on one server. A rollback that cannot reach Unleash pulls the
break-glass override in Redis instead (:mod:`service.migration.brake`), audited as such, and
:meth:`MigrationControl.sync_override` writes it to Unleash once Unleash answers again. A
rollback that reaches Unleash while Redis is down still turns the kill switch on, and its
result lists what could not be recorded (audit entry, broadcast).
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flags.admin_api import UnleashAdmin
from flags.errors import UnleashError
from flags.model import KILL_SWITCH_FLAG, Mode
from flags.transitions import Actor, Change, ChangeKind, MigrationState, check_transition
from service.errors import NotProvisioned
from service.keys import Keys
from service.migration.audit import AuditEntry, AuditTrail
from service.migration.brake import OVERRIDE_TEXT, Brake, Override
from service.migration.change_result import BrakeUnavailable, ChangeResult
from service.migration.propagation import publish_flag_change
from service.migration.unleash_events import import_unleash_events
from service.migration.unleash_state import read_state, write_state

__all__ = [
    "BrakeUnavailable",
    "ChangeResult",
    "MigrationControl",
    "NotProvisioned",
    "read_state",
]


class MigrationControl:
    def __init__(
        self, *, admin: UnleashAdmin, redis: Redis, prefix: str, audit: AuditTrail | None = None
    ) -> None:
        self._admin = admin
        self._redis = redis
        self._prefix = prefix
        self.audit = audit or AuditTrail(redis, prefix=prefix)
        self.brake = Brake(redis, prefix=prefix)
        self.own_events_key = Keys(prefix).unleash_own_events

    async def state(self) -> MigrationState:
        """Unleash's state, with the kill switch on while a break-glass override is set."""
        state, override = await self._states()
        return _merged(state, override)

    async def _states(self) -> tuple[MigrationState, Override | None]:
        state = await read_state(self._admin)
        try:
            override = await self.brake.read()
        except RedisError:
            override = None  # Redis down: Unleash's word alone
        return state, override

    async def import_unleash_changes(self) -> int:
        """Pull changes made in Unleash directly into the audit trail; how many were new."""
        return await import_unleash_events(
            self._admin, self._redis, prefix=self._prefix, audit=self.audit
        )

    async def set_mode(
        self,
        mode: Mode,
        *,
        actor: Actor,
        reason: str,
        force: bool = False,
        evidence: dict[str, Any] | None = None,
    ) -> ChangeResult:
        change = Change(ChangeKind.SET_MODE, mode=mode, force=force)
        return await self._apply(change, actor, reason, evidence)

    async def set_rollout(
        self, percentage: int, *, actor: Actor, reason: str, evidence: dict[str, Any] | None = None
    ) -> ChangeResult:
        change = Change(ChangeKind.SET_ROLLOUT, rollout=percentage)
        return await self._apply(change, actor, reason, evidence)

    async def rollback(
        self, *, actor: Actor, reason: str, evidence: dict[str, Any] | None = None
    ) -> ChangeResult:
        """Kill switch on in Unleash; when Unleash cannot be reached, the break-glass override."""
        try:
            try:
                return await self._apply(Change(ChangeKind.ROLLBACK), actor, reason, evidence)
            except NotProvisioned as misconfigured:  # the brake works with bad flags too
                return await self._kill_switch_only(actor, reason, evidence, misconfigured)
        except UnleashError as error:
            return await self._break_glass(actor, reason, evidence, error)

    async def leave_rollback(self, mode: Mode, *, actor: Actor, reason: str) -> ChangeResult:
        result = await self._apply(Change(ChangeKind.LEAVE_ROLLBACK, mode=mode), actor, reason)
        if result.changed:  # python gets a fresh start: the watchdog's evidence restarts now
            await self._redis.set(Keys(self._prefix).watchdog_since, f"{time.time():.3f}")
        return result

    async def sync_override(self, *, holder: str) -> bool:
        """Write a pending override to Unleash (kill switch on) and mark it synced, audited;
        true when this call did it. Safe to call from every process: one claim wins."""
        override = await self.brake.read()
        if override is None or not override.pending or not await self.brake.claim_sync(holder):
            return False
        try:
            await self._admin.set_enabled(KILL_SWITCH_FLAG, True)
            await self._remember_own_events([KILL_SWITCH_FLAG])
            if not await self.brake.mark_synced(override):
                return False  # released or replaced meanwhile, or marked by another holder
        finally:
            await self.brake.end_claim()
        await publish_flag_change(self._redis, prefix=self._prefix, source="break-glass")
        await self.audit.record(
            AuditEntry(
                actor=override.actor,
                source="break-glass",
                change="override_synced",
                before=OVERRIDE_TEXT,
                after="kill switch on in Unleash",
                reason=f"break-glass override written to Unleash by {holder}; "
                f"the rollback's reason: {override.reason}",
            )
        )
        return True

    async def _kill_switch_only(
        self,
        actor: Actor,
        reason: str,
        evidence: dict[str, Any] | None,
        misconfigured: NotProvisioned,
    ) -> ChangeResult:
        """Kill switch on in Unleash when the rest of the flags cannot be interpreted."""
        check_transition(_ANY_STATE, Change(ChangeKind.ROLLBACK), actor=actor, reason=reason)
        if await self._admin.is_enabled(KILL_SWITCH_FLAG):
            return ChangeResult(None, None, changed=False, misconfigured=str(misconfigured))
        await self._admin.set_enabled(KILL_SWITCH_FLAG, True)
        await self._remember_own_events([KILL_SWITCH_FLAG])
        await publish_flag_change(self._redis, prefix=self._prefix, source=actor.source)
        await self.audit.record(
            AuditEntry(
                actor=actor.name,
                source=actor.source,
                change=ChangeKind.ROLLBACK.value,
                before=f"flags misconfigured ({misconfigured})",
                after="kill switch on",
                reason=reason,
                evidence=evidence,
            )
        )
        return ChangeResult(None, None, changed=True, misconfigured=str(misconfigured))

    async def _break_glass(
        self,
        actor: Actor,
        reason: str,
        evidence: dict[str, Any] | None,
        error: UnleashError,
    ) -> ChangeResult:
        check_transition(_ANY_STATE, Change(ChangeKind.ROLLBACK), actor=actor, reason=reason)
        try:
            _, fresh = await self.brake.pull(actor=actor.name, source=actor.source, reason=reason)
        except RedisError as redis_error:
            raise BrakeUnavailable(
                f"rollback NOT applied: {error}; and Redis is unreachable for the break-glass "
                f"override ({type(redis_error).__name__})"
            ) from None
        unrecorded: list[str] = []
        try:
            await publish_flag_change(self._redis, prefix=self._prefix, source=actor.source)
        except RedisError:
            unrecorded.append("broadcast")
        if fresh:
            entry = AuditEntry(
                actor=actor.name,
                source=actor.source,
                change="rollback_override",
                before="unknown (Unleash unreachable)",
                after=OVERRIDE_TEXT,
                reason=f"{reason} [break-glass: {error}]",
                evidence=evidence,
            )
            try:
                await self.audit.record(entry)
            except RedisError:
                unrecorded.append("audit entry")
        return ChangeResult(None, None, changed=fresh, override=True, unrecorded=tuple(unrecorded))

    async def _apply(
        self,
        change: Change,
        actor: Actor,
        reason: str,
        evidence: dict[str, Any] | None = None,
    ) -> ChangeResult:
        in_unleash, override = await self._states()
        before = _merged(in_unleash, override)
        after = check_transition(before, change, actor=actor, reason=reason)
        written = await write_state(self._admin, in_unleash, after)
        released = override is not None and not after.kill_switch
        if not written and not released:
            return ChangeResult(before, after, changed=False)
        unrecorded: list[str] = []
        try:
            await self._remember_own_events(written)
            if released:
                await self.brake.release()
            elif override is not None and override.pending:
                await self.brake.mark_synced(override)  # this rollback wrote it to Unleash
        except RedisError:
            unrecorded.append("own Unleash events (they will be imported as Unleash changes)")
        try:
            await publish_flag_change(self._redis, prefix=self._prefix, source=actor.source)
        except RedisError:
            unrecorded.append("broadcast (processes see the change at their next poll)")
        try:
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
        except RedisError:
            unrecorded.append("audit entry")
        return ChangeResult(before, after, changed=True, unrecorded=tuple(unrecorded))

    async def _remember_own_events(self, flags: list[str]) -> None:
        """Mark the Unleash events our write produced, so the importer does not audit them twice."""
        if not flags:
            return
        events, _ = await self._admin.events(features=flags, limit=2 * len(flags))
        ids = [str(event["id"]) for event in events[: len(flags)]]
        if ids:
            await self._redis.sadd(self.own_events_key, *ids)


# Any state will do to check a rollback (always allowed, given a reason).
_ANY_STATE = MigrationState(Mode.TYPESCRIPT_ONLY, 0, kill_switch=False)


def _merged(state: MigrationState, override: Override | None) -> MigrationState:
    if override is None or state.kill_switch:
        return state
    return MigrationState(state.mode, state.rollout, kill_switch=True)
