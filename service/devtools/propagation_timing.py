"""Timing how fast a kill switch reaches routing: the measuring core of
``tests/migration/test_propagation.py`` and ``bench/propagation.py``.

One flip, timed by :func:`time_flip`: an :class:`Observer` (a process routing issues) is armed
(it sees the switch off), the clock starts, ``flip`` turns the switch on (through Switchyard,
or straight through the Unleash admin API), and the clock stops when the observer's first
routing decision honours it (mode ``emergency_rollback``). :func:`time_flips` repeats that,
turning the switch off in between. :class:`RuntimeObserver` watches a :class:`Runtime` in this
process; the benchmark wraps one in a separate OS process. :func:`wait_for_the_addon` waits
until Unleash's webhook addon calls the service at all (Unleash caches its addon list for a
minute, so a new addon can be silent for up to 60 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue, Mode
from flags.routing import route
from flags.source import FlagSource
from service.runtime import Runtime

__all__ = [
    "Observer",
    "RuntimeObserver",
    "rollback_honoured",
    "time_flip",
    "time_flips",
    "wait_for_the_addon",
]

Action = Callable[[], Awaitable[object]]


def rollback_honoured(flags: FlagSource, issue: Issue) -> bool:
    """True if a routing decision for ``issue`` (no owner yet) follows the kill switch now."""
    snapshot = flags.snapshot(repository=issue.repository, issue_number=issue.number)
    return route(snapshot, None).mode is Mode.EMERGENCY_ROLLBACK


class Observer(Protocol):
    """A process that routes issues, seen from the one timing it."""

    async def arm(self) -> None:
        """Return once the observer's decisions show the kill switch off."""

    async def honoured(self) -> None:
        """Return once the observer's decisions follow the kill switch."""


class RuntimeObserver:
    """Routes one issue in this process, with ``runtime``'s provider and listener, every
    ``poll`` seconds."""

    def __init__(
        self, runtime: Runtime, issue: Issue, *, poll: float = 0.001, within: float = 15.0
    ) -> None:
        self.runtime = runtime
        self._issue = issue
        self._poll = poll
        self._within = within

    def _honoured(self) -> bool:
        return rollback_honoured(self.runtime.flags, self._issue)

    async def arm(self) -> None:
        await self.runtime.provider.refresh()
        await self._until(lambda: not self._honoured(), "the kill switch to be off")

    async def honoured(self) -> None:
        await self._until(self._honoured, "the kill switch to reach routing")

    async def _until(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._within
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {self._within:g} s for {what}")
            await asyncio.sleep(self._poll)


async def time_flip(observer: Observer, flip: Action) -> float:
    """Seconds from just before ``flip`` until the observer's first decision honours it."""
    await observer.arm()
    start = time.perf_counter()
    await flip()
    await observer.honoured()
    return time.perf_counter() - start


async def _settle() -> None:
    await asyncio.sleep(0.2)


async def time_flips(
    observer: Observer,
    admin: UnleashAdmin,
    flip: Action,
    *,
    flips: int,
    settle: Action = _settle,
) -> list[float]:
    """``flips`` timings; before each the kill switch is turned off in Unleash and ``settle``
    awaited (by default 0.2 s), so the observer starts every flip from the switch off."""
    times = []
    for _ in range(flips):
        await admin.set_enabled(KILL_SWITCH_FLAG, False)
        await settle()
        times.append(await time_flip(observer, flip))
    return times


async def wait_for_the_addon(
    admin: UnleashAdmin, notified: Callable[[], bool], *, within: float = 90.0
) -> float:
    """Toggle the kill switch (on, off, one second apart) until ``notified()`` says Unleash's
    webhook addon has called the service; the seconds it took. The switch ends off."""
    start = time.monotonic()
    while not notified():
        if time.monotonic() - start > within:
            raise TimeoutError(f"Unleash's webhook addon did not call the service in {within:g} s")
        await admin.set_enabled(KILL_SWITCH_FLAG, True)
        await asyncio.sleep(1)
        await admin.set_enabled(KILL_SWITCH_FLAG, False)
        await asyncio.sleep(1)
    return time.monotonic() - start
