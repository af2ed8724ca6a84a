"""Dispatch jobs: one per (delivery, system, acting or shadow), with a stable id.

The job id is derived from the delivery id, the system and the role, so a redelivered or
re-claimed event produces the same id and the agent systems can use it as an idempotency key.
A job's record in Redis says how far it got; the worker consults it before dispatching again,
and completion callbacks are accepted only for jobs recorded here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from flags.model import Issue, System
from service.keys import Keys

__all__ = ["Job", "JobState", "JobStore", "job_id_for"]

_TTL_SECONDS = 30 * 24 * 3600

# KEYS: job, in-flight set of its issue. ARGV: job id, state, updated_at, attempts or '',
# owner token or ''. Applies JobState.may_become in one step, so a completion and the dispatching
# worker's DISPATCHED racing each other cannot move a finished job back. 1 if moved.
_UPDATE = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then
  return 0
end
local finished = current == 'completed' or current == 'cancelled'
local backwards = ARGV[2] == 'pending' or ARGV[2] == 'dispatched' or ARGV[2] == 'dead'
if finished and backwards then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'attempts', ARGV[4])
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'owner_token', ARGV[5])
end
if ARGV[2] == 'completed' or ARGV[2] == 'cancelled' or ARGV[2] == 'dead' then
  redis.call('SREM', KEYS[2], ARGV[1])
else
  redis.call('SADD', KEYS[2], ARGV[1])
end
return 1
"""


class JobState(StrEnum):
    PENDING = "pending"  # recorded, not yet accepted by the agent system
    DISPATCHED = "dispatched"  # the agent system answered 2xx
    COMPLETED = "completed"  # the completion callback arrived
    CANCELLED = "cancelled"  # cancelled on rollback
    DEAD = "dead"  # gave up after the last retry; see the dead-letter stream

    @property
    def finished(self) -> bool:
        """Completed or cancelled: the agent system is done with it, for good."""
        return self in (JobState.COMPLETED, JobState.CANCELLED)

    @property
    def in_flight(self) -> bool:
        """Pending or dispatched: listed in its issue's in-flight set, cancelled on rollback."""
        return self in (JobState.PENDING, JobState.DISPATCHED)

    @property
    def to_send(self) -> bool:
        """Only a pending job is sent (again, under its id); any other is not sent again."""
        return self is JobState.PENDING

    def may_become(self, new: JobState) -> bool:
        """The job-state rule: a finished job never moves back to pending, dispatched or dead
        (a replay may take a dead job back to pending). ``_UPDATE`` applies it atomically in
        Redis; tests/pipeline/test_jobs.py checks the script against this for every pair."""
        return not (self.finished and not new.finished)


def job_id_for(delivery_id: str, system: System, *, dry_run: bool) -> str:
    role = "shadow" if dry_run else "act"
    digest = hashlib.sha256(f"{delivery_id}:{system.value}:{role}".encode()).hexdigest()
    return f"job-{digest[:24]}"


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    delivery_id: str
    issue: Issue
    system: System
    dry_run: bool
    state: JobState
    attempts: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    owner_token: int = 0  # the ownership fencing token the job was dispatched under

    def fields(self) -> Mapping[FieldT, EncodableT]:
        return {
            "job_id": self.job_id,
            "delivery_id": self.delivery_id,
            "repository": self.issue.repository,
            "issue_number": str(self.issue.number),
            "system": self.system.value,
            "dry_run": "1" if self.dry_run else "0",
            "state": self.state.value,
            "attempts": str(self.attempts),
            "created_at": f"{self.created_at:.6f}",
            "updated_at": f"{self.updated_at:.6f}",
            "owner_token": str(self.owner_token),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Job:
        return cls(
            job_id=fields["job_id"],
            delivery_id=fields["delivery_id"],
            issue=Issue(fields["repository"], int(fields["issue_number"])),
            system=System(fields["system"]),
            dry_run=fields["dry_run"] == "1",
            state=JobState(fields["state"]),
            attempts=int(fields.get("attempts", 0)),
            created_at=float(fields.get("created_at", 0)),
            updated_at=float(fields.get("updated_at", 0)),
            owner_token=int(fields.get("owner_token", 0)),
        )


class JobStore:
    """Jobs in Redis hashes ``<prefix>:job:<id>``, with a set of in-flight jobs per issue."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._keys = Keys(prefix)
        self._update = redis.register_script(_UPDATE)

    def _key(self, job_id: str) -> str:
        return self._keys.job(job_id)

    def _inflight_key(self, issue: Issue) -> str:
        return self._keys.inflight(issue)

    async def record(self, job: Job) -> Job:
        """Store ``job`` unless a job with that id exists; return what is stored."""
        now = time.time()
        fresh = dataclasses.replace(job, created_at=now, updated_at=now)
        key = self._key(job.job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "job_id", job.job_id)
            pipe.hgetall(key)
            created, _ = await pipe.execute()
        if created:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fresh.fields())
                pipe.expire(key, _TTL_SECONDS)
                pipe.sadd(self._inflight_key(job.issue), job.job_id)
                await pipe.execute()
            return fresh
        stored = await self.get(job.job_id)
        return stored if stored is not None else fresh

    async def get(self, job_id: str) -> Job | None:
        raw = await self._redis.hgetall(self._key(job_id))
        fields = {str(key): str(value) for key, value in raw.items()}
        return Job.from_fields(fields) if "state" in fields else None

    async def update(
        self,
        job_id: str,
        state: JobState,
        *,
        attempts: int | None = None,
        owner_token: int | None = None,
    ) -> bool:
        """Move a job to ``state``; False if the job is unknown or already finished and
        ``state`` would move it backwards (a completion that beat the DISPATCHED write, or the
        retries of a job whose answers were lost running out after the agent completed it)."""
        job = await self.get(job_id)  # for its issue, which never changes
        if job is None:
            return False
        args = [job_id, state.value, f"{time.time():.6f}"]
        args += ["" if attempts is None else str(attempts)]
        args += ["" if owner_token is None else str(owner_token)]
        keys = [self._key(job_id), self._inflight_key(job.issue)]
        return bool(await self._update(keys=keys, args=args))

    async def in_flight(self, issue: Issue) -> list[Job]:
        ids = await self._redis.smembers(self._inflight_key(issue))
        jobs = [await self.get(str(job_id)) for job_id in sorted(ids)]
        return [job for job in jobs if job is not None]
