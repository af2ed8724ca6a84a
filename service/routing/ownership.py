"""Sticky issue ownership in Redis: which system owns an issue, with a fencing token.

Exactly one system owns an issue at any time. The first claim wins (atomically, across any
number of processes); later claims get the existing owner back. Only a compare-and-set
hand-back (a rollback) moves an issue to the other system. Every change takes a new fencing
token from one counter, so tokens strictly increase across all claims and hand-backs.

Keys (``service.keys``):

- ``owner(issue)``: hash ``system``, ``token``, ``since``, ``reason``
- ``owners(system)``: set of ``{repository}#{number}`` the system owns (kept in the scripts)
- ``fence``: the fencing token counter
- ``ownership_log``: stream of changes ``issue``, ``from`` (empty on a first claim), ``to``,
  ``token``, ``reason``, ``since``; trimmed to about ``log_maxlen`` entries

``since`` is Redis server time, so replicas with skewed clocks agree on the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from flags.model import Issue, System
from service.keys import Keys

__all__ = ["Ownership", "OwnershipStore"]

# A Lua string holding the server time as "seconds.micros".
_NOW = "local t = redis.call('TIME') local since = t[1] .. '.' .. string.format('%06d', t[2])"

# KEYS: owner, fence, owners:{system}, log. ARGV: system, reason, member, log maxlen.
_CLAIM = f"""
local cur = redis.call('HMGET', KEYS[1], 'system', 'token', 'since', 'reason')
if cur[1] then return {{0, cur[1], cur[2], cur[3], cur[4]}} end
local token = redis.call('INCR', KEYS[2])
{_NOW}
redis.call('HSET', KEYS[1], 'system', ARGV[1], 'token', token, 'since', since, 'reason', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'issue', ARGV[3], 'from', '',
  'to', ARGV[1], 'token', token, 'reason', ARGV[2], 'since', since)
return {{1, ARGV[1], tostring(token), since, ARGV[2]}}
"""

# KEYS: owner, fence, owners:{expected}, owners:{to}, log.
# ARGV: expected, to, reason, member, log maxlen.
_HAND_BACK = f"""
if redis.call('HGET', KEYS[1], 'system') ~= ARGV[1] then return false end
local token = redis.call('INCR', KEYS[2])
{_NOW}
redis.call('HSET', KEYS[1], 'system', ARGV[2], 'token', token, 'since', since, 'reason', ARGV[3])
redis.call('SREM', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', 'issue', ARGV[4], 'from', ARGV[1],
  'to', ARGV[2], 'token', token, 'reason', ARGV[3], 'since', since)
return {{ARGV[2], tostring(token), since, ARGV[3]}}
"""


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns an issue, since when and why; ``token`` is the fencing token of the change."""

    system: System
    token: int
    since: float
    reason: str


def _member(issue: Issue) -> str:
    return f"{issue.repository}#{issue.number}"


def _issue(member: str) -> Issue:
    repository, _, number = member.rpartition("#")
    return Issue(repository=repository, number=int(number))


def _ownership(fields: Sequence[Any]) -> Ownership:
    system, token, since, reason = fields
    return Ownership(system=System(system), token=int(token), since=float(since), reason=reason)


class OwnershipStore:
    """Issue ownership over a Redis client created with ``decode_responses=True``."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str, log_maxlen: int = 10_000) -> None:
        if not redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("OwnershipStore needs a Redis client with decode_responses=True")
        self._redis = redis
        self._keys = Keys(prefix)
        self._log_maxlen = log_maxlen
        self._claim = redis.register_script(_CLAIM)
        self._hand_back = redis.register_script(_HAND_BACK)

    @property
    def log_key(self) -> str:
        """The stream every ownership change is appended to."""
        return self._keys.ownership_log

    def _owner_key(self, issue: Issue) -> str:
        return self._keys.owner(issue)

    def _index_key(self, system: System) -> str:
        return self._keys.owners(system)

    @property
    def _fence_key(self) -> str:
        return self._keys.fence

    async def owner(self, issue: Issue) -> Ownership | None:
        """The current owner of ``issue``, or ``None`` if no system has claimed it."""
        fields = await self._redis.hmget(
            self._owner_key(issue), ["system", "token", "since", "reason"]
        )
        return None if fields[0] is None else _ownership(fields)

    async def claim(self, issue: Issue, system: System, *, reason: str) -> tuple[Ownership, bool]:
        """Record ``system`` as owner unless the issue has one: ``(owner, True)`` for the
        winner of the first claim, ``(existing owner, False)`` for everyone else."""
        keys = [
            self._owner_key(issue),
            self._fence_key,
            self._index_key(system),
            self.log_key,
        ]
        args = [str(system), reason, _member(issue), str(self._log_maxlen)]
        won, *fields = await self._claim(keys=keys, args=args)
        return _ownership(fields), bool(won)

    async def hand_back(
        self, issue: Issue, *, expected: System, to: System, reason: str
    ) -> Ownership | None:
        """Move ``issue`` from ``expected`` to ``to`` if ``expected`` still owns it (compare and
        set); the new ownership, or ``None`` if the owner was not ``expected``."""
        if expected is to:
            raise ValueError(f"hand_back of {issue} from {expected} to itself")
        keys = [
            self._owner_key(issue),
            self._fence_key,
            self._index_key(expected),
            self._index_key(to),
            self.log_key,
        ]
        args = [str(expected), str(to), reason, _member(issue), str(self._log_maxlen)]
        fields = await self._hand_back(keys=keys, args=args)
        return None if fields is None else _ownership(fields)

    async def hand_back_all(self, *, expected: System, to: System, reason: str) -> list[Issue]:
        """Hand every issue ``expected`` owns to ``to`` (the emergency rollback); the issues
        moved, sorted. Repeats until a pass finds nothing, so claims that land during the
        rollback are moved too."""
        moved: list[Issue] = []
        while True:
            moved_now = [
                issue
                for issue in await self._members(expected)
                if await self.hand_back(issue, expected=expected, to=to, reason=reason)
            ]
            moved.extend(moved_now)
            if not moved_now:
                return sorted(moved)

    async def counts(self) -> dict[System, int]:
        """How many issues each system owns (one consistent snapshot)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for system in System:
                pipe.scard(self._index_key(system))
            sizes = await pipe.execute()
        return {system: int(size) for system, size in zip(System, sizes, strict=True)}

    async def issues_owned_by(self, system: System, *, limit: int = 1000) -> list[Issue]:
        """Up to ``limit`` issues ``system`` owns, sorted."""
        return sorted((await self._members(system, limit=limit))[:limit])

    async def _members(self, system: System, *, limit: int | None = None) -> list[Issue]:
        """The issues in the index set of ``system`` (SSCAN: never blocks Redis on a big set),
        stopping once ``limit`` are found."""
        issues: list[Issue] = []
        cursor: int | None = None
        while cursor != 0 and (limit is None or len(issues) < limit):
            cursor, members = await self._redis.sscan(
                self._index_key(system), cursor=cursor or 0, count=limit or 1000
            )
            issues.extend(_issue(str(member)) for member in members)
        return issues
