"""The local stack: PostgreSQL, Redis and Unleash as plain processes on loopback.

``switchyard stack up`` brings up what is not running yet (a second call is a no-op) and writes
``.stack/env``, a sourceable file with every URL, port and token the other commands need.
``switchyard stack down`` stops only what ``up`` started, by the pid files it wrote.

PostgreSQL refuses to run as root; when we are root its data directory belongs to the
``postgres`` system user and its commands run through ``runuser``. These are development
defaults, bound to loopback only: random secrets are generated once per stack directory.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from service.errors import StackError

__all__ = ["StackConfig", "StackError", "down", "read_env_file", "status", "up"]

_PG_USER = "postgres"
_DB_NAME = "unleash"
_DB_ROLE = "unleash"


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    root: Path
    repo: Path
    pg_port: int = 55432
    redis_port: int = 56379
    unleash_port: int = 54242
    service_port: int = 58080
    environment: str = "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, repo: Path) -> StackConfig:
        def port(name: str, default: int) -> int:
            raw = env.get(name, "")
            if not raw:
                return default
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise StackError(f"{name}: must be a TCP port, got {raw!r}")
            return int(raw)

        return cls(
            root=Path(env.get("SWITCHYARD_STACK_DIR") or repo / ".stack").resolve(),
            repo=repo,
            pg_port=port("SWITCHYARD_PG_PORT", 55432),
            redis_port=port("SWITCHYARD_REDIS_PORT", 56379),
            unleash_port=port("SWITCHYARD_UNLEASH_PORT", 54242),
            service_port=port("SWITCHYARD_SERVICE_PORT", 58080),
            environment=env.get("UNLEASH_ENVIRONMENT") or "development",
        )

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def env_file(self) -> Path:
        return self.root / "env"


def _log(message: str) -> None:
    print(f"stack: {message}", flush=True)


# --- secrets ---------------------------------------------------------------------------------


def _secrets(config: StackConfig) -> dict[str, str]:
    path = config.root / "secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    values = {
        "db_password": secrets.token_hex(16),
        "admin_token": f"*:*.{secrets.token_hex(24)}",
        "client_token": f"default:{config.environment}.{secrets.token_hex(24)}",
        "admin_password": secrets.token_urlsafe(12),
        "webhook_secret": secrets.token_hex(24),
        "unleash_events_secret": secrets.token_hex(24),
        "switchyard_admin_token": secrets.token_hex(24),
        "agent_secret": secrets.token_hex(24),
    }
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


# --- processes -------------------------------------------------------------------------------


def _pid_alive(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` if that process runs and its command line contains ``expect``."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    return pid if expect in cmdline else None


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise StackError(f"{what} did not become healthy within {timeout:.0f} s")


def _as_pg_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", _PG_USER, "--", *argv]


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]  # noqa: S603
    if result.returncode != 0:
        command = shlex.join(argv)
        raise StackError(f"{command} failed ({result.returncode}): {result.stderr.strip()}")
    return result  # type: ignore[no-any-return]


def _pg_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found: install the Debian package postgresql")
    return found


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_ready(config: StackConfig) -> bool:
    probe = subprocess.run(  # noqa: S603
        [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(config.pg_port), "-q"],
        check=False,
    )
    return probe.returncode == 0


def _pg_home(config: StackConfig) -> Path:
    """Where PostgreSQL's files live: in the stack directory, unless we are root and the
    ``postgres`` user cannot reach it (a checkout under /root, say); then under /var/tmp."""
    home = config.root
    if os.geteuid() == 0:
        probe = subprocess.run(  # noqa: S603
            ["runuser", "-u", _PG_USER, "--", "test", "-x", str(config.root)],  # noqa: S607
            check=False,
        )
        if probe.returncode != 0:
            digest = hashlib.sha256(str(config.root).encode()).hexdigest()[:12]
            home = Path("/var/tmp") / f"switchyard-{digest}"  # noqa: S108
            home.mkdir(mode=0o755, exist_ok=True)
    return home


def _start_postgres(config: StackConfig, values: Mapping[str, str]) -> None:
    home = _pg_home(config)
    data = home / "postgres"
    pid_file = config.pids / "postgres.pid"
    if _pid_alive(pid_file, "postgres") and _pg_ready(config):
        _log(f"postgres already running on 127.0.0.1:{config.pg_port}")
        return
    run_dir = home / "postgres-run"
    run_dir.mkdir(exist_ok=True)
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        data.mkdir(exist_ok=True)
        pw_file = run_dir / "pwfile"
        pw_file.write_text(values["db_password"] + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_PG_USER)
            for path in (data, run_dir, pw_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _log("initdb")
        _run(
            _as_pg_user(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    _PG_USER,
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    f"--pwfile={pw_file}",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        )
        pw_file.unlink()
    log_file = home / "postgres.log" if home != config.root else config.logs / "postgres.log"
    if os.geteuid() == 0:
        log_file.touch()
        entry = pwd.getpwnam(_PG_USER)
        os.chown(log_file, entry.pw_uid, entry.pw_gid)
    options = f"-p {config.pg_port} -k {run_dir} -c listen_addresses=127.0.0.1"
    _run(
        _as_pg_user(
            [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log_file), "-o", options, "-w", "start"]
        )
    )
    pid = (data / "postmaster.pid").read_text().split()[0]
    pid_file.write_text(pid + "\n")
    _wait("postgres", lambda: _pg_ready(config), 30)
    if fresh:
        psql = [_pg_bin("psql"), "-h", str(run_dir), "-p", str(config.pg_port), "-U", _PG_USER]
        password = values["db_password"].replace("'", "''")
        _run(_as_pg_user([*psql, "-c", f"CREATE ROLE {_DB_ROLE} LOGIN PASSWORD '{password}'"]))
        _run(_as_pg_user([*psql, "-c", f"CREATE DATABASE {_DB_NAME} OWNER {_DB_ROLE}"]))
    _log(f"postgres up on 127.0.0.1:{config.pg_port}")


# --- Redis -----------------------------------------------------------------------------------


def _redis_ready(config: StackConfig) -> bool:
    probe = subprocess.run(  # noqa: S603
        ["redis-cli", "-h", "127.0.0.1", "-p", str(config.redis_port), "ping"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "PONG"


def _start_redis(config: StackConfig) -> None:
    pid_file = config.pids / "redis.pid"
    if _pid_alive(pid_file, "redis-server") and _redis_ready(config):
        _log(f"redis already running on 127.0.0.1:{config.redis_port}")
        return
    data = config.root / "redis"
    data.mkdir(exist_ok=True)
    _run(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(config.redis_port),
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pid_file),
            "--logfile",
            str(config.logs / "redis.log"),
        ]
    )
    _wait("redis", lambda: _redis_ready(config), 20)
    _log(f"redis up on 127.0.0.1:{config.redis_port} (AOF on)")


# --- Unleash ---------------------------------------------------------------------------------


def _unleash_ready(config: StackConfig) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{config.unleash_port}/health", timeout=2
        ) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _unleash_env(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
    database = (
        f"postgres://{_DB_ROLE}:{values['db_password']}@127.0.0.1:{config.pg_port}/{_DB_NAME}"
    )
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "TZ": "UTC",
        "DATABASE_URL": database,
        "UNLEASH_PORT": str(config.unleash_port),
        "UNLEASH_HOST": "127.0.0.1",
        "INIT_ADMIN_API_TOKENS": values["admin_token"],
        "INIT_CLIENT_API_TOKENS": values["client_token"],
        "UNLEASH_DEFAULT_ADMIN_USERNAME": "admin",
        "UNLEASH_DEFAULT_ADMIN_PASSWORD": values["admin_password"],
        # The webhook addon may call exactly the Switchyard service's host, nothing else private.
        "UNLEASH_ALLOW_LIST_INTEGRATION": "127.0.0.1",
        # Serve /api/client/features fresh on every request. With Unleash's payload cache on,
        # a refetch right after a change can return the old flags for up to a second (the
        # cache is keyed by a revision id that advances once a second).
        "CLIENT_FEATURE_CACHING_ENABLED": "false",
        "LOG_LEVEL": "warn",
    }


def _start_unleash(config: StackConfig, values: Mapping[str, str]) -> None:
    pid_file = config.pids / "unleash.pid"
    if _pid_alive(pid_file, "server.mjs") and _unleash_ready(config):
        _log(f"unleash already running on 127.0.0.1:{config.unleash_port}")
        return
    unleash_dir = config.repo / "unleash"
    if not (unleash_dir / "node_modules" / "unleash-server").exists():
        raise StackError(f"unleash-server is not installed: run npm ci in {unleash_dir}")
    log = config.logs / "unleash.log"
    # Started through sh so that Unleash is not our child: it outlives this process cleanly.
    launched = _run(
        ["sh", "-c", f"node server.mjs >>{shlex.quote(str(log))} 2>&1 </dev/null & echo $!"],
        cwd=unleash_dir,
        env=_unleash_env(config, values),
        start_new_session=True,
    )
    pid_file.write_text(launched.stdout.strip() + "\n")
    _log("unleash starting (first start runs its database migrations)")

    def ready() -> bool:
        if _pid_alive(pid_file, "server.mjs") is None:
            raise StackError(f"unleash exited during start-up; see {log}")
        return _unleash_ready(config)

    _wait("unleash", ready, 180)
    _log(f"unleash up on http://127.0.0.1:{config.unleash_port}")


# --- env file --------------------------------------------------------------------------------


def _env_values(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
    return {
        "UNLEASH_URL": f"http://127.0.0.1:{config.unleash_port}",
        "UNLEASH_ADMIN_TOKEN": values["admin_token"],
        "UNLEASH_CLIENT_TOKEN": values["client_token"],
        "UNLEASH_ENVIRONMENT": config.environment,
        "UNLEASH_PROJECT": "default",
        "UNLEASH_UI_USER": "admin",
        "UNLEASH_UI_PASSWORD": values["admin_password"],
        "REDIS_URL": f"redis://127.0.0.1:{config.redis_port}/0",
        "SWITCHYARD_URL": f"http://127.0.0.1:{config.service_port}",
        "SWITCHYARD_WEBHOOK_SECRET": values["webhook_secret"],
        "SWITCHYARD_UNLEASH_EVENTS_SECRET": values["unleash_events_secret"],
        "SWITCHYARD_ADMIN_TOKEN": values["switchyard_admin_token"],
        "SWITCHYARD_AGENT_SECRET": values["agent_secret"],
        "SWITCHYARD_FLAG_CACHE_DIR": str(config.root / "flag-cache"),
        "SWITCHYARD_STACK_DIR": str(config.root),
        "SWITCHYARD_PG_PORT": str(config.pg_port),
        "SWITCHYARD_REDIS_PORT": str(config.redis_port),
        "SWITCHYARD_UNLEASH_PORT": str(config.unleash_port),
        "SWITCHYARD_SERVICE_PORT": str(config.service_port),
    }


def _write_env(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
    env = _env_values(config, values)
    lines = [
        "# Written by `switchyard stack up`: development values, loopback only.",
        *(f"export {key}={shlex.quote(value)}" for key, value in env.items()),
    ]
    config.env_file.write_text("\n".join(lines) + "\n")
    config.env_file.chmod(0o600)
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a file written by :func:`up` back into a mapping."""
    result: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, raw = line.removeprefix("export ").partition("=")
            parsed = shlex.split(raw)
            result[key] = parsed[0] if parsed else ""
    return result


# --- entry points ----------------------------------------------------------------------------


def up(config: StackConfig) -> dict[str, str]:
    """Start whatever part of the stack is not running; return the values of ``.stack/env``."""
    for directory in (config.root, config.pids, config.logs):
        directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        config.root.chmod(0o755)
    values = _secrets(config)
    _start_postgres(config, values)
    _start_redis(config)
    _start_unleash(config, values)
    env = _write_env(config, values)
    _log(f"environment written to {config.env_file}")
    return env


def status(config: StackConfig) -> dict[str, bool]:
    return {
        "postgres": _pid_alive(config.pids / "postgres.pid", "postgres") is not None
        and _pg_ready(config),
        "redis": _pid_alive(config.pids / "redis.pid", "redis-server") is not None
        and _redis_ready(config),
        "unleash": _pid_alive(config.pids / "unleash.pid", "server.mjs") is not None
        and _unleash_ready(config),
    }


def _stop_pid(name: str, pid_file: Path, expect: str) -> None:
    pid = _pid_alive(pid_file, expect)
    if pid is None:
        _log(f"{name} not running (no live pid file)")
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _pid_alive(pid_file, expect):
        time.sleep(0.2)
    if _pid_alive(pid_file, expect):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    _log(f"{name} stopped (pid {pid})")


def down(config: StackConfig) -> None:
    """Stop the processes ``up`` started, newest first; never anything found by name."""
    _stop_pid("unleash", config.pids / "unleash.pid", "server.mjs")
    _stop_pid("redis", config.pids / "redis.pid", "redis-server")
    pg_pid = config.pids / "postgres.pid"
    if _pid_alive(pg_pid, "postgres"):
        data = _pg_home(config) / "postgres"
        _run(_as_pg_user([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]))
        pg_pid.unlink(missing_ok=True)
        _log("postgres stopped")
    else:
        _log("postgres not running (no live pid file)")
        pg_pid.unlink(missing_ok=True)
