"""The worker's side of the ``github-app`` kind: forward an App's delivery only when it should act.

For a stream entry from ``/webhooks/github/{system}`` (it has ``hook``), :meth:`AppGate.handle`:

1. asks what the delivery is about (:mod:`~service.agents.github_app.subject`);
2. for an issue, under the issue's lock: routes it (the sticky owner claim, so two Apps'
   copies of one event agree), or, for a linked pull request or CI event, reads the owner of
   the first owned linked issue without claiming anything;
3. forwards it where :func:`~service.agents.github_app.decide.target_for` says, re-signed
   (:mod:`~service.agents.github_app.forward`), with retries; the fence (the issue lock still
   ours) is checked before every attempt. 4xx from the App: dead letter with its answer;
   5xx or timeouts after the last try: dead letter too.

Each (delivery, system, role) is forwarded once (a mark set after the App took it; a crash
in between resends the same ``X-GitHub-Delivery``, which the App deduplicates). On a hand-back
to a ``github-app`` system, :meth:`AppGate.handed_back` forwards it its own last ``issues``
delivery of the issue; the old owner's App gets nothing more of it. The App's first acting
``issues`` delivery of an issue starts awaiting its outcome from GitHub (a job is recorded).

Counts (``Keys.app_gate_counts``): ``forwarded:{system}:{role}``, ``withheld:*``,
``repeat:*``, ``dead:*``, ``handed_over:*``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from flags.model import Issue, System
from service.agents.github_app.decide import Role, Target, target_for
from service.agents.github_app.forward import WebhookForwarder
from service.agents.github_app.subject import AboutIssue, AboutLinked, subject_of
from service.errors import AgentError, PayloadError
from service.json_input import load_json
from service.keys import Keys
from service.outcomes.from_github import GitHubOutcomes
from service.pipeline.dispatch import Fence, Fenced
from service.pipeline.issue_lock import IssueLock, LockTimeout
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.pipeline.retry import RetryPolicy, retry
from service.pipeline.stream import EventStream, StreamEntry
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter, RoutingCounters
from service.system_kinds import AgentKind, SystemSettings

__all__ = ["AppGate", "gate_counts_key"]

_log = logging.getLogger("switchyard.app_gate")
_MARK_SECONDS = 14 * 24 * 3600
_LAST_SECONDS = 30 * 24 * 3600


def gate_counts_key(prefix: str) -> str:
    """The hash counting what the gate did with Apps' deliveries."""
    return Keys(prefix).app_gate_counts


async def _always() -> bool:
    return True


class AppGate:
    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str,
        systems: Mapping[System, SystemSettings],
        forwarder: WebhookForwarder,
        stream: EventStream,
        lock: IssueLock,
        owners: OwnershipStore,
        counters: RoutingCounters,
        flags_router: IssueRouter,
        policy: RetryPolicy,
        lock_wait_seconds: float,
        cancel_python: Callable[[Issue], Awaitable[object]],
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        outcomes: GitHubOutcomes | None = None,
    ) -> None:
        self._redis, self._prefix, self._systems = redis, prefix, systems
        self._forwarder, self._stream, self._lock = forwarder, stream, lock
        self._owners, self._counters = owners, counters
        self._router = flags_router  # without counters: each event is counted once, below
        self._policy = policy
        self._lock_wait = lock_wait_seconds
        self._cancel_python = cancel_python
        self._sleep = sleep
        self._outcomes = outcomes
        self._jobs = JobStore(redis, prefix=prefix)
        self.counts_key = gate_counts_key(prefix)

    async def handle(self, entry: StreamEntry) -> bool:
        """Handle one App delivery; true if the entry may be acknowledged."""
        hook = System(entry.hook or "")
        config = self._systems[hook]
        if config.kind is not AgentKind.GITHUB_APP or config.webhook_url is None:
            await self._bury(entry, hook, f"{hook} is not a github-app system (any more)", 0)
            return True
        try:
            payload = load_json(entry.body, delivery_id=entry.delivery_id)
            subject = subject_of(event=entry.event, delivery_id=entry.delivery_id, payload=payload)
        except (ValueError, PayloadError) as error:
            await self._bury(entry, hook, f"unparseable {entry.event} delivery: {error}", 0)
            return True
        if self._outcomes is not None:  # the App's own PR or comment may settle an outcome
            await self._outcomes.observe(event=entry.event, body=entry.body, at=entry.received_at)
        if isinstance(subject, AboutIssue | AboutLinked):
            try:
                return await self._routable(entry, hook, config, subject)
            except (LockTimeout, Fenced) as error:
                _log.warning("delivery %s left pending: %s", entry.delivery_id, error)
                return False
        target = target_for(
            hook=hook,
            routable=False,
            acting=None,
            shadow=None,
            webhook_url=config.webhook_url,
            shadow_url=config.shadow_webhook_url,
        )
        await self._send(entry, hook, target, issue=None, fence=_always)
        return True

    async def _routable(
        self,
        entry: StreamEntry,
        hook: System,
        config: SystemSettings,
        subject: AboutIssue | AboutLinked,
    ) -> bool:
        found = (
            subject.issue
            if isinstance(subject, AboutIssue)
            else await self._first_owned(subject.issues)
        )
        if found is None:
            await self._count(f"withheld:{hook}")
            _log.info("delivery %s (%s): linked issues have no owner", entry.delivery_id, hook)
            return True
        issue: Issue = found
        async with self._lock.hold(issue, wait_seconds=self._lock_wait) as token:

            async def fence() -> bool:
                return await self._lock.extend(issue, token)

            if isinstance(subject, AboutIssue):
                routed = await self._router.route(issue, delivery_id=entry.delivery_id)
                decision = routed.decision
                if decision.acting is hook:  # one App's copy counts the event, not every copy
                    await self._counters.record(
                        decision, routed.freshness, issue=issue, delivery_id=entry.delivery_id
                    )
                if subject.is_issues_event:
                    await self._remember(issue, hook, entry)
                if decision.hand_back:
                    await self._cancel_python(issue)
                    await self.handed_back(issue, to=decision.acting, fence=fence)
                acting: System | None = decision.acting
                shadow = decision.shadow
            else:
                explained = await self._router.explain(issue)
                owner = explained.owner
                acting = owner.system if owner is not None else None
                shadow = explained.decision.shadow
            target = target_for(
                hook=hook,
                routable=True,
                acting=acting,
                shadow=shadow,
                webhook_url=config.webhook_url or "",
                shadow_url=config.shadow_webhook_url,
            )
            sent = await self._send(entry, hook, target, issue=issue, fence=fence)
            if sent and target.role is Role.ACT and isinstance(subject, AboutIssue):
                await self._awaits_outcome(entry, hook, issue)
        return True

    async def _awaits_outcome(self, entry: StreamEntry, hook: System, issue: Issue) -> None:
        """The App was set to work on ``issue``: await its outcome from GitHub, on a job."""
        if self._outcomes is None or entry.event != "issues":
            return
        reopened = json.loads(entry.body).get("action") == "reopened"
        if await self._outcomes.dispatched(hook, issue, reopened=reopened):
            job_id = job_id_for(entry.delivery_id, hook, dry_run=False)
            job = Job(job_id, entry.delivery_id, issue, hook, False, JobState.PENDING)
            await self._jobs.record(job)
            await self._jobs.update(job_id, JobState.DISPATCHED, attempts=1)

    async def handed_back(self, issue: Issue, *, to: System, fence: Fence) -> None:
        """``issue`` now belongs to ``to``: if ``to`` is an App, forward it the last ``issues``
        delivery it sent about the issue. Call it while holding the issue's lock."""
        config = self._systems[to]
        if config.kind is not AgentKind.GITHUB_APP or config.webhook_url is None:
            return
        fields = await self._redis.hgetall(self._last_key(issue, to))
        if not fields:
            return
        entry = StreamEntry(
            entry_id="",
            delivery_id=str(fields["delivery_id"]),
            event=str(fields["event"]),
            received_at=float(fields["received_at"]),
            body=str(fields["body"]).encode(),
            hook=str(to),
            headers=tuple((name, value) for name, value in json.loads(fields["headers"])),
        )
        target = Target(Role.ACT, config.webhook_url, f"{issue} handed back to {to}")
        if await self._send(entry, to, target, issue=issue, fence=fence):
            await self._count(f"handed_over:{to}")

    async def _first_owned(self, issues: tuple[Issue, ...]) -> Issue | None:
        for issue in issues:
            if await self._owners.owner(issue) is not None:
                return issue
        return None

    def _last_key(self, issue: Issue, system: System) -> str:
        return Keys(self._prefix).app_last_issues(issue, system)

    async def _remember(self, issue: Issue, hook: System, entry: StreamEntry) -> None:
        key = self._last_key(issue, hook)
        known = await self._redis.hget(key, "received_at")
        if known is not None and float(known) > entry.received_at:
            return  # a reclaimed older entry never replaces a newer one
        fields: dict[FieldT, EncodableT] = {
            "delivery_id": entry.delivery_id,
            "event": entry.event,
            "received_at": f"{entry.received_at:.6f}",
            "body": entry.body.decode(),
            "headers": json.dumps([list(pair) for pair in entry.headers]),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, _LAST_SECONDS)
            await pipe.execute()

    async def _send(
        self, entry: StreamEntry, hook: System, target: Target, *, issue: Issue | None, fence: Fence
    ) -> bool:
        """Forward once per (delivery, system, role); true if this call forwarded it."""
        if target.role is None or target.url is None:
            await self._count(f"withheld:{hook}")
            _log.info("delivery %s not forwarded to %s: %s", entry.delivery_id, hook, target.why)
            return False
        mark = Keys(self._prefix).app_forwarded(hook, target.role, entry.delivery_id)
        if await self._redis.exists(mark):
            await self._count(f"repeat:{hook}")
            return False
        secret = self._systems[hook].webhook_secret
        if secret is None:
            await self._bury(entry, hook, f"no webhook secret is configured for {hook}", 0)
            return False
        attempts = 0
        url = target.url

        async def attempt() -> None:
            nonlocal attempts
            if not await fence() and issue is not None:
                raise Fenced(issue, f"forward {entry.delivery_id}")
            attempts += 1
            await self._forwarder.forward(
                system=hook,
                url=url,
                secret=secret,
                body=entry.body,
                headers=entry.headers,
                delivery_id=entry.delivery_id,
                issue=issue,
            )

        try:
            await retry(attempt, self._policy, sleep=self._sleep)
        except AgentError as error:
            await self._bury(entry, hook, str(error), attempts)
            return False
        await self._redis.set(mark, f"{time.time():.6f}", ex=_MARK_SECONDS)
        await self._count(f"forwarded:{hook}:{target.role}")
        _log.info("delivery %s forwarded to %s: %s", entry.delivery_id, hook, target.why)
        return True

    async def _bury(self, entry: StreamEntry, hook: System, error: str, attempts: int) -> None:
        dead_id = await self._stream.bury(entry, system=str(hook), error=error, attempts=attempts)
        await self._count(f"dead:{hook}")
        _log.error(
            "dead letter %s: delivery %s for %s: %s", dead_id, entry.delivery_id, hook, error
        )

    async def _count(self, field: str) -> None:
        await self._redis.hincrby(self.counts_key, field, 1)
