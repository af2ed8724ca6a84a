"""One reconciliation run: page each hook's deliveries back, find what is missing, redeliver.

The hooks are Switchyard's own (``SWITCHYARD_GITHUB_HOOKS``, through one client) and each gated
App's own webhook (``app:<system>``, through a client holding that App's credentials: its JWT
lists and redelivers, and what Switchyard stored is looked up under that system's intake). Each
hook has its own cursor: the start of its last complete run. For each hook,
:meth:`Reconciler.run`:

1. pages ``GET .../deliveries?per_page=100`` (newest first, along the ``Link`` header) until
   an attempt is older than :func:`~service.github.reconciler.plan.window_start`;
2. groups the attempts by ``guid`` and keeps the events with no successful attempt
   (:func:`~service.github.reconciler.plan.failed_events`);
3. drops those Switchyard has stored (intake's dedupe mark) or that another reconciler is
   already redelivering (a claim in Redis); what is left is the *gap*;
4. asks GitHub to redeliver each (``POST .../deliveries/{id}/attempts``), one at a time.

GitHub's rate limits are waited out by the client. A 422 (GitHub: redeliveries spammed) stops
that hook's run; an exhausted wait or GitHub down stops it too; the rest comes on the next run,
which pages back from the last *complete* one. A dry run only reports.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from service.errors import GitHubError, GitHubRejected
from service.github.api.client import GitHubClient
from service.github.api.hooks import HookRef
from service.github.reconciler.ledger import Ledger
from service.github.reconciler.plan import Attempt, Missing, failed_events, window_start
from service.pipeline.stream import EventStream

__all__ = ["HookReport", "Reconciler", "RunReport"]

_log = logging.getLogger("switchyard.reconciler")
_PER_PAGE = 100


@dataclass
class HookReport:
    hook: str
    since: float
    attempts_seen: int = 0
    failed: int = 0  # events with no successful attempt
    already_stored: int = 0
    in_flight: int = 0  # claimed by another reconciler
    gap: list[str] = field(default_factory=list)  # guids missing from Switchyard
    redelivered: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run of this hook ended early

    @property
    def complete(self) -> bool:
        return self.stopped is None


@dataclass
class RunReport:
    started: float
    dry_run: bool
    hooks: list[HookReport]

    @property
    def complete(self) -> bool:
        return all(h.complete for h in self.hooks)

    def as_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "gap": sum(len(h.gap) for h in self.hooks),
            "redelivered": sum(len(h.redelivered) for h in self.hooks),
            "hooks": [asdict(h) | {"complete": h.complete} for h in self.hooks],
        }

    def summary(self) -> dict[str, Any]:
        """The report without the guid lists (kept in Redis for status and the dashboard)."""
        return {
            **{k: v for k, v in self.as_json().items() if k != "hooks"},
            "hooks": [
                {
                    "hook": h.hook,
                    "since": h.since,
                    "attempts_seen": h.attempts_seen,
                    "failed": h.failed,
                    "already_stored": h.already_stored,
                    "in_flight": h.in_flight,
                    "gap": len(h.gap),
                    "redelivered": len(h.redelivered),
                    "complete": h.complete,
                    "stopped": h.stopped,
                }
                for h in self.hooks
            ],
        }


class Reconciler:
    def __init__(
        self,
        *,
        client: GitHubClient,
        redis: Redis,
        prefix: str,
        hooks: Sequence[HookRef],
        app_clients: Mapping[str, GitHubClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``client`` serves Switchyard's own hooks; ``app_clients[system]`` the hook of that
        system's gated App (:meth:`~service.github.api.hooks.HookRef.gated_app`)."""
        self._client = client
        self._app_clients = dict(app_clients or {})
        missing = [h.spec for h in hooks if h.system and h.system not in self._app_clients]
        if missing:
            raise ValueError(f"no App client for {', '.join(missing)}")
        self._stream = EventStream(redis, prefix=prefix)
        self.ledger = Ledger(redis, prefix=prefix)
        self._hooks = list(hooks)
        self._clock = clock

    async def run(self, *, since: float | None = None, dry_run: bool = False) -> RunReport:
        report = RunReport(started=self._clock(), dry_run=dry_run, hooks=[])
        for hook in self._hooks:
            report.hooks.append(await self._hook(hook, report.started, since, dry_run))
        if not dry_run:
            await self.ledger.count("runs")
            await self.ledger.save_report(report.summary())
        return report

    def _client_for(self, hook: HookRef) -> GitHubClient:
        return self._client if hook.system is None else self._app_clients[hook.system]

    async def _hook(
        self, hook: HookRef, started: float, since: float | None, dry_run: bool
    ) -> HookReport:
        last = await self.ledger.last_complete(hook.spec)
        oldest = window_start(now=started, last_complete=last, since=since)
        result = HookReport(hook=hook.spec, since=oldest)
        try:
            attempts = await self._attempts(hook, oldest)
        except GitHubError as error:
            result.stopped = f"listing deliveries failed: {error.message}"
            _log.warning("reconcile %s: %s", hook.spec, result.stopped)
            if not dry_run:
                await self.ledger.count("interrupted")
            return result
        result.attempts_seen = len(attempts)
        failed = failed_events(attempts, now=started)
        result.failed = len(failed)
        guids = [m.guid for m in failed]
        stored = await self._stream.stored(guids, hook=hook.intake_hook)
        claimed = await self.ledger.claimed(guids)
        result.already_stored = len(stored)
        result.in_flight = len(claimed - stored)
        gap = [m for m in failed if m.guid not in stored and m.guid not in claimed]
        result.gap = [m.guid for m in gap]
        if dry_run:
            return result
        await self.ledger.count("already_stored", len(stored))
        await self.ledger.new_gaps(result.gap)
        for missing in gap:
            if not await self._redeliver(hook, missing, result):
                break
        if result.complete and not result.in_flight:  # an unfinished redelivery: look again
            await self.ledger.set_complete(hook.spec, started)
        _log.info(
            "reconcile %s: %d attempts since %.0f, %d failed, %d stored, %d redelivered%s",
            hook.spec,
            result.attempts_seen,
            oldest,
            result.failed,
            result.already_stored,
            len(result.redelivered),
            f", stopped: {result.stopped}" if result.stopped else "",
        )
        return result

    async def _attempts(self, hook: HookRef, oldest: float) -> list[Attempt]:
        attempts: list[Attempt] = []
        pages = self._client_for(hook).iterate(
            hook.deliveries_url, params={"per_page": _PER_PAGE}, as_app=hook.as_app
        )
        async with contextlib.aclosing(pages):
            async for raw in pages:
                attempt = Attempt.from_json(raw) if isinstance(raw, dict) else None
                if attempt is None:
                    continue
                if attempt.delivered_at < oldest:
                    break  # newest first: everything after this is older still
                attempts.append(attempt)
        return attempts

    async def _redeliver(self, hook: HookRef, missing: Missing, result: HookReport) -> bool:
        """Ask GitHub to redeliver; False when this hook's run has to stop."""
        if not await self.ledger.claim(missing.guid):
            result.in_flight += 1
            return True
        try:
            await self._client_for(hook).post(
                hook.attempts_url(missing.redeliver_id), as_app=hook.as_app
            )
        except GitHubRejected as error:
            await self.ledger.release(missing.guid)
            if error.github_status == 404:  # gone from GitHub's list since we read it
                return True
            if error.github_status == 422:
                await self.ledger.count("refused")
                result.stopped = "GitHub refused a redelivery (422): too many; next run goes on"
            else:
                await self.ledger.count("interrupted")
                result.stopped = f"redelivery refused: {error.message}"
            return False
        except GitHubError as error:
            await self.ledger.release(missing.guid)
            await self.ledger.count("interrupted")
            result.stopped = f"redelivery failed: {error.message}"
            return False
        result.redelivered.append(missing.guid)
        await self.ledger.count("redelivered")
        return True
