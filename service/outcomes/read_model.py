"""Reading the read model (:mod:`service.outcomes.buckets`): windows and series as bucket sums.

:class:`ReadModel` answers ``window(since)`` (the summed counters of everything recorded since
then) and ``series(start, step, count)`` (one sum per equal step, for trend charts). Both cost a
bounded number of hashes whatever the history holds.

A bucket that cannot be read (a field that is not an integer) or that the recording script found
corrupt (listed in ``Keys.read_model_rebuild``) is rebuilt from the outcome streams before it is
summed, and logged once per key. The rebuild reads the stream entries whose ids fall within five
minutes of the bucket (the recorder's clock is the Redis server's, to within that) and counts
those whose ``at`` lies in the bucket; rows already trimmed from a stream (``MAXLEN`` 200,000)
cannot come back, which the log line says.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from service.keys import Keys
from service.outcomes.buckets import (
    RESOLUTIONS,
    Counts,
    comparison_fields,
    completion_fields,
    quality_fields,
    rebuild_set_key,
    window_keys,
)
from service.outcomes.records import (
    ComparisonRecord,
    CompletionRecord,
    QualityRecord,
    R,
    read_entries,
)

__all__ = ["ReadModel", "rebuild_counts"]

_log = logging.getLogger("switchyard.read_model")
_SLACK_MS = 300_000

# KEYS: bucket hashes, in groups. ARGV: the number of groups, the group sizes, then the fields to
# sum (none: every field). One sum per group: field, sum, ...; a field that is not an integer
# makes it return {'corrupt', key}.
_SUM_GROUPS = """
local groups = tonumber(ARGV[1])
local wanted = {}
for i = groups + 2, #ARGV do
  wanted[#wanted + 1] = ARGV[i]
end
local out = {}
local index = 1
for g = 1, groups do
  local sums = {}
  for _ = 1, tonumber(ARGV[g + 1]) do
    local key = KEYS[index]
    index = index + 1
    local flat
    if #wanted > 0 then
      local values = redis.call('HMGET', key, unpack(wanted))
      flat = {}
      for i, field in ipairs(wanted) do
        if values[i] then
          flat[#flat + 1] = field
          flat[#flat + 1] = values[i]
        end
      end
    else
      flat = redis.call('HGETALL', key)
    end
    for i = 1, #flat, 2 do
      local value = tonumber(flat[i + 1])
      if value == nil or value ~= math.floor(value) then
        return {'corrupt', key}
      end
      sums[flat[i]] = (sums[flat[i]] or 0) + value
    end
  end
  local group = {}
  for field, value in pairs(sums) do
    group[#group + 1] = field
    group[#group + 1] = string.format('%d', value)
  end
  out[#out + 1] = group
end
return out
"""


def rebuild_counts(
    start: float,
    end: float,
    *,
    completions: Iterable[CompletionRecord],
    quality: Iterable[QualityRecord],
    comparisons: Iterable[ComparisonRecord],
) -> Counts:
    """The counters of the rows whose ``at`` lies in ``[start, end)``: what the recording
    script would have added to a bucket spanning it (also the full scan the tests compare)."""
    counts: Counts = {}

    def add(fields: dict[str, int]) -> None:
        for field, amount in fields.items():
            counts[field] = counts.get(field, 0) + amount

    def inside(row: CompletionRecord | QualityRecord | ComparisonRecord) -> bool:
        return start <= row.at < end

    for completion in filter(inside, completions):
        add(
            completion_fields(
                completion.system.value,
                dry_run=completion.dry_run,
                success=completion.success,
                seconds=max(completion.duration_seconds, 0.0),
            )
        )
    for row in filter(inside, quality):
        add(quality_fields(row.system.value, kind=row.kind, success=row.success))
    for comparison in filter(inside, comparisons):
        add(
            comparison_fields(
                comparison.control_system.value,
                comparison.candidate_system.value,
                matched=comparison.match,
            )
        )
    return counts


class ReadModel:
    def __init__(
        self, redis: Redis, *, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._sum = redis.register_script(_SUM_GROUPS)
        self._logged: set[str] = set()

    async def window(self, since: float, *, now: float | None = None) -> Counts:
        """Everything recorded from ``since`` (rounded down, see buckets) up to now."""
        moment = self._clock() if now is None else now
        return (await self._sums([window_keys(self._prefix, since, moment)]))[0]

    async def series(
        self, start: float, step: float, count: int, *, fields: Sequence[str] = ()
    ) -> list[Counts]:
        """One sum per ``[start + i step, start + (i + 1) step)``; ``start`` and ``step`` must be
        whole minutes, hours or days as the age allows (trend charts align them so). With
        ``fields``, only those are read and summed (``HMGET``: a chart needs a few)."""
        now = self._clock()
        groups = [
            window_keys(self._prefix, start + i * step, now, end=start + (i + 1) * step)
            for i in range(count)
        ]
        return await self._sums(groups, fields)

    async def _sums(self, groups: list[list[str]], fields: Sequence[str] = ()) -> list[Counts]:
        """The sums, in one round trip when nothing needs rebuilding: the list of buckets to
        rebuild and the sums are read together; a listed or corrupt bucket is rebuilt and the
        sums read again."""
        flat = [key for group in groups for key in group]
        if not flat:
            return [{} for _ in groups]
        args: list[EncodableT] = [len(groups), *(len(group) for group in groups), *fields]
        for _ in range(4):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.smembers(rebuild_set_key(self._prefix))
                pipe.evalsha(self._sum.sha, len(flat), *flat, *args)
                listed, result = await pipe.execute(raise_on_error=False)
            if isinstance(result, NoScriptError):  # a restarted or flushed Redis
                await self._redis.script_load(_SUM_GROUPS)
                continue
            for reply in (listed, result):
                if isinstance(reply, Exception):
                    raise reply
            if listed:
                for key in listed:
                    await self.rebuild(str(key))
                continue
            if len(result) == 2 and result[0] == "corrupt":
                await self.rebuild(str(result[1]))
                continue
            return [{str(g[i]): int(g[i + 1]) for i in range(0, len(g), 2)} for g in result]
        raise RuntimeError("buckets keep turning up corrupt")  # pragma: no cover

    async def rebuild(self, key: str, *, why: str = "corrupt") -> Counts:
        """Recount one bucket from the streams and replace it (``why`` it is rebuilt: corrupt,
        or missing, :mod:`service.outcomes.bucket_audit`)."""
        name, start_text = key.rsplit(":", 2)[1:]
        resolution = next(r for r in RESOLUTIONS if r.name == name)
        start = int(start_text)
        end = start + resolution.seconds
        low, high = f"{start * 1000 - _SLACK_MS}", f"{end * 1000 + _SLACK_MS}"
        keys = Keys(self._prefix)

        async def rows(key: str, kind: type[R]) -> list[R]:
            entries = await read_entries(self._redis, key, kind, low=low, high=high)
            return [record for _, record in entries if record is not None]

        completions = await rows(keys.completions, CompletionRecord)
        quality = await rows(keys.quality, QualityRecord)
        comparisons = await rows(keys.comparisons, ComparisonRecord)
        counts = rebuild_counts(
            start, end, completions=completions, quality=quality, comparisons=comparisons
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if counts:
                pipe.hset(key, mapping={field: n for field, n in counts.items()})
                if resolution.retention is not None:
                    pipe.expireat(key, end + resolution.retention)
            pipe.srem(rebuild_set_key(self._prefix), key)
            await pipe.execute()
        if key not in self._logged and (counts or why == "corrupt"):
            self._logged.add(key)
            _log.warning(
                "read-model bucket %s was %s: rebuilt from the streams (%d completions, "
                "%d quality rows, %d comparisons; rows trimmed from a stream are not recounted)",
                key,
                why,
                len(completions),
                len(quality),
                len(comparisons),
            )
        return counts
