"""The local stack's configuration: ports and directories, its secrets, and ``.stack/env``.

Random secrets are generated once per stack directory (``secrets.json``, mode 600); the env
file is what ``switchyard stack up`` writes for the other commands to source.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service.errors import StackError

__all__ = [
    "DB_NAME",
    "DB_ROLE",
    "PG_USER",
    "StackConfig",
    "env_values",
    "load_secrets",
    "log",
    "read_env_file",
    "write_env",
]

PG_USER = "postgres"
DB_NAME = "unleash"
DB_ROLE = "unleash"


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


def log(message: str) -> None:
    print(f"stack: {message}", flush=True)


# --- secrets ---------------------------------------------------------------------------------


def load_secrets(config: StackConfig) -> dict[str, str]:
    """The stack's secrets, made once; a secret added since (the viewer token) is made now."""
    path = config.root / "secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        if "switchyard_viewer_token" in loaded:
            return loaded
        values = {**loaded, "switchyard_viewer_token": secrets.token_hex(24)}
        path.write_text(json.dumps(values, indent=2))
        return values
    values = {
        "db_password": secrets.token_hex(16),
        "admin_token": f"*:*.{secrets.token_hex(24)}",
        "client_token": f"default:{config.environment}.{secrets.token_hex(24)}",
        "admin_password": secrets.token_urlsafe(12),
        "webhook_secret": secrets.token_hex(24),
        "unleash_events_secret": secrets.token_hex(24),
        "switchyard_admin_token": secrets.token_hex(24),
        "switchyard_viewer_token": secrets.token_hex(24),
        "agent_secret": secrets.token_hex(24),
    }
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


# --- env file --------------------------------------------------------------------------------


def env_values(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
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
        "SWITCHYARD_VIEWER_TOKEN": values["switchyard_viewer_token"],
        "SWITCHYARD_AGENT_SECRET": values["agent_secret"],
        "SWITCHYARD_FLAG_CACHE_DIR": str(config.root / "flag-cache"),
        "SWITCHYARD_STACK_DIR": str(config.root),
        "SWITCHYARD_PG_PORT": str(config.pg_port),
        "SWITCHYARD_REDIS_PORT": str(config.redis_port),
        "SWITCHYARD_UNLEASH_PORT": str(config.unleash_port),
        "SWITCHYARD_SERVICE_PORT": str(config.service_port),
    }


def write_env(config: StackConfig, values: Mapping[str, str]) -> dict[str, str]:
    env = env_values(config, values)
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
