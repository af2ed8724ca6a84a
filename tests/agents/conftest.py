"""The runtime (real Redis, real Unleash through the flag provider) for the agents' tests."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from flags.admin_api import UnleashAdmin
from service.runtime import Runtime, open_runtime
from service.settings import Settings


@pytest.fixture
async def runtime(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin
) -> AsyncIterator[Runtime]:
    """This test's own Redis prefix; flags at their defaults before and after."""
    async with open_runtime(dataclasses.replace(settings, redis_prefix=prefix), role="test") as rt:
        yield rt
