"""Typed settings, read once from the environment at the edge of the program.

Every value comes from a variable named in the table below; nothing deeper in the code reads
``os.environ``. Secrets are wrapped in :class:`Secret` so they never show up in a ``repr``, a log
line or a traceback, and are compared in constant time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flags.model import System
from flags.secret import Secret
from service.errors import SettingsError
from service.github.api.auth import AppCredentials, Credentials, TokenCredentials
from service.github.api.client import DEFAULT_API_URL
from service.github.api.hooks import HookRef, parse_hooks
from service.system_kinds import (
    SYSTEM_ENV_VARS,
    AgentKind,
    SystemSettings,
    read_system_settings,
    system_variable,
)

__all__ = ["ENV_VARS", "Secret", "Settings", "SettingsError"]


# Every variable Switchyard reads, with what it means (the README's table says the same).
ENV_VARS: dict[str, str] = {
    "UNLEASH_URL": "Base URL of the Unleash server (no /api suffix).",
    "UNLEASH_CLIENT_TOKEN": "Unleash client (backend) API token used to read flags.",
    "UNLEASH_ADMIN_TOKEN": "Unleash admin API token or personal access token, for writes.",
    "UNLEASH_ENVIRONMENT": "Unleash environment the flags are evaluated in (default development).",
    "UNLEASH_PROJECT": "Unleash project holding the flags (default default).",
    "REDIS_URL": "Redis URL for state, queues, locks and metrics.",
    "SWITCHYARD_URL": "Public base URL of the Switchyard service (Unleash's addon calls it).",
    "SWITCHYARD_HOST": "Interface the service binds to (default 127.0.0.1).",
    "SWITCHYARD_PORT": "Port the service binds to (default: the port of SWITCHYARD_URL).",
    "SWITCHYARD_WEBHOOK_SECRET": "GitHub webhook secret (X-Hub-Signature-256).",
    "SWITCHYARD_UNLEASH_EVENTS_SECRET": "Shared secret Unleash's webhook addon sends.",
    "SWITCHYARD_ADMIN_TOKEN": "Shared token for dashboard and admin API actions (never approves).",
    "SWITCHYARD_VIEWER_TOKEN": "Read-only token for the dashboard and /migration/status.",
    "SWITCHYARD_AGENT_SECRET": "Shared callback secret of both agent systems (deprecated).",
    "SWITCHYARD_TYPESCRIPT_AGENT_SECRET": "HMAC secret the typescript system signs callbacks with.",
    "SWITCHYARD_PYTHON_AGENT_SECRET": "HMAC secret the python system signs callbacks with.",
    "SWITCHYARD_METRICS_TOKEN": "Bearer token /metrics requires when set (for Prometheus).",
    "SWITCHYARD_STREAM_RETENTION_SECONDS": "How long acknowledged events are kept (default 86400).",
    "SWITCHYARD_TYPESCRIPT_URL": "Base URL of the TypeScript (legacy) agent system.",
    "SWITCHYARD_PYTHON_URL": "Base URL of the Python (new) agent system.",
    "SWITCHYARD_FLAG_REFRESH_SECONDS": "Fallback polling interval for flags (default 5).",
    "SWITCHYARD_FLAG_CACHE_DIR": "Where the last known flags are kept (default .stack/flag-cache).",
    "SWITCHYARD_REDIS_PREFIX": "Prefix of every Redis key Switchyard writes (default switchyard).",
    "SWITCHYARD_INSTANCE": "Name of this process in Unleash metrics and audit entries.",
    "SWITCHYARD_OUTCOME_DEADLINE_SECONDS": "No PR by a system's bot this long after dispatch "
    "counts as failure (systems that cannot call back; default 86400).",
    "SWITCHYARD_GITHUB_API_URL": "GitHub's REST API (default https://api.github.com).",
    "SWITCHYARD_GITHUB_TOKEN": "A token for GitHub's REST API (instead of App credentials).",
    "SWITCHYARD_GITHUB_APP_ID": "The GitHub App's id (App authentication).",
    "SWITCHYARD_GITHUB_APP_PRIVATE_KEY": "The App's PEM private key (or ..._FILE: a path to it).",
    "SWITCHYARD_GITHUB_APP_PRIVATE_KEY_FILE": "A file holding the App's PEM private key.",
    "SWITCHYARD_GITHUB_INSTALLATION_ID": "The App installation Switchyard acts as.",
    "SWITCHYARD_GITHUB_HOOKS": "Webhooks to reconcile: repos/O/R/hooks/ID, orgs/O/hooks/ID, app.",
    # SWITCHYARD_TYPESCRIPT_KIND, SWITCHYARD_PYTHON_WEBHOOK_URL, ... (service.system_kinds)
    **{
        system_variable(system, suffix): meaning
        for system in System
        for suffix, meaning in SYSTEM_ENV_VARS.items()
    },
    "SWITCHYARD_MAX_LARGE_BODIES": "Request bodies over 1 MiB read at once (default 4; more: 503).",
    "SWITCHYARD_NOTIFY_WEBHOOK_URL": "Generic JSON webhook for plan and rollback notifications.",
    "SWITCHYARD_NOTIFY_WEBHOOK_SECRET": "HMAC-SHA256 secret signing those notifications.",
    "SWITCHYARD_USERS_FILE": "People's names, roles and token hashes (JSON): the dashboard, "
    "/migration/status and the plan commands.",
    "SWITCHYARD_TOKEN": "This person's own token (the CLI), checked against the users file.",
}

_DEFAULT_ENVIRONMENT = "development"


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(name, "is required but not set")
    return default


def _url(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = _text(env, name, default)
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https", "redis", "rediss", "unix"} or not (
        parts.netloc or parts.path
    ):
        raise SettingsError(name, f"is not a URL: {value!r}")
    return value.rstrip("/")


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "")
    return Secret(value) if value else None


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(name, f"must be positive, got {raw!r}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(name, f"must be a TCP port (1-65535), got {raw!r}")
    return int(raw)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= 10_000:
        raise SettingsError(name, f"must be a whole number 1-10000, got {raw!r}")
    return int(raw)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything Switchyard's processes are configured with."""

    unleash_url: str
    unleash_client_token: Secret
    unleash_admin_token: Secret | None = None
    unleash_environment: str = _DEFAULT_ENVIRONMENT
    unleash_project: str = "default"
    redis_url: str = "redis://127.0.0.1:6379/0"
    service_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    webhook_secret: Secret | None = None
    unleash_events_secret: Secret | None = None
    admin_token: Secret | None = None
    viewer_token: Secret | None = None
    agent_secret: Secret | None = None
    agent_secrets: Mapping[System, Secret] = field(default_factory=dict)
    stream_retention_seconds: float = 86_400.0
    metrics_token: Secret | None = None
    typescript_url: str | None = None
    python_url: str | None = None
    flag_refresh_seconds: float = 5.0
    flag_cache_dir: Path = Path(".stack/flag-cache")
    redis_prefix: str = "switchyard"
    instance: str = "switchyard"
    outcome_deadline_seconds: float = 86_400.0
    github_api_url: str = DEFAULT_API_URL
    github_credentials: Credentials | None = None
    github_hooks: tuple[HookRef, ...] = ()
    systems: Mapping[System, SystemSettings] = field(
        default_factory=lambda: {system: SystemSettings(system=system) for system in System}
    )
    max_large_bodies: int = 4
    notify_webhook_url: str | None = None
    notify_webhook_secret: Secret | None = None
    slack_webhook_url: str | None = None
    users_file: Path | None = None
    token: Secret | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        service_url = _url(env, "SWITCHYARD_URL", "http://127.0.0.1:8080")
        default_port = urlsplit(service_url).port or 8080
        client_token = _secret(env, "UNLEASH_CLIENT_TOKEN")
        if client_token is None:
            raise SettingsError("UNLEASH_CLIENT_TOKEN", "is required but not set")
        optional_urls = {
            name: _url(env, name) if env.get(name, "").strip() else None
            for name in ("SWITCHYARD_TYPESCRIPT_URL", "SWITCHYARD_PYTHON_URL")
        }
        return cls(
            unleash_url=_url(env, "UNLEASH_URL"),
            unleash_client_token=client_token,
            unleash_admin_token=_secret(env, "UNLEASH_ADMIN_TOKEN"),
            unleash_environment=_text(env, "UNLEASH_ENVIRONMENT", _DEFAULT_ENVIRONMENT),
            unleash_project=_text(env, "UNLEASH_PROJECT", "default"),
            redis_url=_url(env, "REDIS_URL"),
            service_url=service_url,
            host=_text(env, "SWITCHYARD_HOST", "127.0.0.1"),
            port=_port(env, "SWITCHYARD_PORT", default_port),
            webhook_secret=_secret(env, "SWITCHYARD_WEBHOOK_SECRET"),
            unleash_events_secret=_secret(env, "SWITCHYARD_UNLEASH_EVENTS_SECRET"),
            admin_token=_secret(env, "SWITCHYARD_ADMIN_TOKEN"),
            viewer_token=_secret(env, "SWITCHYARD_VIEWER_TOKEN"),
            agent_secret=_secret(env, "SWITCHYARD_AGENT_SECRET"),
            metrics_token=_secret(env, "SWITCHYARD_METRICS_TOKEN"),
            stream_retention_seconds=_positive_float(
                env, "SWITCHYARD_STREAM_RETENTION_SECONDS", 86_400.0
            ),
            agent_secrets={
                system: secret
                for system in System
                if (secret := _secret(env, f"SWITCHYARD_{system.upper()}_AGENT_SECRET"))
            },
            typescript_url=optional_urls["SWITCHYARD_TYPESCRIPT_URL"],
            python_url=optional_urls["SWITCHYARD_PYTHON_URL"],
            flag_refresh_seconds=_positive_float(env, "SWITCHYARD_FLAG_REFRESH_SECONDS", 5.0),
            flag_cache_dir=Path(_text(env, "SWITCHYARD_FLAG_CACHE_DIR", ".stack/flag-cache")),
            redis_prefix=_text(env, "SWITCHYARD_REDIS_PREFIX", "switchyard"),
            instance=_text(env, "SWITCHYARD_INSTANCE", "switchyard"),
            outcome_deadline_seconds=_positive_float(
                env, "SWITCHYARD_OUTCOME_DEADLINE_SECONDS", 86_400.0
            ),
            github_api_url=_url(env, "SWITCHYARD_GITHUB_API_URL", DEFAULT_API_URL),
            github_credentials=_github_credentials(env),
            github_hooks=_hooks(env, "SWITCHYARD_GITHUB_HOOKS"),
            systems={
                system: read_system_settings(env, system, url=_url, problem=SettingsError)
                for system in System
            },
            max_large_bodies=_count(env, "SWITCHYARD_MAX_LARGE_BODIES", 4),
            notify_webhook_url=_notify_url(env),
            notify_webhook_secret=_secret(env, "SWITCHYARD_NOTIFY_WEBHOOK_SECRET"),
            slack_webhook_url=_url(env, "SWITCHYARD_SLACK_WEBHOOK_URL")
            if env.get("SWITCHYARD_SLACK_WEBHOOK_URL", "").strip()
            else None,
            users_file=Path(env["SWITCHYARD_USERS_FILE"])
            if env.get("SWITCHYARD_USERS_FILE", "").strip()
            else None,
            token=_secret(env, "SWITCHYARD_TOKEN"),
        )

    def kind(self, system: System) -> AgentKind:
        """How ``system`` is reached (``SWITCHYARD_<SYSTEM>_KIND``)."""
        return self.systems[system].kind

    def require_admin_token(self) -> Secret:
        return _require(self.unleash_admin_token, "UNLEASH_ADMIN_TOKEN")

    def require_webhook_secret(self) -> Secret:
        return _require(self.webhook_secret, "SWITCHYARD_WEBHOOK_SECRET")

    def require_unleash_events_secret(self) -> Secret:
        return _require(self.unleash_events_secret, "SWITCHYARD_UNLEASH_EVENTS_SECRET")

    def require_agent_secret(self) -> None:
        """Every system has a callback secret: its own, or the deprecated shared one."""
        for system in System:
            if system not in self.agent_secrets and self.agent_secret is None:
                raise SettingsError(
                    f"SWITCHYARD_{system.upper()}_AGENT_SECRET",
                    "is required (or the deprecated SWITCHYARD_AGENT_SECRET) but not set",
                )


def _notify_url(env: Mapping[str, str]) -> str | None:
    name = "SWITCHYARD_NOTIFY_WEBHOOK_URL"
    if not env.get(name, "").strip():
        return None
    if _secret(env, "SWITCHYARD_NOTIFY_WEBHOOK_SECRET") is None:
        raise SettingsError("SWITCHYARD_NOTIFY_WEBHOOK_SECRET", f"is required with {name}")
    return _url(env, name)


def _hooks(env: Mapping[str, str], name: str) -> tuple[HookRef, ...]:
    try:
        return parse_hooks(env.get(name, ""))
    except ValueError as error:
        raise SettingsError(name, str(error)) from None


def _github_credentials(env: Mapping[str, str]) -> Credentials | None:
    token = _secret(env, "SWITCHYARD_GITHUB_TOKEN")
    app_id = env.get("SWITCHYARD_GITHUB_APP_ID", "").strip()
    key = _secret(env, "SWITCHYARD_GITHUB_APP_PRIVATE_KEY")
    key_file = env.get("SWITCHYARD_GITHUB_APP_PRIVATE_KEY_FILE", "").strip()
    if key is None and key_file:
        try:
            key = Secret(Path(key_file).read_text(encoding="utf-8"))
        except OSError as error:
            raise SettingsError(
                "SWITCHYARD_GITHUB_APP_PRIVATE_KEY_FILE", f"cannot read {key_file!r}: {error}"
            ) from None
    if token is not None:
        if app_id:
            raise SettingsError("SWITCHYARD_GITHUB_TOKEN", "set either a token or an App, not both")
        return TokenCredentials(token=token)
    if not app_id:
        return None
    if not app_id.isdigit():
        raise SettingsError("SWITCHYARD_GITHUB_APP_ID", f"must be a number, got {app_id!r}")
    if key is None:
        raise SettingsError("SWITCHYARD_GITHUB_APP_PRIVATE_KEY", "is required with an App id")
    installation = env.get("SWITCHYARD_GITHUB_INSTALLATION_ID", "").strip()
    if installation and not installation.isdigit():
        raise SettingsError(
            "SWITCHYARD_GITHUB_INSTALLATION_ID", f"must be a number, got {installation!r}"
        )
    return AppCredentials(
        app_id=app_id,
        private_key=key,
        installation_id=int(installation) if installation else None,
    )


def _require(value: Secret | None, variable: str) -> Secret:
    if value is None:
        raise SettingsError(variable, "is required for this command but not set")
    return value
