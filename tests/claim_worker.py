"""A separate OS process that races other processes to claim issues (test_ownership).

``python -m tests.claim_worker REDIS_URL PREFIX SYSTEM REPOSITORY COUNT START``: says it is
ready by pushing to ``Keys.barrier_ready``, waits at the barrier ``Keys.barrier_go`` (BLPOP) so
every worker starts at the same moment, claims issues 1..COUNT of REPOSITORY for SYSTEM one after
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
from service.keys import Keys
from service.routing.ownership import OwnershipStore

__all__ = ["main"]


async def _race(
    url: str, prefix: str, system: System, repository: str, count: int, start: int
) -> None:
    # redis-py's default socket timeout (5 s) would cut the 10 s BLPOP short
    redis = aioredis.from_url(url, decode_responses=True, socket_timeout=30)
    try:
        store = OwnershipStore(redis, prefix=prefix)
        await redis.rpush(Keys(prefix).barrier_ready, str(system))
        if not await redis.blpop([Keys(prefix).barrier_go], timeout=10):
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
