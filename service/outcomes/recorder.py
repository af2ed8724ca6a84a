"""What the agent systems achieved: completions, shadow comparisons and PR quality.

Everything lands in Redis streams as the typed records of :mod:`service.outcomes.records`, and
in the read model's buckets (:mod:`service.outcomes.buckets`) in the same script:

* ``completions``: one :class:`CompletionRecord` per completed job;
* ``comparisons``: acting (control) and shadow (candidate) outcomes of one delivery, paired
  (:class:`ComparisonRecord`); mismatches also in a capped list for the status;
* ``quality``: PRs closed and CI conclusions, attributed to the owner (:class:`QualityRecord`).

A PR is linked to an issue by the PR number reported at completion, else by closing keywords
(:mod:`service.outcomes.pr_links`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from flags.model import Issue, System
from service.agents.completion import Completion
from service.github.events import CheckCompleted, PullRequestClosed
from service.keys import Keys
from service.outcomes.buckets import (
    ADD_TO_BUCKETS_LUA,
    BucketSpec,
    bucket_spec,
    comparison_fields,
    completion_fields,
    quality_fields,
    rebuild_set_key,
)
from service.outcomes.histogram import DurationHistogram, bucket_field
from service.outcomes.pr_links import PullRequestLinks
from service.outcomes.records import PR_CLOSED, ComparisonRecord, CompletionRecord, QualityRecord
from service.pipeline.jobs import Job

__all__ = ["OutcomeRecorder", "stream_fields"]

_MAXLEN = 200_000
_RECENT_MISMATCHES = 50
_PAIR_TTL = 7 * 24 * 3600
_SEEN_TTL = 30 * 24 * 3600

# KEYS: seen-mark, stream, histogram hash, rebuild set, read-model buckets. ARGV: mark ttl, stream
# maxlen, histogram bucket field, seconds, success (1/0), bucket spec, then field, value, ... of
# the entry. 1 if recorded now, 0 for a repeat.
_RECORD_ONCE = (
    ADD_TO_BUCKETS_LUA
    + """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 7))
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[3], 'count', 1)
redis.call('HINCRBYFLOAT', KEYS[3], 'sum', ARGV[4])
if ARGV[5] == '1' then
  redis.call('HINCRBY', KEYS[3], 'succeeded', 1)
end
add_to_buckets(5, ARGV[6])
return 1
"""
)

# KEYS: seen-mark (quality: the delivery; comparison: the pair hash), stream, rebuild set,
# buckets. ARGV: mark ttl (0: the mark is the pair's 'compared' field), stream maxlen, bucket
# spec, then the entry. 1 if recorded now, 0 for a repeat.
_APPEND_ONCE = (
    ADD_TO_BUCKETS_LUA
    + """
if ARGV[1] == '0' then
  if redis.call('HSETNX', KEYS[1], 'compared', '1') == 0 then
    return 0
  end
elseif not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
add_to_buckets(4, ARGV[3])
return 1
"""
)


def stream_fields(values: dict[str, str]) -> dict[FieldT, EncodableT]:
    """The same mapping, typed the way redis-py wants stream fields."""
    fields: dict[FieldT, EncodableT] = {key: value for key, value in values.items()}
    return fields


class OutcomeRecorder:
    """Records completions and pairs them; implements the worker's quality sink."""

    def __init__(
        self, redis: Redis, *, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock  # stamps entries and picks their buckets; injectable for history
        self._links = PullRequestLinks(redis, prefix=prefix)
        self._histogram = DurationHistogram(redis, prefix=prefix)
        self._keys = Keys(prefix)
        self.completions_key = self._keys.completions
        self.comparisons_key = self._keys.comparisons
        self.quality_key = self._keys.quality
        self._record_once = redis.register_script(_RECORD_ONCE)
        self._append_once = redis.register_script(_APPEND_ONCE)

    def _now(self) -> float:
        """The clock to the microsecond, as the stream entry holds it (buckets agree)."""
        return round(self._clock(), 6)

    def _spec(self, at: float, fields: dict[str, int]) -> BucketSpec:
        return bucket_spec(self._prefix, at, fields, now=self._clock())

    def _record(self, job: Job, completion: Completion) -> CompletionRecord:
        return CompletionRecord(
            job_id=job.job_id,
            delivery_id=job.delivery_id,
            system=job.system,
            issue=job.issue,
            success=completion.success,
            duration_seconds=round(completion.duration_seconds, 6),  # as the stream holds it
            dry_run=completion.dry_run,
            pr_number=completion.pr_number,
            output_digest=completion.output_digest or "",
            at=self._now(),
        )

    async def completion_once(
        self, job: Job, completion: Completion
    ) -> tuple[bool, ComparisonRecord | None]:
        """Record a job's completion once however often it is reported: ``(True, comparison)``
        the first time, ``(False, comparison)`` for a repeat. The seen-mark and the entry are
        written together (one script), so a failure part-way records neither and the agent's
        retry records it; the PR link and the pairing are idempotent and redone on repeats."""
        record = self._record(job, completion)
        first = await self._record_once(*self._completion_call(job, record))
        return bool(first), await self._link_and_pair(job, record)

    def _completion_call(
        self, job: Job, record: CompletionRecord
    ) -> tuple[list[str], list[EncodableT]]:
        seconds = max(record.duration_seconds, 0.0)
        spec = self._spec(
            record.at,
            completion_fields(
                job.system.value, dry_run=record.dry_run, success=record.success, seconds=seconds
            ),
        )
        keys = [
            self._keys.completion_seen(job.job_id),
            self.completions_key,
            self._histogram.key(job.system, dry_run=record.dry_run),
            rebuild_set_key(self._prefix),
            *spec.keys,
        ]
        fields = [part for item in record.to_fields().items() for part in item]
        head: list[EncodableT] = [_SEEN_TTL, _MAXLEN, bucket_field(seconds), repr(seconds)]
        return keys, [*head, "1" if record.success else "0", spec.argument, *fields]

    async def queue_completion(self, pipe: Pipeline, job: Job, completion: Completion) -> None:
        """Queue :meth:`completion_once`'s recording script on ``pipe``, without the PR link
        and the pairing: filling a long history fast (``bench/history.py``)."""
        keys, args = self._completion_call(job, self._record(job, completion))
        await self._record_once(keys, args, client=pipe)

    async def queue_outcome(
        self, pipe: Pipeline, record: QualityRecord | ComparisonRecord, *, mark: str
    ) -> None:
        """Queue a quality row or a comparison (``mark``: its seen-mark, for a comparison the
        pair hash) with its buckets on ``pipe``, as the recorder writes them."""
        if isinstance(record, QualityRecord):
            fields = quality_fields(record.system.value, kind=record.kind, success=record.success)
            await self._append(mark, _PAIR_TTL, self.quality_key, record, fields, client=pipe)
            return
        fields = comparison_fields(
            record.control_system.value, record.candidate_system.value, matched=record.match
        )
        await self._append(mark, 0, self.comparisons_key, record, fields, client=pipe)
        if not record.match:
            self._remember_mismatch(pipe, record)

    async def _link_and_pair(self, job: Job, record: CompletionRecord) -> ComparisonRecord | None:
        if record.pr_number is not None and not record.dry_run:
            await self._links.link(job.issue, record.pr_number, job.system)
        return await self._pair(job, record)

    async def _pair(self, job: Job, record: CompletionRecord) -> ComparisonRecord | None:
        """Pair acting and shadow outcomes of one delivery; emit once when both are in."""
        key = self._keys.pair(job.delivery_id, job.issue)
        role = "candidate" if job.dry_run else "control"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, role, json.dumps(record.to_fields()))  # a repeat keeps the first
            pipe.expire(key, _PAIR_TTL)
            pipe.hgetall(key)
            _, _, both = await pipe.execute()
        if "control" not in both or "candidate" not in both:
            return None
        comparison = ComparisonRecord.of(
            CompletionRecord.from_fields(json.loads(both["control"])),
            CompletionRecord.from_fields(json.loads(both["candidate"])),
            at=self._now(),
        )
        fields = comparison_fields(
            comparison.control_system.value,
            comparison.candidate_system.value,
            matched=comparison.match,
        )
        if not await self._append(key, 0, self.comparisons_key, comparison, fields):
            return None  # a duplicate callback: the comparison exists already
        if not comparison.match:
            async with self._redis.pipeline(transaction=True) as pipe:
                self._remember_mismatch(pipe, comparison)
                await pipe.execute()
        return comparison

    def _remember_mismatch(self, pipe: Pipeline, comparison: ComparisonRecord) -> None:
        pipe.lpush(self._keys.recent_mismatches, json.dumps(comparison.to_fields()))
        pipe.ltrim(self._keys.recent_mismatches, 0, _RECENT_MISMATCHES - 1)

    async def _append(
        self,
        mark: str,
        ttl: int,
        stream: str,
        record: QualityRecord | ComparisonRecord,
        fields: dict[str, int],
        *,
        client: Pipeline | None = None,
    ) -> bool:
        """Append ``record`` and add ``fields`` to its buckets, once per ``mark``."""
        spec = self._spec(record.at, fields)
        flat = [part for item in record.to_fields().items() for part in item]
        first = await self._append_once(
            keys=[mark, stream, rebuild_set_key(self._prefix), *spec.keys],
            args=[ttl, _MAXLEN, spec.argument, *flat],
            client=client,
        )
        return bool(first)

    async def _quality(
        self,
        kind: str,
        repository: str,
        found: tuple[Issue, str] | None,
        success: bool,
        delivery_id: str,
    ) -> bool:
        seen = self._keys.quality_seen(delivery_id)
        if found is None:
            if await self._redis.set(seen, "1", nx=True, ex=_PAIR_TTL):
                await self._redis.hincrby(self._keys.quality_unattributed, kind, 1)
            return False
        issue, system = found
        record = QualityRecord(
            kind=kind,
            system=System(system),
            issue=issue,
            success=success,
            delivery_id=delivery_id,
            at=self._now(),
        )
        fields = quality_fields(system, kind=kind, success=success)
        # A redelivered event finds its mark and is counted once.
        return await self._append(seen, _PAIR_TTL, self.quality_key, record, fields)

    async def pull_request_closed(self, event: PullRequestClosed) -> None:
        found = await self._links.resolve(event.repository, (event.pr_number,), event.linked_issues)
        await self._quality(PR_CLOSED, event.repository, found, event.merged, event.delivery_id)

    async def check_completed(self, event: CheckCompleted) -> None:
        found = await self._links.resolve(event.repository, event.pr_numbers, event.linked_issues)
        await self._quality(
            f"ci:{event.kind}", event.repository, found, event.success, event.delivery_id
        )
