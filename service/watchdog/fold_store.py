"""Where the watchdog's fold lives: Redis, advanced by compare-and-set (see :mod:`.fold`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from redis.asyncio import Redis

from service.keys import Keys
from service.outcomes.records import CompletionRecord, QualityRecord, R, read_entries
from service.watchdog.fold import Fold, fold_key, fold_rows
from service.watchdog.verdict import Policy

__all__ = ["EvidenceFold", "PendingFold"]

_log = logging.getLogger("switchyard.watchdog.fold")

# KEYS: the fold hash, the mark that a fold was written. ARGV: the cursor, quality cursor and
# epoch read (all '' when there was no fold), then the new cursor, quality cursor, epoch and
# state. 1 written, 0 refused (someone else moved the fold since it was read).
_COMPARE_AND_SET = """
local current = redis.call('HMGET', KEYS[1], 'cursor', 'quality_cursor', 'epoch')
local expected = {ARGV[1], ARGV[2], ARGV[3]}
for i = 1, 3 do
  if (current[i] or '') ~= expected[i] then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[4], 'quality_cursor', ARGV[5], 'epoch', ARGV[6],
  'state', ARGV[7])
redis.call('SET', KEYS[2], '1')
return 1
"""


@dataclass(frozen=True, slots=True)
class PendingFold:
    """A fold computed from rows read, not yet written: what was read, and the result."""

    read: tuple[str, str, str]
    fold: Fold
    full: bool = False  # a whole batch was read from a stream: more rows may be waiting

    @property
    def advanced(self) -> bool:
        return (self.fold.cursor, self.fold.quality_cursor) != self.read[:2]


def _start(epoch: float) -> str:
    return f"{int(epoch * 1000)}-0"


class EvidenceFold:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        policy: Policy,
        batch: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._policy = policy
        self._batch = batch
        self._clock = clock
        self._cas = redis.register_script(_COMPARE_AND_SET)
        self.key = fold_key(prefix)
        self.marker_key = Keys(prefix).watchdog_fold_started
        self._logged_rebuild = False

    async def epoch(self) -> float:
        return float(await self._redis.get(Keys(self._prefix).watchdog_since) or 0)

    async def _load(self, epoch: float) -> tuple[tuple[str, str, str], Fold]:
        raw = {str(k): str(v) for k, v in (await self._redis.hgetall(self.key)).items()}
        read = (raw.get("cursor", ""), raw.get("quality_cursor", ""), raw.get("epoch", ""))
        fresh = Fold(epoch=epoch, cursor="", quality_cursor="")
        if not raw:
            if await self._redis.get(self.marker_key) is not None:
                return read, self._rebuilt(fresh, "missing")
            return read, fresh
        try:
            fold = Fold.from_fields(raw)
        except (ValueError, KeyError, TypeError) as error:
            return read, self._rebuilt(fresh, f"unreadable ({type(error).__name__})")
        if fold.epoch != epoch:
            _log.info("new evidence epoch %.3f: starting a new fold", epoch)
            return read, fresh  # leaving a rollback: the evidence starts over
        return read, fold

    def _rebuilt(self, fresh: Fold, why: str) -> Fold:
        if not self._logged_rebuild:
            self._logged_rebuild = True
            _log.warning("watchdog fold %s: rebuilding it from the streams", why)
        return replace(fresh, rebuilt_at=self._clock())

    async def _rows(
        self, key: str, kind: type[R], cursor: str, epoch: float
    ) -> list[tuple[str, R | None]]:
        low = f"({cursor}" if cursor else _start(epoch)
        return await read_entries(self._redis, key, kind, low=low, count=self._batch)

    async def prepare(self) -> PendingFold:
        """Read the fold and one batch of new rows, fold them; nothing written."""
        epoch = await self.epoch()
        read, fold = await self._load(epoch)
        keys = Keys(self._prefix)
        completions, quality = await asyncio.gather(
            self._rows(keys.completions, CompletionRecord, fold.cursor, epoch),
            self._rows(keys.quality, QualityRecord, fold.quality_cursor, epoch),
        )
        full = max(len(completions), len(quality)) >= self._batch
        return PendingFold(read, fold_rows(fold, completions, quality, self._policy), full)

    async def commit(self, pending: PendingFold) -> bool:
        """Write ``pending`` if the fold is still what it read; False if it moved meanwhile."""
        fold = pending.fold
        written = await self._cas(
            keys=[self.key, self.marker_key],
            args=[
                *pending.read,
                fold.cursor,
                fold.quality_cursor,
                repr(fold.epoch),
                fold.to_json(),
            ],
        )
        return bool(written)

    async def advance(self) -> Fold:
        """Fold every row recorded since the last write, batch by batch; the current fold."""
        while True:
            pending = await self.prepare()
            if not await self.commit(pending):
                continue  # another leader moved it: read again
            if not pending.advanced or not pending.full:  # nothing more was waiting
                return pending.fold
