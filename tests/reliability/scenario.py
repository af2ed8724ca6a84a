"""Setting the scene of a reliability case: flags in the real Unleash, worker processes, and
the phases the kill-switch and Unleash-outage cases share (python holding work in flight, the
hand-over to typescript, the traffic before an outage)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import MODE_FLAG, ROLLOUT_FLAG, Mode, System
from flags.provision import mode_strategy, rollout_strategy
from service.routing.ownership import OwnershipStore
from tests.pipeline.test_worker import Sims, eventually
from tests.processes import process, started
from tests.reliability.ledger import Delivery, GitHub, Ledger, read_ledger

__all__ = [
    "WORKER_OPTIONS",
    "all_acted",
    "assert_typescript_took_over",
    "deliver_and_wait",
    "hold_python_in_flight",
    "set_flags",
    "until_handed_to_typescript",
    "until_python_has",
    "worker",
    "workers",
]

# Short enough that a killed worker's entries and issue locks come back within seconds.
WORKER_OPTIONS = ("--claim-idle-ms", "1500", "--lock-ttl-seconds", "3", "--max-attempts", "3")
_PYTHON_NEVER_FINISHES_MS = 600_000


async def set_flags(admin: UnleashAdmin, *, mode: Mode, rollout: int = 0) -> None:
    """Mode and rollout percentage in Unleash (processes started later fetch them at start)."""
    mode_rule = (await admin.strategies(MODE_FLAG))[0]
    await admin.update_strategy(MODE_FLAG, mode_rule["id"], mode_strategy(mode))
    rollout_rule = (await admin.strategies(ROLLOUT_FLAG))[0]
    await admin.update_strategy(ROLLOUT_FLAG, rollout_rule["id"], rollout_strategy(rollout))


def worker(
    name: str, *, env: Mapping[str, str], logs: Path, options: tuple[str, ...] = WORKER_OPTIONS
) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """One ``switchyard worker --consumer NAME`` process (log: ``logs/NAME.log``)."""
    return process("worker", "--consumer", name, *options, env=env, log=logs / f"{name}.log")


@contextlib.asynccontextmanager
async def workers(
    *names: str, env: Mapping[str, str], logs: Path, options: tuple[str, ...] = WORKER_OPTIONS
) -> AsyncIterator[None]:
    """Worker processes, each consuming before the block starts; all stopped after."""
    async with contextlib.AsyncExitStack() as running:
        for name in names:
            await running.enter_async_context(worker(name, env=env, logs=logs, options=options))
        await started(*(logs / f"{name}.log" for name in names))
        yield


# --- the kill switch under load: python holds work, typescript takes it over ----------------


async def hold_python_in_flight(admin: UnleashAdmin, agents: Sims) -> None:
    """Python-only mode, and python's agent never finishes: what it is given stays in flight."""
    await set_flags(admin, mode=Mode.PYTHON_ONLY)
    await agents.control(System.PYTHON, latency_ms=_PYTHON_NEVER_FINISHES_MS)


async def until_python_has(github: GitHub, agents: Sims, deliveries: list[Delivery]) -> None:
    """Wait until python acts on as many deliveries as ``deliveries`` holds."""

    async def python_has_them_all() -> bool:
        ledger = await read_ledger(github, agents)
        return len(ledger.acted_by(System.PYTHON)) == len(deliveries)

    await eventually(python_has_them_all, what="python to have every first event")


async def until_handed_to_typescript(github: GitHub, agents: Sims) -> None:
    """Wait until python acts on nothing and every accepted delivery took effect."""

    async def handed_over() -> bool:
        ledger = await read_ledger(github, agents)
        return not ledger.acted_by(System.PYTHON) and all(ledger.acting.values())

    await eventually(handed_over, what="python's work to be handed to typescript", within=30)


async def assert_typescript_took_over(
    github: GitHub, ledger: Ledger, redis: Redis, prefix: str, *, issues: int
) -> dict[str, dict[str, Any]]:
    """Every python job was cancelled, typescript acted on every accepted delivery and owns
    all ``issues``; python's jobs, for the case's own checks."""
    python_jobs = ledger.jobs[System.PYTHON]
    assert {job["status"] for job in python_jobs.values()} == {"cancelled"}
    assert ledger.acted_by(System.TYPESCRIPT) == github.accepted
    owners = await OwnershipStore(redis, prefix=prefix).counts()
    assert owners == {System.TYPESCRIPT: issues, System.PYTHON: 0}
    return python_jobs


# --- traffic before an outage ------------------------------------------------------------------


async def all_acted(github: GitHub, agents: Sims) -> bool:
    """Every accepted delivery took effect at an agent."""
    return all((await read_ledger(github, agents)).acting.values())


async def deliver_and_wait(github: GitHub, agents: Sims, deliveries: list[Delivery]) -> None:
    """Deliver, and wait until every accepted delivery took effect."""
    await github.deliver_all(deliveries)
    await eventually(lambda: all_acted(github, agents), what="the deliveries before the outage")
