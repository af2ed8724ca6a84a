"""Tests that take a shared server away from other test sessions on the same stack, serialised.

A test that stops the stack's Unleash (:func:`tests.processes.unleash_outage`) or binds the
stack's fixed service port (the port Unleash's webhook addon calls) would break whatever another
pytest session on the same stack (``SWITCHYARD_STACK_DIR``) is doing at that moment. So every
session holds a shared ``flock`` on ``<stack dir>/tests.lock`` from the moment it uses the stack
(:func:`share`), and such a test converts it to an exclusive lock for its block
(:func:`exclusive`): it waits until no other session holds the stack, and other sessions wait
for it. In a single session the lock is never contended and costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["exclusive", "share"]

_held: dict[Path, int] = {}


def share(stack_dir: Path) -> int:
    """Hold the stack (shared) for the rest of this test session; the lock's descriptor."""
    path = stack_dir.resolve() / "tests.lock"
    if path not in _held:
        stack_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        _held[path] = descriptor
    return _held[path]


@contextlib.asynccontextmanager
async def exclusive(stack_dir: Path) -> AsyncIterator[None]:
    """The stack to this test alone for the block; shared again afterwards."""
    descriptor = await asyncio.to_thread(share, stack_dir)
    await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
