"""Keeping the entries a worker has in hand from looking abandoned.

An entry left pending longer than ``claim_idle_ms`` is claimed by another worker (a killed
worker's entries must be). A slow dispatch must not be: :class:`Heartbeat` resets, every third
of that time, the idle time of the entries this consumer still owns (``XCLAIM ... JUSTID`` in
one script: the delivery count stays, and an entry another consumer took meanwhile is left
alone), so only the entries of a dead worker go idle.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["Heartbeat"]

_log = logging.getLogger("switchyard.worker")

# KEYS: stream. ARGV: group, consumer, entry ids. Resets the idle time of the entries that
# are still pending for this consumer (JUSTID: the delivery count stays); never steals one.
_TOUCH = """
local touched = 0
for i = 3, #ARGV do
  local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #mine > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    touched = touched + 1
  end
end
return touched
"""


class Heartbeat:
    """``held`` is the set of entry ids in hand; :meth:`run` touches them until cancelled."""

    def __init__(
        self, redis: Redis, *, stream: str, group: str, consumer: str, claim_idle_ms: int
    ) -> None:
        self.held: set[str] = set()
        self._touch = redis.register_script(_TOUCH)
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self._interval = claim_idle_ms / 3000

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            held = sorted(self.held)
            if not held:
                continue
            try:
                await self._touch(keys=[self._stream], args=[self._group, self._consumer, *held])
            except RedisError as error:
                _log.warning("worker %s: heartbeat: %s", self._consumer, error)
