"""Sticky ownership against the real Redis: first claim wins, CAS hand-backs, fencing tokens,
index sets and the ownership log, and a race of separate OS processes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from flags.model import Issue, System
from service.keys import Keys
from service.routing.ownership import OwnershipStore
from service.settings import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PY, TS = System.PYTHON, System.TYPESCRIPT


def _issue(number: int, repository: str = "octo/app") -> Issue:
    return Issue(repository=repository, number=number)


@pytest.fixture
def redis(redis_client: aioredis.Redis) -> aioredis.Redis:
    """The shared client; the ``prefix`` fixture (conftest) deletes this test's keys."""
    return redis_client


@pytest.fixture
def store(redis: aioredis.Redis, prefix: str) -> OwnershipStore:
    return OwnershipStore(redis, prefix=prefix)


async def _index(redis: aioredis.Redis, prefix: str, system: System) -> set[str]:
    return {str(member) for member in await redis.smembers(Keys(prefix).owners(system))}


async def test_unclaimed_issue_has_no_owner(store: OwnershipStore) -> None:
    assert await store.owner(_issue(1)) is None
    assert await store.counts() == {TS: 0, PY: 0}
    assert await store.hand_back(_issue(1), expected=PY, to=TS, reason="rollback") is None


async def test_first_claim_wins_and_later_claims_get_the_owner(store: OwnershipStore) -> None:
    first, won = await store.claim(_issue(1), PY, reason="gradual 10%")
    assert won
    assert (first.system, first.reason) == (PY, "gradual 10%")

    second, won_again = await store.claim(_issue(1), TS, reason="typescript_only")
    assert not won_again
    assert second == first
    assert await store.owner(_issue(1)) == first
    assert await store.counts() == {TS: 0, PY: 1}


async def test_plain_client_is_refused(settings: Settings) -> None:
    client = aioredis.from_url(settings.redis_url)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            OwnershipStore(client, prefix="unused")
    finally:
        await client.aclose()


async def test_fencing_tokens_strictly_increase_across_claims_and_hand_backs(
    store: OwnershipStore,
) -> None:
    tokens: list[int] = []
    for number in range(1, 6):
        owner, _ = await store.claim(_issue(number), PY if number % 2 else TS, reason="first")
        tokens.append(owner.token)
    for number in (1, 3):
        moved = await store.hand_back(_issue(number), expected=PY, to=TS, reason="rollback")
        assert moved is not None
        tokens.append(moved.token)
    back = await store.hand_back(_issue(2), expected=TS, to=PY, reason="forward")
    assert back is not None
    tokens.append(back.token)
    assert tokens == sorted(set(tokens))


async def test_hand_back_is_compare_and_set(
    store: OwnershipStore, redis: aioredis.Redis, prefix: str
) -> None:
    claimed, _ = await store.claim(_issue(7), PY, reason="gradual")

    refused = await store.hand_back(_issue(7), expected=TS, to=PY, reason="stale view")
    assert refused is None
    assert await store.owner(_issue(7)) == claimed

    moved = await store.hand_back(_issue(7), expected=PY, to=TS, reason="kill switch")
    assert moved is not None
    assert (moved.system, moved.reason) == (TS, "kill switch")
    assert moved.token > claimed.token and moved.since >= claimed.since
    assert await store.owner(_issue(7)) == moved
    assert await store.hand_back(_issue(7), expected=PY, to=TS, reason="again") is None

    assert await store.counts() == {TS: 1, PY: 0}
    assert await _index(redis, prefix, TS) == {"octo/app#7"}
    assert await _index(redis, prefix, PY) == set()

    log = await redis.xrange(store.log_key)
    assert log is not None
    entries = [dict(fields or {}) for _, fields in log]
    assert [float(entry.pop("since")) for entry in entries] == [claimed.since, moved.since]
    assert entries == [
        {
            "issue": "octo/app#7",
            "from": "",
            "to": "python",
            "token": str(claimed.token),
            "reason": "gradual",
        },
        {
            "issue": "octo/app#7",
            "from": "python",
            "to": "typescript",
            "token": str(moved.token),
            "reason": "kill switch",
        },
    ]


async def test_hand_back_to_the_same_system_is_refused(store: OwnershipStore) -> None:
    with pytest.raises(ValueError, match="itself"):
        await store.hand_back(_issue(1), expected=PY, to=PY, reason="noop")


async def test_hand_back_all_moves_only_the_expected_systems_issues(
    store: OwnershipStore, redis: aioredis.Redis, prefix: str
) -> None:
    for number in range(1, 31):
        await store.claim(_issue(number), PY if number <= 20 else TS, reason="routed")
    ts_before = {n: await store.owner(_issue(n)) for n in range(21, 31)}

    moved = await store.hand_back_all(expected=PY, to=TS, reason="emergency rollback")

    assert moved == [_issue(n) for n in range(1, 21)]
    assert await store.counts() == {TS: 30, PY: 0}
    assert await store.issues_owned_by(PY) == []
    for number in range(1, 21):
        owner = await store.owner(_issue(number))
        assert owner is not None and (owner.system, owner.reason) == (TS, "emergency rollback")
    assert {n: await store.owner(_issue(n)) for n in range(21, 31)} == ts_before
    assert len(await _index(redis, prefix, TS)) == 30
    assert await redis.xlen(store.log_key) == 30 + 20
    assert await store.hand_back_all(expected=PY, to=TS, reason="again") == []


async def test_issues_owned_by_is_sorted_and_limited(store: OwnershipStore) -> None:
    for number in (5, 3, 9, 1):
        await store.claim(_issue(number, "b/b"), PY, reason="routed")
    await store.claim(_issue(2, "a/a"), PY, reason="routed")
    await store.claim(_issue(4), TS, reason="routed")

    assert await store.issues_owned_by(PY) == [
        _issue(2, "a/a"),
        *(_issue(n, "b/b") for n in (1, 3, 5, 9)),
    ]
    assert len(await store.issues_owned_by(PY, limit=2)) == 2
    assert await store.issues_owned_by(TS) == [_issue(4)]


async def test_concurrent_claims_in_one_process_have_one_winner(store: OwnershipStore) -> None:
    results = await asyncio.gather(
        *(store.claim(_issue(1), (PY, TS)[i % 2], reason=f"task {i}") for i in range(20))
    )
    winners = [owner for owner, won in results if won]
    assert len(winners) == 1
    assert {owner for owner, _ in results} == {winners[0]}


async def test_processes_racing_for_the_same_issues_get_one_owner_each(
    store: OwnershipStore, redis: aioredis.Redis, prefix: str, settings: Settings
) -> None:
    workers, count = 6, 50
    systems = [(PY, TS)[i % 2] for i in range(workers)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.claim_worker",
            settings.redis_url,
            prefix,
            str(system),
            "octo/race",
            str(count),
            str(i * count // workers + 1),  # each starts at a different issue, then wraps
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        for i, system in enumerate(systems)
    ]
    barrier = aioredis.from_url(settings.redis_url, decode_responses=True, socket_timeout=30)
    try:  # redis-py's default socket timeout (5 s) would cut a 20 s BLPOP short
        for _ in range(workers):  # every worker is connected and waiting at the barrier
            assert await barrier.blpop([Keys(prefix).barrier_ready], timeout=20)
    finally:
        await barrier.aclose()
    await redis.lpush(Keys(prefix).barrier_go, *["go"] * workers)
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * workers

    reports = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    for number in range(1, count + 1):
        owner = await store.owner(_issue(number, "octo/race"))
        assert owner is not None
        seen = [next(r for r in report if r["number"] == number) for report in reports]
        winners = [system for system, r in zip(systems, seen, strict=True) if r["won"]]
        assert winners == [owner.system]
        assert all((r["system"], r["token"]) == (owner.system, owner.token) for r in seen)

    wins = dict.fromkeys(System, 0)
    for system, report in zip(systems, reports, strict=True):
        wins[system] += sum(r["won"] for r in report)
    assert await store.counts() == wins
    assert sum(wins.values()) == count
    assert int(await redis.get(Keys(prefix).fence) or 0) == count
    assert await redis.xlen(store.log_key) == count
