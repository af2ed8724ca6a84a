"""The durable queue between intake and the workers: a Redis stream with a consumer group.

Intake appends each accepted delivery exactly once: the dedupe check, the ``XADD`` and the
dedupe mark happen in one Lua script, in that order, so a redelivery (same
``X-GitHub-Delivery``) is recognised, and a failed ``XADD`` (Redis does not roll a script
back) can never leave a mark without its entry. Workers read through the consumer group
``workers``; an entry stays pending until a worker acknowledges it, and an entry left pending
by a dead worker is claimed by another after ``min_idle`` (``XAUTOCLAIM``). What cannot be
dispatched after the last retry goes to the dead-letter stream, from where it can be listed
and replayed. A cancelled python job's delivery is handed over (``hand_over``, once). What an
entry holds is :mod:`service.pipeline.entries` (its two records are re-exported here).
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from service.keys import Keys
from service.pipeline import entries
from service.pipeline.entries import DeadLetter, StreamEntry

__all__ = ["DeadLetter", "EventStream", "StreamEntry"]

GROUP = "workers"
_DEDUPE_SECONDS = 14 * 24 * 3600  # GitHub lets people redeliver for a while

# KEYS: dedupe mark, stream, and optionally a hash counting the outcome (best effort: pcall,
# so a count that fails never fails the append).
_APPEND = """
local seen = redis.call('GET', KEYS[1])
if seen then
  if KEYS[3] then redis.pcall('HINCRBY', KEYS[3], 'duplicate', 1) end
  return {0, seen}
end
local fields = {'delivery_id', ARGV[2], 'event', ARGV[3], 'received_at', ARGV[4], 'body', ARGV[5]}
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
if KEYS[3] then redis.pcall('HINCRBY', KEYS[3], 'accepted', 1) end
return {1, id}
"""


# KEYS: the delivery's dedupe mark, its hand-over mark, stream. ARGV: seconds, received_at.
# Appends a copy of the delivery's first entry once: {1, new id}, {0, the copy's id} if it was
# already copied, {-1, ''} if the first entry is gone.
_HAND_OVER = """
local copied = redis.call('GET', KEYS[2])
if copied then
  return {0, copied}
end
local first = redis.call('GET', KEYS[1])
if not first then
  return {-1, ''}
end
local rows = redis.call('XRANGE', KEYS[3], first, first)
if #rows == 0 then
  return {-1, ''}
end
local f = {}
local raw = rows[1][2]
for i = 1, #raw, 2 do
  f[raw[i]] = raw[i + 1]
end
local id = redis.call('XADD', KEYS[3], '*', 'delivery_id', f['delivery_id'], 'event', f['event'],
  'received_at', ARGV[2], 'body', f['body'])
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return {1, id}
"""


class EventStream:
    """Over a Redis client created with ``decode_responses=True``."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._keys = Keys(prefix)
        self.key = self._keys.events
        self.dead_key = self._keys.dead_letters
        self._append = redis.register_script(_APPEND)
        self._hand_over = redis.register_script(_HAND_OVER)

    def _dedupe_key(self, delivery_id: str, hook: str | None = None) -> str:
        return self._keys.delivery(delivery_id, hook=hook)

    async def stored(self, delivery_ids: list[str], *, hook: str | None = None) -> set[str]:
        """Which of these deliveries intake has persisted (their dedupe mark is still there);
        ``hook``: deliveries of that system's App hook."""
        if not delivery_ids:
            return set()
        marks = await self._redis.mget([self._dedupe_key(d, hook) for d in delivery_ids])
        return {d for d, mark in zip(delivery_ids, marks, strict=True) if mark is not None}

    async def append(
        self,
        *,
        delivery_id: str,
        event: str,
        body: bytes,
        counts_key: str | None = None,
        hook: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> tuple[bool, str]:
        """``(True, entry id)`` for a new delivery, ``(False, first entry id)`` for a repeat.

        With ``counts_key``, the same script also counts ``accepted`` or ``duplicate`` in that
        hash (one round trip per delivery instead of two; a failed count is ignored). ``hook``
        and ``headers``: a delivery of that system's App hook (deduplicated per hook).
        """
        extra = StreamEntry("", delivery_id, event, 0.0, b"", hook=hook, headers=headers)
        keys = [self._dedupe_key(delivery_id, hook), self.key]
        if counts_key is not None:
            keys.append(counts_key)
        created, entry_id = await self._append(
            keys=keys,
            args=[
                _DEDUPE_SECONDS,
                delivery_id,
                event,
                f"{time.time():.6f}",
                body.decode(),
                *(item for pair in extra.hook_fields().items() for item in pair),
            ],
        )
        return bool(created), str(entry_id)

    async def hand_over(self, delivery_id: str) -> str | None:
        """Append a copy of an accepted delivery's entry once more (same delivery id), so it
        is routed again: the work of a cancelled job handed to the other system. Once per
        delivery, however often it is called; the copy's entry id, or None if the delivery's
        entry is gone (its dedupe mark expired)."""
        _, entry_id = await self._hand_over(
            keys=[
                self._dedupe_key(delivery_id),
                self._keys.handed_over(delivery_id),
                self.key,
            ],
            args=[_DEDUPE_SECONDS, f"{time.time():.6f}"],
        )
        return str(entry_id) or None

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(
        self, consumer: str, *, count: int = 10, block_ms: int = 1000
    ) -> list[StreamEntry]:
        """New entries for ``consumer`` (each handed to exactly one consumer of the group)."""
        reply = await self._redis.xreadgroup(
            GROUP, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        streams: list[Any] = list(reply or [])
        return [
            entries.entry(entry_id, fields)
            for stream in streams
            for entry_id, fields in entries.rows(stream[1])
        ]

    async def claim_stale(
        self, consumer: str, *, min_idle_ms: int, count: int = 10
    ) -> list[StreamEntry]:
        """Entries another consumer took but has not acknowledged for ``min_idle_ms``."""
        reply = await self._redis.xautoclaim(
            self.key, GROUP, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
        )
        rows = entries.rows(reply[1] if reply else [])
        return [entries.entry(entry_id, fields, 2) for entry_id, fields in rows if fields]

    async def ack(self, entry_id: str) -> None:
        await self._redis.xack(self.key, GROUP, entry_id)

    async def depth(self) -> dict[str, int]:
        """Entries in the stream, pending (taken, not acknowledged), and dead letters."""
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
            pipe.xlen(self.key)
            pipe.xpending(self.key, GROUP)  # an error before the group exists: none taken
            pipe.xlen(self.dead_key)
            length, pending, dead = await pipe.execute(raise_on_error=False)
        if isinstance(length, ResponseError) or isinstance(dead, ResponseError):
            raise length if isinstance(length, ResponseError) else dead
        taken = int(pending["pending"]) if pending and isinstance(pending, dict) else 0
        return {"stream": int(length), "pending": taken, "dead_letters": int(dead)}

    async def bury(self, entry: StreamEntry, *, system: str, error: str, attempts: int) -> str:
        """Move an entry that could not be dispatched to the dead-letter stream."""
        fields: dict[FieldT, EncodableT] = {
            "delivery_id": entry.delivery_id,
            "event": entry.event,
            "body": entry.body.decode(),
            "system": system,
            "error": error[:2000],
            "attempts": str(attempts),
            "failed_at": f"{time.time():.6f}",
            **entry.hook_fields(),
        }
        dead_id = await self._redis.xadd(self.dead_key, fields)
        return str(dead_id)

    async def dead_letters(self, *, count: int = 100) -> list[DeadLetter]:
        rows = entries.rows(await self._redis.xrange(self.dead_key, count=count))
        return [entries.dead_letter(dead_id, fields) for dead_id, fields in rows]

    async def replay(self, dead_id: str) -> str | None:
        """Put a dead letter back on the event stream (same delivery id); None if unknown."""
        rows = entries.rows(await self._redis.xrange(self.dead_key, min=dead_id, max=dead_id))
        if not rows:
            return None
        _, fields = rows[0]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.key,
                {
                    "delivery_id": fields["delivery_id"],
                    "event": fields["event"],
                    "received_at": f"{time.time():.6f}",
                    "body": fields["body"],
                    **{key: fields[key] for key in ("hook", "headers") if key in fields},
                },
            )
            pipe.xdel(self.dead_key, dead_id)
            new_id, _ = await pipe.execute()
        return str(new_id)
