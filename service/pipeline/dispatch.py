"""Dispatching the jobs of one routed ``issues`` event, once each, with retries.

Every job has a stable id (:func:`~service.pipeline.jobs.job_id_for`) and a record in the
:class:`~service.pipeline.jobs.JobStore`. Before a job is sent, its record is consulted: a job
already ``dispatched``, ``completed``, ``cancelled`` or ``dead`` is not sent again. A job still
``pending`` (a worker died before the agent's answer arrived) is sent again under the same id,
which the agent system treats as an idempotency key: together, each job is acted on once across
crashes, claims and redeliveries.

Right before every attempt the caller's fence is checked (the issue lock still held under the
same fencing token, and prolonged); if it fails, :class:`Fenced` is raised and nothing more is
sent. The acting job is the control path: when the agent refuses it or the retries run out, the
event goes to the dead-letter stream and the job is marked ``dead``. The shadow job is the
candidate: whatever goes wrong is logged and the job marked ``dead``, but it never reaches the
dead-letter stream and never fails the acting path (GitHub's Scientist).

Cancelling a system's in-flight jobs (a rollback) hands each cancelled acting job's delivery
over: it is appended to the event stream again and routed anew, so its work is not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from redis.exceptions import RedisError

from flags.model import Issue, System
from service.agents.protocol import AgentJob, AgentSystem
from service.errors import AgentError, AgentRejected, Fenced
from service.github.events import IssueEvent
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.pipeline.retry import RetryPolicy, retry
from service.pipeline.stream import DeadLetter, EventStream, StreamEntry

__all__ = ["Dispatcher", "Fence", "Fenced", "replay_dead_letter", "reset_dead_jobs"]

_log = logging.getLogger("switchyard.dispatch")

Fence = Callable[[], Awaitable[bool]]
"""Checks, right before an attempt, that the caller still holds the issue; false = stop."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    job_id: str
    state: JobState
    attempts: int
    error: AgentError | None = None


class Dispatcher:
    """Sends jobs to the agent systems: stable ids, the job record, fence, retry, dead letters."""

    def __init__(
        self,
        *,
        stream: EventStream,
        jobs: JobStore,
        agents: Mapping[System, AgentSystem],
        policy: RetryPolicy,
        callback_base: str,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._stream = stream
        self._jobs = jobs
        self._agents = agents
        self._policy = policy
        self._callback_base = callback_base.rstrip("/")
        self._sleep = sleep

    def callback_url(self, system: System) -> str:
        return f"{self._callback_base}/agents/{system}/completions"

    async def acting(
        self, entry: StreamEntry, event: IssueEvent, system: System, *, owner: int, fence: Fence
    ) -> JobState:
        """Dispatch the acting job; dead-letter the entry if it cannot be dispatched."""
        outcome = await self._send(event, system, dry_run=False, owner=owner, fence=fence)
        if outcome.error is None:
            return outcome.state
        # Bury first: a crash between the two leaves a pending job that is retried (and at
        # worst buried twice), never a dead job without its dead letter.
        await self._stream.bury(
            entry, system=str(system), error=str(outcome.error), attempts=outcome.attempts
        )
        await self._jobs.update(outcome.job_id, JobState.DEAD, attempts=outcome.attempts)
        kind = "refused" if isinstance(outcome.error, AgentRejected) else "retries exhausted"
        _log.error(
            "dead letter: %s job %s for %s (delivery %s) %s after %d attempts: %s",
            system,
            outcome.job_id,
            event.issue,
            event.delivery_id,
            kind,
            outcome.attempts,
            outcome.error,
        )
        return JobState.DEAD

    async def shadow(
        self, event: IssueEvent, system: System, *, owner: int, fence: Fence
    ) -> JobState:
        """Dispatch the shadow (dry-run) job; its failures are recorded, never raised."""
        job_id = job_id_for(event.delivery_id, system, dry_run=True)
        try:
            outcome = await self._send(event, system, dry_run=True, owner=owner, fence=fence)
            if outcome.error is None:
                return outcome.state
            problem: BaseException = outcome.error
            attempts: int | None = outcome.attempts
        except (Fenced, RedisError):
            raise  # not the candidate's failure: the whole event is retried later
        except Exception as error:  # the candidate never fails the control
            problem, attempts = error, None
        await self._jobs.update(job_id, JobState.DEAD, attempts=attempts)
        _log.warning(
            "shadow %s job %s for %s (delivery %s) failed: %s: %s",
            system,
            job_id,
            event.issue,
            event.delivery_id,
            type(problem).__name__,
            problem,
        )
        return JobState.DEAD

    async def cancel_in_flight(
        self, issue: Issue, *, system: System = System.PYTHON
    ) -> list[str] | None:
        """Cancel ``system``'s in-flight jobs on ``issue`` (the hand-back); the ids cancelled,
        or None if the agent could not be reached (the jobs stay in flight, to be cancelled
        next time). The delivery of every cancelled acting job is handed over (appended to
        the event stream again, once), so its work is routed anew, not lost."""
        jobs = [job for job in await self._jobs.in_flight(issue) if job.system is system]
        if not jobs:
            return []
        agent = self._agents[system]
        try:
            await retry(lambda: agent.cancel(issue), self._policy, sleep=self._sleep)
        except AgentError as error:
            _log.error("could not cancel %s's work on %s: %s", system, issue, error)
            return None
        # Hand over before marking cancelled: a crash in between leaves the jobs in flight,
        # cancelled again next time, and the hand-over happens once whatever the repeats.
        for job in jobs:
            if not job.dry_run and await self._stream.hand_over(job.delivery_id) is None:
                _log.error("cannot hand over delivery %s: its entry is gone", job.delivery_id)
        for job in jobs:
            await self._jobs.update(job.job_id, JobState.CANCELLED)
        _log.info("cancelled %s's jobs on %s: %s", system, issue, [job.job_id for job in jobs])
        return [job.job_id for job in jobs]

    async def _send(
        self, event: IssueEvent, system: System, *, dry_run: bool, owner: int, fence: Fence
    ) -> _Outcome:
        job_id = job_id_for(event.delivery_id, system, dry_run=dry_run)
        stored = await self._jobs.record(
            Job(
                job_id=job_id,
                delivery_id=event.delivery_id,
                issue=event.issue,
                system=system,
                dry_run=dry_run,
                state=JobState.PENDING,
                owner_token=owner,
            )
        )
        if not stored.state.to_send:
            _log.info("job %s is already %s: not sent again", job_id, stored.state)
            return _Outcome(job_id, stored.state, stored.attempts)
        job = AgentJob.for_event(
            event, job_id=job_id, dry_run=dry_run, callback_url=self.callback_url(system)
        )
        agent = self._agents[system]
        attempts = stored.attempts

        async def attempt() -> None:
            nonlocal attempts
            if not await fence():
                raise Fenced(event.issue, job_id)
            attempts += 1
            await agent.process(job)

        try:
            await retry(attempt, self._policy, sleep=self._sleep)
        except AgentError as error:
            current = await self._jobs.get(job_id)
            if current is not None and current.state is JobState.COMPLETED:
                # the agent's answers were lost, but it took the job: its completion came back
                _log.info("job %s completed though its dispatch failed: %s", job_id, error)
                return _Outcome(job_id, JobState.COMPLETED, attempts)
            return _Outcome(job_id, JobState.PENDING, attempts, error)
        current = await self._jobs.get(job_id)
        if current is None or current.state.to_send:
            # not over a completion whose callback beat this line (a fast agent)
            await self._jobs.update(
                job_id, JobState.DISPATCHED, attempts=attempts, owner_token=owner
            )
        role = "shadow" if dry_run else "acting"
        _log.info(
            "dispatched %s %s job %s for %s (delivery %s, %d attempts)",
            role,
            system,
            job_id,
            event.issue,
            event.delivery_id,
            attempts,
        )
        return _Outcome(job_id, JobState.DISPATCHED, attempts)


async def reset_dead_jobs(jobs: JobStore, delivery_id: str) -> list[str]:
    """Set the ``dead`` jobs of a delivery back to ``pending`` so a replay dispatches them again
    (same job ids); the ids reset."""
    reset = []
    for system in System:
        for dry_run in (False, True):
            job_id = job_id_for(delivery_id, system, dry_run=dry_run)
            job = await jobs.get(job_id)
            if job is not None and job.state is JobState.DEAD:
                await jobs.update(job_id, JobState.PENDING)
                reset.append(job_id)
    return reset


async def replay_dead_letter(
    *, stream: EventStream, jobs: JobStore, letter: DeadLetter
) -> str | None:
    """Put a dead letter back on the event stream; the new entry id, None if already gone.
    Its dead jobs are reset first, so a worker that picks the entry up at once dispatches."""
    await reset_dead_jobs(jobs, letter.delivery_id)
    return await stream.replay(letter.dead_id)
