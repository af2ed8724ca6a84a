"""Keeping the event stream from growing for ever.

An entry can go once every worker is done with it and it is older than the retention
(``SWITCHYARD_STREAM_RETENTION_SECONDS``, default a day). One script trims the stream with
``XTRIM MINID`` at the lowest of: the retention's cut-off, the oldest entry still pending in the
consumer group (taken, not acknowledged: never trimmed), and the group's last-delivered id (entries
no worker has read yet are never trimmed). The retention also bounds how long a cancelled
python job's delivery can still be handed over (its entry is re-appended from the stream), so it
must exceed the longest an agent job stays in flight. Workers call :func:`trim_events` about
once a minute; it is idempotent and cheap (one script, no scan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.keys import Keys
from service.pipeline.stream import GROUP

__all__ = ["DEFAULT_RETENTION_SECONDS", "trim_events", "trim_periodically"]

_log = logging.getLogger("switchyard.stream")

DEFAULT_RETENTION_SECONDS = 24 * 3600.0

# KEYS: stream. ARGV: group, cut-off id. Returns the number of entries removed.
_TRIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function older(a, b)
  local ams, aseq = string.match(a, '(%d+)-(%d+)')
  local bms, bseq = string.match(b, '(%d+)-(%d+)')
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  return ams < bms or (ams == bms and aseq < bseq)
end
local floor = ARGV[2]
local found = false
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  if name == ARGV[1] then
    found = true
    if older(last, floor) then floor = last end
    local pending = redis.call('XPENDING', KEYS[1], name)
    if pending[1] > 0 and older(pending[2], floor) then floor = pending[2] end
  end
end
if not found then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
"""


async def trim_events(
    redis: Redis,
    *,
    prefix: str,
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    now: float | None = None,
) -> int:
    """Remove acknowledged entries older than the retention; how many were removed."""
    cutoff_ms = int(((time.time() if now is None else now) - retention_seconds) * 1000)
    script = redis.register_script(_TRIM)
    removed = await script(keys=[Keys(prefix).events], args=[GROUP, f"{max(cutoff_ms, 0)}-0"])
    return int(removed)


async def trim_periodically(
    redis: Redis,
    *,
    prefix: str,
    retention_seconds: float,
    stop: asyncio.Event,
    interval: float = 60.0,
) -> None:
    """Until ``stop``: trim the event stream every ``interval`` seconds (service lifespan)."""
    while not stop.is_set():
        try:
            removed = await trim_events(redis, prefix=prefix, retention_seconds=retention_seconds)
            if removed:
                _log.info("event stream: %d acknowledged entries past retention trimmed", removed)
        except RedisError as error:
            _log.warning("event stream trim failed: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
