"""The watchdog: rolls the migration back when the evidence says python is worse.

Its own process (``switchyard watchdog``); many may run, one acts: each tick, the holder of a
Redis lease reads python's consecutive failed health checks as the health monitor recorded them
(:mod:`service.health.monitor`: the watchdog never probes; its process runs a monitor), advances
the incremental evidence fold (:mod:`service.watchdog.fold`: only the rows recorded since the
last tick are read), audits the read model's recent buckets (:mod:`service.outcomes.bucket_audit`:
one gone missing is rebuilt from the streams; a failed audit is logged and the tick goes on),
asks the pure :func:`service.watchdog.verdict.decide`, and on a rollback
verdict turns the kill switch on through the same code as ``switchyard rollback``
(:class:`~service.migration.control.MigrationControl`), with the verdict's evidence in the
audit trail, then publishes a ``watchdog_rollback`` notification to the outbox
(:mod:`service.notify.outbox`; the Slack ``--alert-url`` is one of its receivers). It never turns
the switch off. ``dry_run`` only records "would roll back". A cooldown stops repeated
notifications while the switch stays on; the rollback itself is idempotent. With a
:class:`~service.plan.controller.PlanController`, the leader then runs the rollout plan's tick
with the verdict, under the same lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from flags.errors import UnleashError
from flags.transitions import Actor, ActorKind, TransitionRefused
from service.keys import Keys
from service.leases import Lease
from service.migration.control import MigrationControl, NotProvisioned
from service.notify.outbox import Notification, Outbox
from service.outcomes.bucket_audit import BucketAudit
from service.outcomes.recorder import stream_fields
from service.plan.controller import PlanController
from service.plan.decision import Decision
from service.plan.errors import PlanConflict
from service.watchdog.fold_store import EvidenceFold
from service.watchdog.verdict import Policy, Verdict, decide

__all__ = ["Watchdog", "WatchdogConfig", "describe_state"]

_log = logging.getLogger("switchyard.watchdog")


def describe_state(raw: dict[str, str], *, now: float) -> dict[str, str]:
    """The last tick's state as status shows it: ``current`` is "false" once the last tick is
    older than three intervals (at least 30 s), and then the verdict is no longer the watchdog's
    current word (a verdict and action from before a kill switch was turned off, say)."""
    if not raw:
        return {}
    try:
        age = now - float(raw.get("last_tick") or 0)
        interval = float(raw.get("interval_seconds") or 10.0)
    except ValueError:
        age, interval = float("inf"), 10.0
    current = age <= max(3 * interval, 30.0)
    described = {**raw, "current": str(current).lower(), "age_seconds": f"{age:.1f}"}
    if not current:
        described["verdict"] = f"stale ({raw.get('verdict', '?')} {age:.0f} s ago)"
        described.pop("action", None)
    return described


@dataclass(frozen=True, kw_only=True)
class WatchdogConfig:
    name: str
    interval_seconds: float = 10.0
    dry_run: bool = False
    cooldown_seconds: float = 600.0
    policy: Policy = field(default_factory=Policy)


class Watchdog:
    def __init__(
        self,
        *,
        redis: Redis,
        http: httpx.AsyncClient,
        control: MigrationControl,
        prefix: str,
        config: WatchdogConfig,
        plan: PlanController | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self._redis = redis
        self._plan = plan
        self._outbox = outbox
        self._http = http
        self._control = control
        self._prefix = prefix
        self._keys = Keys(prefix)
        self.config = config
        self._lease = Lease(
            redis,
            key=self._keys.watchdog_lease,
            holder=config.name,
            ttl_seconds=config.interval_seconds * 3,
        )
        self.state_key = self._keys.watchdog_state
        self.fold = EvidenceFold(redis, prefix=prefix, policy=config.policy)
        self.audit = BucketAudit(redis, prefix=prefix)

    async def _python_health_failures(self) -> int:
        """Python's consecutive failed health checks, as the health monitor recorded them."""
        return int(await self._redis.get(self._keys.health_failures("python")) or 0)

    async def tick(self) -> Verdict | None:
        """One round; None when another watchdog holds the lease."""
        if not await self._lease.acquire():
            return None
        health_failures = await self._python_health_failures()
        fold = await self.fold.advance()
        await self._audit()
        verdict = decide(fold.evidence(python_health_failures=health_failures), self.config.policy)
        state: dict[str, str] = {
            "leader": self.config.name,
            "last_tick": f"{time.time():.3f}",
            "interval_seconds": repr(self.config.interval_seconds),
            "dry_run": str(self.config.dry_run).lower(),
            "verdict": "rollback" if verdict.rollback else "ok",
            "rule": verdict.rule.value if verdict.rule else "",
            "reasons": "; ".join(verdict.reasons),
            "evidence": json.dumps(verdict.evidence),
            "epoch": f"{fold.epoch:.3f}",
            "folded_rows": str(fold.rows),
            "fold": "rebuilt" if fold.rebuilt_at is not None else "incremental",
            "fold_rebuilt_at": "" if fold.rebuilt_at is None else f"{fold.rebuilt_at:.3f}",
            "buckets_rebuilt": str(self.audit.rebuilt),
        }
        if verdict.rollback:
            state["action"] = await self._act(verdict)
        if self._plan is not None:
            decision = await self._plan_tick(self._plan, verdict)
            state["plan"] = "" if decision is None else f"{decision.action}: {decision.reason}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.state_key)  # this tick's state only: no earlier action lingers
            pipe.hset(self.state_key, mapping=stream_fields(state))
            await pipe.execute()
        return verdict

    async def _audit(self) -> None:
        """Rebuild read-model buckets that went missing; a failed audit never stops a tick."""
        try:
            await self.audit.run()
        except (RedisError, ValueError) as error:
            _log.warning("read-model audit failed, the tick goes on: %s", error)

    async def _plan_tick(self, plan: PlanController, verdict: Verdict) -> Decision | None:
        """The rollout plan's tick, under this watchdog's lease (see service.plan.controller)."""
        try:
            return await plan.tick(verdict, dry_run=self.config.dry_run)
        except (TransitionRefused, NotProvisioned, PlanConflict) as refused:
            _log.warning("plan tick refused: %s", refused)
            return None

    async def _act(self, verdict: Verdict) -> str:
        reason = "; ".join(verdict.reasons)
        if self.config.dry_run:
            _log.warning("would roll back (dry run): %s", reason)
            return "would roll back (dry run)"
        actor = Actor(self.config.name, ActorKind.WATCHDOG, "watchdog")
        result = await self._control.rollback(actor=actor, reason=reason, evidence=verdict.evidence)
        if not result.changed:
            return "kill switch already on"
        _log.error("rolled back: %s", result.summary() if result.override else reason)
        fresh = await self._redis.set(
            self._keys.watchdog_cooldown,
            "1",
            nx=True,
            ex=max(1, int(self.config.cooldown_seconds)),
        )
        if fresh and self._outbox is not None:
            await self._outbox.publish(
                Notification(
                    kind="watchdog_rollback",
                    text=f":rotating_light: Switchyard rolled back to typescript: {reason}",
                    actor=self.config.name,
                    details={"reason": reason, "evidence": verdict.evidence},
                )
            )
        return "rolled back (break-glass override)" if result.override else "rolled back"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except (UnleashError, RedisError, OSError) as error:
                _log.warning("watchdog tick failed: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.interval_seconds)
