"""Setting the scene of a reliability case: flags in the real Unleash, worker processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from flags.admin_api import UnleashAdmin
from flags.model import MODE_FLAG, ROLLOUT_FLAG, Mode
from flags.provision import mode_strategy, rollout_strategy
from tests.processes import process, started

__all__ = ["WORKER_OPTIONS", "set_flags", "worker", "workers"]

# Short enough that a killed worker's entries and issue locks come back within seconds.
WORKER_OPTIONS = ("--claim-idle-ms", "1500", "--lock-ttl-seconds", "3", "--max-attempts", "3")


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
