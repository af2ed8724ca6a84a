"""The local stack: PostgreSQL, Redis and Unleash as plain processes on loopback.

``switchyard stack up`` brings up what is not running yet (a second call is a no-op) and writes
``.stack/env``, a sourceable file with every URL, port and token the other commands need.
``switchyard stack down`` stops only what ``up`` started, by the pid files it wrote.

PostgreSQL refuses to run as root; when we are root its data directory belongs to the
``postgres`` system user and its commands run through ``runuser``. These are development
defaults, bound to loopback only: random secrets are generated once per stack directory.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from service.devtools.stack_config import StackConfig, load_secrets, log, read_env_file, write_env
from service.devtools.stack_servers import (
    as_pg_user,
    pg_bin,
    pg_home,
    pg_ready,
    pid_alive,
    redis_ready,
    run,
    start_postgres,
    start_redis,
    start_unleash,
    unleash_ready,
)
from service.errors import StackError

__all__ = ["StackConfig", "StackError", "down", "read_env_file", "status", "up"]

# --- entry points ----------------------------------------------------------------------------


def up(config: StackConfig) -> dict[str, str]:
    """Start whatever part of the stack is not running; return the values of ``.stack/env``."""
    for directory in (config.root, config.pids, config.logs):
        directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        config.root.chmod(0o755)
    values = load_secrets(config)
    start_postgres(config, values)
    start_redis(config)
    start_unleash(config, values)
    env = write_env(config, values)
    log(f"environment written to {config.env_file}")
    return env


def status(config: StackConfig) -> dict[str, bool]:
    return {
        "postgres": pid_alive(config.pids / "postgres.pid", "postgres") is not None
        and pg_ready(config),
        "redis": pid_alive(config.pids / "redis.pid", "redis-server") is not None
        and redis_ready(config),
        "unleash": pid_alive(config.pids / "unleash.pid", "server.mjs") is not None
        and unleash_ready(config),
    }


def _stop_pid(name: str, pid_file: Path, expect: str) -> None:
    pid = pid_alive(pid_file, expect)
    if pid is None:
        log(f"{name} not running (no live pid file)")
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and pid_alive(pid_file, expect):
        time.sleep(0.2)
    if pid_alive(pid_file, expect):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    log(f"{name} stopped (pid {pid})")


def down(config: StackConfig) -> None:
    """Stop the processes ``up`` started, newest first; never anything found by name."""
    _stop_pid("unleash", config.pids / "unleash.pid", "server.mjs")
    _stop_pid("redis", config.pids / "redis.pid", "redis-server")
    pg_pid = config.pids / "postgres.pid"
    if pid_alive(pg_pid, "postgres"):
        data = pg_home(config) / "postgres"
        run(as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]))
        pg_pid.unlink(missing_ok=True)
        log("postgres stopped")
    else:
        log("postgres not running (no live pid file)")
        pg_pid.unlink(missing_ok=True)
