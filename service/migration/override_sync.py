"""Writes a pending break-glass override to Unleash once Unleash answers again.

Run by every service and watchdog process (:func:`sync_overrides`); each round is one Redis
read while nothing is pending, and the claim in :class:`~service.migration.brake.Brake` makes
one process write it, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from flags.errors import UnleashError
from service.migration.control import MigrationControl

__all__ = ["sync_overrides"]

_log = logging.getLogger("switchyard.brake")


async def sync_overrides(
    control: MigrationControl, *, holder: str, stop: asyncio.Event, interval: float = 1.0
) -> None:
    """Until ``stop``: every ``interval`` seconds, hand a pending override over to Unleash."""
    while not stop.is_set():
        try:
            if await control.sync_override(holder=holder):
                _log.warning("break-glass override written to Unleash by %s", holder)
        except UnleashError as error:
            _log.info("break-glass override still pending: %s", error)
        except RedisError as error:
            _log.warning("break-glass override check failed: Redis: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
