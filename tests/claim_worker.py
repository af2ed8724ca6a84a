"""A separate OS process that races other processes to claim issues (test_ownership).

``python -m tests.claim_worker REDIS_URL PREFIX SYSTEM REPOSITORY COUNT START``: says it is
ready by pushing to ``{PREFIX}:ready``, waits at the barrier ``{PREFIX}:go`` (BLPOP) so every
worker starts at the same moment, claims issues 1..COUNT of REPOSITORY for SYSTEM one after
the other beginning at issue START (workers start at different issues, so they collide all
along the way, not only at the first), and prints one JSON line per issue:
``{"number", "won", "system", "token"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import redis.asyncio as aioredis

from flags.model import Issue, System
from service.routing.ownership import OwnershipStore

__all__ = ["main"]


async def _race(
    url: str, prefix: str, system: System, repository: str, count: int, start: int
) -> None:
    redis = aioredis.from_url(url, decode_responses=True)
    try:
        store = OwnershipStore(redis, prefix=prefix)
        await redis.rpush(f"{prefix}:ready", str(system))
        if not await redis.blpop([f"{prefix}:go"], timeout=10):
            raise SystemExit("no go signal within 10 s")
        numbers = [(start - 1 + i) % count + 1 for i in range(count)]
        issues = [Issue(repository=repository, number=n) for n in numbers]
        results = [await store.claim(issue, system, reason=f"race {system}") for issue in issues]
    finally:
        await redis.aclose()
    for issue, (owner, won) in zip(issues, results, strict=True):
        line = {"number": issue.number, "won": won, "system": owner.system, "token": owner.token}
        print(json.dumps(line))


def main(argv: list[str]) -> None:
    url, prefix, system, repository, count, start = argv
    asyncio.run(_race(url, prefix, System(system), repository, int(count), int(start)))


if __name__ == "__main__":
    main(sys.argv[1:])
