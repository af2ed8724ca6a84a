"""The lock that keeps other test sessions out while a test stops or binds a shared server."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from tests import stack_lock


def _try(path: Path, kind: int) -> bool:
    """Whether another session (another open file) could take the lock now."""
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


async def test_an_exclusive_block_keeps_other_sessions_out_and_shares_again(
    tmp_path: Path,
) -> None:
    stack_lock.share(tmp_path)
    lock = tmp_path / "tests.lock"
    assert _try(lock, fcntl.LOCK_SH) and not _try(lock, fcntl.LOCK_EX)
    async with stack_lock.exclusive(tmp_path):
        assert not _try(lock, fcntl.LOCK_SH)
    assert _try(lock, fcntl.LOCK_SH) and not _try(lock, fcntl.LOCK_EX)


async def test_the_exclusive_lock_is_given_back_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with stack_lock.exclusive(tmp_path):
            raise RuntimeError("the outage test failed")
    assert _try(tmp_path / "tests.lock", fcntl.LOCK_SH)
