"""The local stack: idempotent start, a complete env file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.devtools import stack
from service.settings import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_second_stack_up_is_a_no_op(stack_env: dict[str, str]) -> None:
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    pids = {name: (config.pids / f"{name}.pid").read_text() for name in ("redis", "unleash")}
    again = stack.up(config)
    assert again == stack_env
    assert {name: (config.pids / f"{name}.pid").read_text() for name in pids} == pids
    assert all(stack.status(config).values())


def test_env_file_is_enough_to_configure_switchyard(stack_env: dict[str, str]) -> None:
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    parsed = stack.read_env_file(config.env_file)
    assert parsed == stack_env
    settings = Settings.from_env(parsed)
    assert settings.unleash_admin_token is not None
    assert settings.webhook_secret is not None
    assert settings.admin_token is not None  # the dashboard's actions work in the demo
    assert settings.redis_url.startswith("redis://127.0.0.1:")
    assert oct(config.env_file.stat().st_mode & 0o777) == oct(0o600)
