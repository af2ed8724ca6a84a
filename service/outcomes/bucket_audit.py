"""Finding read-model buckets that went missing, and rebuilding them from the streams.

A corrupt bucket announces itself (a field that is not an integer: :mod:`.read_model`); a
missing one (a key lost by a Redis restart, say, or deleted by hand) looks like a quiet minute.
Its witness is the next coarser bucket: every outcome adds to its minute, hour and day bucket in
one script, so an hour holds exactly what its 60 minutes hold and a day what its 24 hours hold.
:class:`BucketAudit` compares them, one Lua script, a bounded number of hashes per call:

* the current and the previous hour against their minutes, and the current and previous day
  against their hours;
* one more hour (of the last 2 days, where minutes are kept) and one more day (of the last 90,
  where hours are kept) per call, going back one step each time and starting over at the end, so
  the whole retention is audited in turn.

A bucket is reported when it is missing while its witness says it held outcomes: a coarse bucket
missing while its finer ones count outcomes, or finer buckets missing while the coarse one counts
more than they do. Each reported bucket is rebuilt from the streams
(:meth:`~service.outcomes.read_model.ReadModel.rebuild`), logged once, and not retried by this
process (rows already trimmed from a stream cannot come back). The watchdog runs an audit on every
tick (:mod:`service.watchdog.loop`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.typing import EncodableT

from flags.model import System
from service.outcomes.buckets import DAY, HOUR, MINUTE, Resolution
from service.outcomes.read_model import ReadModel

__all__ = ["COUNTED", "BucketAudit"]

_log = logging.getLogger("switchyard.read_model")

COUNTED: tuple[str, ...] = tuple(
    f"{system.value}:{role}:{counter}"
    for system in System
    for role, counters in (("acting", ("n", "cmp", "pr", "build")), ("shadow", ("n", "cmp")))
    for counter in counters
)
"""The fields whose total is compared: every outcome adds 1 to exactly one or two of them."""

# KEYS: groups, each a coarse bucket then its finer ones. ARGV: the number of groups, the group
# sizes, then the fields to total. Returns the keys reported missing (see the module docstring).
_AUDIT = """
local groups = tonumber(ARGV[1])
local fields = {}
for i = groups + 2, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local function total(key)
  local sum = 0
  for _, value in ipairs(redis.call('HMGET', key, unpack(fields))) do
    sum = sum + (tonumber(value) or 0)
  end
  return sum
end
local missing = {}
local index = 1
for g = 1, groups do
  local size = tonumber(ARGV[g + 1])
  local parent = KEYS[index]
  local parent_total = total(parent)
  local children_total = 0
  local absent = {}
  for i = index + 1, index + size - 1 do
    children_total = children_total + total(KEYS[i])
    if redis.call('EXISTS', KEYS[i]) == 0 then
      absent[#absent + 1] = KEYS[i]
    end
  end
  if redis.call('EXISTS', parent) == 0 and children_total > 0 then
    missing[#missing + 1] = parent
  elseif parent_total > children_total then
    for _, key in ipairs(absent) do
      missing[#missing + 1] = key
    end
  end
  index = index + size
end
return missing
"""


def _group(prefix: str, coarse: Resolution, fine: Resolution, start: int, now: float) -> list[str]:
    """The coarse bucket at ``start`` and the finer ones it spans that have begun by ``now``."""
    begun = range(start, min(start + coarse.seconds, int(now) + 1), fine.seconds)
    return [coarse.key(prefix, start), *(fine.key(prefix, at) for at in begun)]


class BucketAudit:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        model: ReadModel | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._prefix = prefix
        self._clock = clock
        self._model = model or ReadModel(redis, prefix=prefix, clock=clock)
        self._script = redis.register_script(_AUDIT)
        self._hours_back = 2  # the rolling hour and day, this many steps back from now
        self._days_back = 2
        self._tried: set[str] = set()
        self.rebuilt = 0

    def _groups(self, now: float) -> list[list[str]]:
        hour, day = HOUR.start(now), DAY.start(now)
        hours = [hour, hour - HOUR.seconds, hour - self._hours_back * HOUR.seconds]
        days = [day, day - DAY.seconds, day - self._days_back * DAY.seconds]
        self._hours_back = 2 if self._hours_back + 1 >= 48 else self._hours_back + 1
        self._days_back = 2 if self._days_back + 1 >= 90 else self._days_back + 1
        return [_group(self._prefix, HOUR, MINUTE, start, now) for start in hours] + [
            _group(self._prefix, DAY, HOUR, start, now) for start in days
        ]

    async def run(self) -> list[str]:
        """One audit; the buckets rebuilt by it."""
        groups = self._groups(self._clock())
        keys = [key for group in groups for key in group]
        args: list[EncodableT] = [len(groups), *(len(group) for group in groups), *COUNTED]
        missing = [str(key) for key in await self._script(keys=keys, args=args)]
        rebuilt = []
        for key in dict.fromkeys(missing):  # in order, once each
            if key in self._tried:
                continue
            self._tried.add(key)
            counts = await self._model.rebuild(key, why="missing")
            rebuilt.append(key)
            self.rebuilt += 1
            _log.info("read-model bucket %s rebuilt: %d fields", key, len(counts))
        return rebuilt
