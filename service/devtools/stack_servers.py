"""The local stack's servers: PostgreSQL, Redis and Unleash started, probed and stopped as
plain processes on loopback, each tracked by the pid file it wrote.

PostgreSQL refuses to run as root; when we are root its data directory belongs to the
``postgres`` system user and its commands run through ``runuser``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from service.devtools.stack_config import DB_NAME, DB_ROLE, PG_USER, StackConfig, log
from service.errors import StackError

__all__ = [
    "as_pg_user",
    "pg_bin",
    "pg_home",
    "pg_ready",
    "pid_alive",
    "redis_ready",
    "run",
    "start_postgres",
    "start_redis",
    "start_unleash",
    "unleash_env",
    "unleash_ready",
    "wait_until",
]

# --- processes -------------------------------------------------------------------------------


def pid_alive(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` if that process runs and its command line contains ``expect``."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    return pid if expect in cmdline else None


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise StackError(f"{what} did not become healthy within {timeout:.0f} s")


def as_pg_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", PG_USER, "--", *argv]


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]  # noqa: S603
    if result.returncode != 0:
        command = shlex.join(argv)
        raise StackError(f"{command} failed ({result.returncode}): {result.stderr.strip()}")
    return result  # type: ignore[no-any-return]


def pg_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found: install the Debian package postgresql")
    return found


# --- PostgreSQL ------------------------------------------------------------------------------


def pg_ready(config: StackConfig) -> bool:
    probe = subprocess.run(  # noqa: S603
        [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(config.pg_port), "-q"],
        check=False,
    )
    return probe.returncode == 0


def pg_home(config: StackConfig) -> Path:
    """Where PostgreSQL's files live: in the stack directory, unless we are root and the
    ``postgres`` user cannot reach it (a checkout under /root, say); then under /var/tmp."""
    home = config.root
    if os.geteuid() == 0:
        probe = subprocess.run(  # noqa: S603
            ["runuser", "-u", PG_USER, "--", "test", "-x", str(config.root)],  # noqa: S607
            check=False,
        )
        if probe.returncode != 0:
            digest = hashlib.sha256(str(config.root).encode()).hexdigest()[:12]
            home = Path("/var/tmp") / f"switchyard-{digest}"  # noqa: S108
            home.mkdir(mode=0o755, exist_ok=True)
    return home


def start_postgres(config: StackConfig, values: Mapping[str, str]) -> None:
    home = pg_home(config)
    data = home / "postgres"
    pid_file = config.pids / "postgres.pid"
    if pid_alive(pid_file, "postgres") and pg_ready(config):
        log(f"postgres already running on 127.0.0.1:{config.pg_port}")
        return
    run_dir = home / "postgres-run"
    run_dir.mkdir(exist_ok=True)
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        data.mkdir(exist_ok=True)
        pw_file = run_dir / "pwfile"
        pw_file.write_text(values["db_password"] + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            for path in (data, run_dir, pw_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        log("initdb")
        run(
            as_pg_user(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    PG_USER,
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
        entry = pwd.getpwnam(PG_USER)
        os.chown(log_file, entry.pw_uid, entry.pw_gid)
    options = f"-p {config.pg_port} -k {run_dir} -c listen_addresses=127.0.0.1"
    run(
        as_pg_user(
            [pg_bin("pg_ctl"), "-D", str(data), "-l", str(log_file), "-o", options, "-w", "start"]
        )
    )
    pid = (data / "postmaster.pid").read_text().split()[0]
    pid_file.write_text(pid + "\n")
    wait_until("postgres", lambda: pg_ready(config), 30)
    if fresh:
        psql = [pg_bin("psql"), "-h", str(run_dir), "-p", str(config.pg_port), "-U", PG_USER]
        password = values["db_password"].replace("'", "''")
        run(as_pg_user([*psql, "-c", f"CREATE ROLE {DB_ROLE} LOGIN PASSWORD '{password}'"]))
        run(as_pg_user([*psql, "-c", f"CREATE DATABASE {DB_NAME} OWNER {DB_ROLE}"]))
    log(f"postgres up on 127.0.0.1:{config.pg_port}")


# --- Redis -----------------------------------------------------------------------------------


def redis_ready(config: StackConfig) -> bool:
    probe = subprocess.run(  # noqa: S603
        ["redis-cli", "-h", "127.0.0.1", "-p", str(config.redis_port), "ping"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "PONG"


def start_redis(config: StackConfig) -> None:
    pid_file = config.pids / "redis.pid"
    if pid_alive(pid_file, "redis-server") and redis_ready(config):
        log(f"redis already running on 127.0.0.1:{config.redis_port}")
        return
    data = config.root / "redis"
    data.mkdir(exist_ok=True)
    run(
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
    wait_until("redis", lambda: redis_ready(config), 20)
    log(f"redis up on 127.0.0.1:{config.redis_port} (AOF on)")


# --- Unleash ---------------------------------------------------------------------------------


def unleash_ready(config: StackConfig) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{config.unleash_port}/health", timeout=2
        ) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def unleash_env(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
    database = f"postgres://{DB_ROLE}:{values['db_password']}@127.0.0.1:{config.pg_port}/{DB_NAME}"
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


def start_unleash(config: StackConfig, values: Mapping[str, str]) -> None:
    pid_file = config.pids / "unleash.pid"
    if pid_alive(pid_file, "server.mjs") and unleash_ready(config):
        log(f"unleash already running on 127.0.0.1:{config.unleash_port}")
        return
    unleash_dir = config.repo / "unleash"
    if not (unleash_dir / "node_modules" / "unleash-server").exists():
        raise StackError(f"unleash-server is not installed: run npm ci in {unleash_dir}")
    log_file = config.logs / "unleash.log"
    # Started through sh so that Unleash is not our child: it outlives this process cleanly.
    launched = run(
        ["sh", "-c", f"node server.mjs >>{shlex.quote(str(log_file))} 2>&1 </dev/null & echo $!"],
        cwd=unleash_dir,
        env=unleash_env(config, values),
        start_new_session=True,
    )
    pid_file.write_text(launched.stdout.strip() + "\n")
    log("unleash starting (first start runs its database migrations)")

    def ready() -> bool:
        if pid_alive(pid_file, "server.mjs") is None:
            raise StackError(f"unleash exited during start-up; see {log_file}")
        return unleash_ready(config)

    wait_until("unleash", ready, 180)
    log(f"unleash up on http://127.0.0.1:{config.unleash_port}")
