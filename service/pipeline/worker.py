"""The dispatch worker: consumes the event stream and hands routed issues to the agent systems.

One loop per worker process, in the consumer group ``workers``:

1. claim entries left pending longer than ``claim_idle_ms`` (``XAUTOCLAIM``), else read new;
2. handle each; acknowledge it once its outcome is recorded (dispatched, done, dead, or none).

An ``issues`` event is handled under the issue's lock: route it (sticky ownership), cancel
python's in-flight work on a hand-back or while the kill switch is on, dispatch the acting job,
then the shadow job (dry run) in parallel mode (:class:`~service.pipeline.dispatch.Dispatcher`).
Pull request and CI events go to the quality sink. A poison entry is dead-lettered; Redis errors
leave it pending and the loop pauses and carries on.

While the kill switch or the break-glass brake is on, each worker sweeps python's issues about
once a second: under each issue's lock it cancels python's in-flight jobs (their deliveries are
routed again) and hands the issue back to typescript (a locked issue is left to its event's worker;
an entry that fails is logged and skipped, the others still go).

A heartbeat keeps the entries in hand from going idle. ``bots``: a GitHub App's delivery goes
to the gate; triggers and GitHub-event outcomes hear of routings and hand-backs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flags.model import Issue, Mode, System
from flags.source import FlagSource
from service.agents.bots import BotSupport
from service.agents.github_app.gate import AppGate
from service.agents.protocol import AgentSystem
from service.errors import PayloadError, SwitchyardError
from service.escape import escape
from service.github.events import CheckCompleted, IssueEvent, PullRequestClosed, parse_event
from service.pipeline.dispatch import Dispatcher, Fenced
from service.pipeline.heartbeat import Heartbeat
from service.pipeline.issue_lock import IssueLock, LockTimeout
from service.pipeline.jobs import JobStore
from service.pipeline.retry import RetryPolicy, backoff_delay
from service.pipeline.stream import GROUP, EventStream, StreamEntry
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter, RoutingCounters

__all__ = ["QualitySink", "Worker"]

_log = logging.getLogger("switchyard.worker")

_SWEEP_SECONDS, _SWEEP_BATCH = 1.0, 100  # python's issues swept while the kill switch is on
# The pause after consecutive loop failures (Redis down): 0.1 s doubling up to 5 s, jittered.
_LOOP_BACKOFF = RetryPolicy(max_attempts=1, base_seconds=0.1, cap_seconds=5.0)


class QualitySink(Protocol):
    """Where pull-request and CI outcomes go: the quality metrics of the owning system."""

    async def pull_request_closed(self, event: PullRequestClosed) -> None: ...

    async def check_completed(self, event: CheckCompleted) -> None: ...


class Worker:
    """A consumer of the event stream; run as many as you like, in any number of processes."""

    def __init__(
        self,
        *,
        redis: Redis,
        flags: FlagSource,
        agents: Mapping[System, AgentSystem],
        prefix: str,
        callback_base: str,
        consumer: str,
        policy: RetryPolicy | None = None,
        claim_idle_ms: int = 30_000,
        lock_ttl_seconds: float = 60.0,
        quality: QualitySink | None = None,
        batch: int = 1,
        block_ms: int = 1000,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        bots: BotSupport | None = None,
    ) -> None:
        if claim_idle_ms <= 0 or batch <= 0 or block_ms <= 0:
            raise ValueError("claim_idle_ms, batch and block_ms must be positive")
        self.consumer = consumer
        self.stream = EventStream(redis, prefix=prefix)
        self.jobs = JobStore(redis, prefix=prefix)
        self._claim_idle_ms = claim_idle_ms
        self._lock_ttl = lock_ttl_seconds
        self._lock = IssueLock(redis, prefix=prefix, ttl_seconds=lock_ttl_seconds)
        self._owners = OwnershipStore(redis, prefix=prefix)
        self._router = IssueRouter.counted(
            flags=flags, owners=self._owners, redis=redis, prefix=prefix
        )
        self._next_sweep = 0.0
        self._dispatcher = Dispatcher(
            stream=self.stream,
            jobs=self.jobs,
            agents=agents,
            policy=policy or RetryPolicy(),
            callback_base=callback_base,
            sleep=sleep,
        )
        self._quality = quality
        self._triggers = bots.triggers if bots is not None else None
        self._outcomes = bots.outcomes if bots is not None else None
        self._gate = None
        if bots is not None and bots.forwarder is not None:  # GitHub Apps' own hooks
            self._gate = AppGate(
                redis=redis,
                prefix=prefix,
                systems=bots.systems,
                forwarder=bots.forwarder,
                outcomes=bots.outcomes,
                stream=self.stream,
                lock=self._lock,
                owners=self._owners,
                counters=RoutingCounters(redis, prefix=prefix),
                flags_router=IssueRouter(flags=flags, owners=self._owners),
                policy=policy or RetryPolicy(),
                lock_wait_seconds=lock_ttl_seconds,
                cancel_python=self._python_handed_back,
                sleep=sleep,
            )
        self._batch = batch
        self._block_ms = block_ms
        self._beat = Heartbeat(
            redis,
            stream=self.stream.key,
            group=GROUP,
            consumer=consumer,
            claim_idle_ms=claim_idle_ms,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the entry in hand is finished first."""
        heartbeat = asyncio.create_task(self._beat.run(), name=f"heartbeat {self.consumer}")
        _log.info("worker %s consuming %s", self.consumer, self.stream.key)
        failures, ready = 0, False
        try:
            while not stop.is_set():
                try:
                    if not ready:
                        await self.stream.ensure_group()
                        ready = True
                    await self._step(stop)
                    failures = 0
                except Exception as error:  # a worker outlives Redis hiccups and its own bugs
                    ready, failures = False, failures + 1
                    await self._pause(error, failures, stop)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            _log.info("worker %s stopped", self.consumer)

    async def _pause(self, error: Exception, failures: int, stop: asyncio.Event) -> None:
        pause = backoff_delay(_LOOP_BACKOFF, min(failures, 32))
        if isinstance(error, RedisError | OSError):
            _log.warning("worker %s: Redis: %s; again in %.2f s", self.consumer, error, pause)
        else:
            _log.exception("worker %s: unexpected error; again in %.2f s", self.consumer, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)

    async def _step(self, stop: asyncio.Event) -> None:
        await self._sweep()
        entries = await self.stream.claim_stale(
            self.consumer, min_idle_ms=self._claim_idle_ms, count=self._batch
        )
        for entry in entries:
            _log.info("claimed stale entry %s (delivery %s)", entry.entry_id, entry.delivery_id)
        if not entries:
            entries = await self.stream.read(
                self.consumer, count=self._batch, block_ms=self._block_ms
            )
        self._beat.held.update(entry.entry_id for entry in entries)
        try:
            for entry in entries:
                if stop.is_set():
                    break  # the rest stays pending and is claimed by another worker
                if await self.handle(entry):
                    await self.stream.ack(entry.entry_id)
                self._beat.held.discard(entry.entry_id)
        finally:
            self._beat.held.difference_update(entry.entry_id for entry in entries)

    async def handle(self, entry: StreamEntry) -> bool:
        """Handle one entry; true if it may be acknowledged. Redis errors propagate."""
        if entry.hook is not None:  # a GitHub App's own delivery: the gate decides
            if self._gate is None:
                await self._bury(entry, f"no gate for {entry.hook}'s App: not a github-app")
                return True
            return await self._gate.handle(entry)
        try:
            event = parse_event(event=entry.event, delivery_id=entry.delivery_id, body=entry.body)
        except PayloadError as error:
            await self._bury(entry, f"unparseable {entry.event} delivery: {error}")
            return True
        try:
            if isinstance(event, IssueEvent):
                return await self._issue(entry, event)
            if isinstance(event, PullRequestClosed) and self._quality is not None:
                await self._quality.pull_request_closed(event)
            elif isinstance(event, CheckCompleted) and self._quality is not None:
                await self._quality.check_completed(event)
            if self._outcomes is not None:  # a bot's PR or comment, for systems without callback
                await self._outcomes.observe(
                    event=entry.event, body=entry.body, at=entry.received_at
                )
            return True
        except RedisError:
            raise
        except Exception as error:  # a poison entry is set aside, not retried for ever
            _log.exception("entry %s (delivery %s) failed", entry.entry_id, entry.delivery_id)
            await self._bury(entry, f"{type(error).__name__}: {error}")
            return True

    async def _issue(self, entry: StreamEntry, event: IssueEvent) -> bool:
        issue = event.issue
        try:
            async with self._lock.hold(issue, wait_seconds=self._lock_ttl) as token:

                async def fence() -> bool:
                    return await self._lock.extend(issue, token)

                routed = await self._router.route(issue, delivery_id=event.delivery_id)
                decision = routed.decision
                owner = routed.owner.token if routed.owner is not None else 0
                if decision.hand_back or decision.mode is Mode.EMERGENCY_ROLLBACK:
                    await self._dispatcher.cancel_in_flight(issue, system=System.PYTHON)
                if decision.hand_back and self._gate is not None:
                    await self._gate.handed_back(issue, to=decision.acting, fence=fence)
                if self._triggers is not None:
                    if decision.hand_back:
                        await self._triggers.handed_back(issue, old=System.PYTHON)
                    await self._triggers.routed(event, owner=decision.acting)
                await self._dispatcher.acting(
                    entry, event, decision.acting, owner=owner, fence=fence
                )
                if decision.shadow is not None:
                    await self._dispatcher.shadow(event, decision.shadow, owner=owner, fence=fence)
        except (LockTimeout, Fenced) as error:  # another worker has (or had) the issue
            _log.warning("delivery %s left pending: %s", event.delivery_id, error)
            return False
        return True

    async def _sweep(self) -> None:
        """The rollback sweep of the module's docstring (at most every ``_SWEEP_SECONDS``)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_SECONDS
        if not await self._router.rolling_back():
            return
        for issue in await self._owners.issues_owned_by(System.PYTHON, limit=_SWEEP_BATCH):
            decision = (await self._router.explain(issue)).decision
            if not decision.hand_back:
                continue
            try:
                async with self._lock.hold(issue, wait_seconds=0) as token:
                    if await self._dispatcher.cancel_in_flight(issue, system=System.PYTHON) is None:
                        continue  # python did not answer: still its issue, tried again next sweep
                    moved = await self._owners.hand_back(
                        issue, expected=System.PYTHON, to=System.TYPESCRIPT, reason=decision.reason
                    )
                    if moved is not None and self._triggers is not None:
                        await self._triggers.handed_back(issue, old=System.PYTHON)
                    if moved is not None and self._gate is not None:
                        await self._gate.handed_back(
                            issue,
                            to=System.TYPESCRIPT,
                            fence=functools.partial(self._lock.extend, issue, token),
                        )
                    _log.info("rollback sweep: %s handed back to typescript", issue)
            except LockTimeout:
                continue  # an event of the issue is in hand; its worker hands the issue back
            except (SwitchyardError, ValueError) as error:  # one bad entry never stops the rest
                _log.error("rollback sweep: %s skipped: %s", escape(issue), escape(error))

    async def _python_handed_back(self, issue: Issue) -> None:
        """The gate handed ``issue`` back: python's jobs and trigger go."""
        await self._dispatcher.cancel_in_flight(issue, system=System.PYTHON)
        if self._triggers is not None:
            await self._triggers.handed_back(issue, old=System.PYTHON)

    async def _bury(self, entry: StreamEntry, error: str) -> None:
        dead_id = await self.stream.bury(entry, system="-", error=error, attempts=0)
        _log.error("dead letter %s: delivery %s: %s", dead_id, entry.delivery_id, error)
