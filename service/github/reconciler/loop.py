"""The reconciler every N seconds, on one process at a time (``deliveries reconcile --every``).

Every process runs the loop; each round, the one holding the lease (:mod:`service.leases`, a TTL of
three rounds, at least a minute) runs :meth:`~service.github.reconciler.run.Reconciler.run`,
the others wait for the next round. A run that fails (Redis down, say) is logged and retried
next round; the loop ends when ``stop`` is set, and gives the lease up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from service.github.reconciler.run import Reconciler, RunReport
from service.leases import Lease

__all__ = ["reconcile_periodically"]

_log = logging.getLogger("switchyard.reconciler")


async def reconcile_periodically(
    reconciler: Reconciler,
    *,
    lease: Lease,
    every: float,
    stop: asyncio.Event,
    on_report: Callable[[RunReport], None] | None = None,
) -> int:
    """Run until ``stop``; the number of runs this process made."""
    runs = 0
    try:
        while not stop.is_set():
            try:
                if await lease.acquire():
                    report = await reconciler.run()
                    runs += 1
                    if on_report is not None:
                        on_report(report)
                else:
                    _log.debug("reconciler: %s holds the lease", await lease.holder_now())
            except RedisError as error:
                _log.warning("reconciler round failed: %r", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
    finally:
        with contextlib.suppress(RedisError):
            await lease.release()
    return runs
