from __future__ import annotations

from pathlib import Path

import pytest

from flags.model import System
from flags.secret import Secret
from service.github.api import AppCredentials, TokenCredentials
from service.settings import Settings, SettingsError
from service.system_kinds import AgentKind

BASE = {
    "UNLEASH_URL": "http://127.0.0.1:4242",
    "UNLEASH_CLIENT_TOKEN": "default:development.abc",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_minimal_environment_gives_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.unleash_environment == "development"
    assert settings.flag_refresh_seconds == 5.0
    assert settings.port == 8080
    assert settings.webhook_secret is None


@pytest.mark.parametrize("missing", sorted(BASE))
def test_missing_required_variable_is_named(missing: str) -> None:
    env = {key: value for key, value in BASE.items() if key != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SWITCHYARD_PORT", "eighty"),
        ("SWITCHYARD_PORT", "70000"),
        ("SWITCHYARD_FLAG_REFRESH_SECONDS", "-1"),
        ("SWITCHYARD_FLAG_REFRESH_SECONDS", "soon"),
        ("UNLEASH_URL", "not a url"),
        ("SWITCHYARD_PYTHON_URL", "ftp//x"),
    ],
)
def test_malformed_variable_names_variable_and_value(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, variable: value})
    assert variable in str(raised.value)
    assert value in str(raised.value)


def test_port_defaults_to_the_port_of_the_service_url() -> None:
    settings = Settings.from_env({**BASE, "SWITCHYARD_URL": "http://127.0.0.1:9911"})
    assert settings.port == 9911


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env({**BASE, "SWITCHYARD_WEBHOOK_SECRET": "hunter2-very-secret"})
    assert "hunter2" not in repr(settings)
    assert "default:development.abc" not in repr(settings)
    assert "hunter2" not in str(settings.webhook_secret)


def test_secret_compares_in_constant_time_helper() -> None:
    secret = Secret("s3cr3t")
    assert secret.matches("s3cr3t")
    assert secret.matches(b"s3cr3t")
    assert not secret.matches("s3cr3T")
    assert not secret.matches("")


def test_missing_optional_secret_is_named_when_required() -> None:
    settings = Settings.from_env(BASE)
    with pytest.raises(SettingsError, match="SWITCHYARD_WEBHOOK_SECRET"):
        settings.require_webhook_secret()
    with pytest.raises(SettingsError, match="UNLEASH_ADMIN_TOKEN"):
        settings.require_admin_token()


def test_github_defaults_to_the_public_api_without_credentials_or_hooks() -> None:
    settings = Settings.from_env(BASE)
    assert settings.github_api_url == "https://api.github.com"
    assert settings.github_credentials is None
    assert settings.github_hooks == ()


def test_github_token_and_hooks_are_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "SWITCHYARD_GITHUB_TOKEN": "ghp_x",
            "SWITCHYARD_GITHUB_HOOKS": "repos/acme/app/hooks/1,app",
            "SWITCHYARD_GITHUB_API_URL": "http://127.0.0.1:8099/",
        }
    )
    assert settings.github_api_url == "http://127.0.0.1:8099"
    assert isinstance(settings.github_credentials, TokenCredentials)
    assert "ghp_x" not in repr(settings)
    assert [hook.spec for hook in settings.github_hooks] == ["repos/acme/app/hooks/1", "app"]


def test_github_app_key_can_come_from_a_file(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n...")
    settings = Settings.from_env(
        {
            **BASE,
            "SWITCHYARD_GITHUB_APP_ID": "42",
            "SWITCHYARD_GITHUB_APP_PRIVATE_KEY_FILE": str(key),
            "SWITCHYARD_GITHUB_INSTALLATION_ID": "7",
        }
    )
    credentials = settings.github_credentials
    assert isinstance(credentials, AppCredentials)
    assert (credentials.app_id, credentials.installation_id) == ("42", 7)
    assert credentials.private_key.reveal().startswith("-----BEGIN")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SWITCHYARD_GITHUB_HOOKS": "repos/acme/hooks/1"}, "SWITCHYARD_GITHUB_HOOKS"),
        ({"SWITCHYARD_GITHUB_APP_ID": "42"}, "SWITCHYARD_GITHUB_APP_PRIVATE_KEY"),
        ({"SWITCHYARD_GITHUB_APP_ID": "x", "SWITCHYARD_GITHUB_APP_PRIVATE_KEY": "k"}, "APP_ID"),
        (
            {"SWITCHYARD_GITHUB_TOKEN": "t", "SWITCHYARD_GITHUB_APP_ID": "42"},
            "SWITCHYARD_GITHUB_TOKEN",
        ),
        ({"SWITCHYARD_GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent/k.pem"}, "KEY_FILE"),
    ],
)
def test_bad_github_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({**BASE, **env})


def test_systems_default_to_the_job_api() -> None:
    settings = Settings.from_env(BASE)
    assert {settings.kind(system) for system in System} == {AgentKind.JOB_API}


def test_a_github_app_system_is_configured_from_its_own_variables() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "SWITCHYARD_TYPESCRIPT_KIND": "github-app",
            "SWITCHYARD_TYPESCRIPT_WEBHOOK_SECRET": "app-secret-1",
            "SWITCHYARD_TYPESCRIPT_WEBHOOK_URL": "http://127.0.0.1:3000/api/github/webhooks",
            "SWITCHYARD_TYPESCRIPT_SHADOW_WEBHOOK_URL": "http://127.0.0.1:3001/",
            "SWITCHYARD_TYPESCRIPT_BOT_LOGIN": "legacy-bot[bot]",
        }
    )
    app = settings.systems[System.TYPESCRIPT]
    assert app.kind is AgentKind.GITHUB_APP and settings.kind(System.PYTHON) is AgentKind.JOB_API
    assert app.webhook_url == "http://127.0.0.1:3000/api/github/webhooks"
    assert app.shadow_webhook_url == "http://127.0.0.1:3001"
    assert app.webhook_secret is not None and app.webhook_secret.matches("app-secret-1")
    assert app.bot_login == "legacy-bot[bot]"
    assert "app-secret-1" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SWITCHYARD_PYTHON_KIND": "probot"}, "SWITCHYARD_PYTHON_KIND"),
        ({"SWITCHYARD_PYTHON_KIND": "github-app"}, "SWITCHYARD_PYTHON_WEBHOOK_URL"),
        ({"SWITCHYARD_PYTHON_KIND": "github-label"}, "SWITCHYARD_PYTHON_TRIGGER"),
        ({"SWITCHYARD_TYPESCRIPT_WEBHOOK_URL": "nope"}, "SWITCHYARD_TYPESCRIPT_WEBHOOK_URL"),
    ],
)
def test_a_bad_system_variable_is_named(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({**BASE, **env})


def test_a_gated_app_names_its_app_to_reconcile_its_own_webhook(tmp_path: Path) -> None:
    key = tmp_path / "python-app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\npython")
    settings = Settings.from_env(
        {
            **BASE,
            "SWITCHYARD_TYPESCRIPT_KIND": "github-app",
            "SWITCHYARD_TYPESCRIPT_WEBHOOK_URL": "http://127.0.0.1:3000/",
            "SWITCHYARD_TYPESCRIPT_APP_ID": "101",
            "SWITCHYARD_TYPESCRIPT_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nlegacy",
            "SWITCHYARD_PYTHON_KIND": "github-app",
            "SWITCHYARD_PYTHON_WEBHOOK_URL": "http://127.0.0.1:3001/",
            "SWITCHYARD_PYTHON_APP_ID": "202",
            "SWITCHYARD_PYTHON_APP_PRIVATE_KEY_FILE": str(key),
        }
    )
    legacy, new = settings.systems[System.TYPESCRIPT].app, settings.systems[System.PYTHON].app
    assert legacy is not None and new is not None
    assert (legacy.app_id, new.app_id) == ("101", "202")
    assert legacy.private_key.reveal().endswith("legacy")
    assert new.private_key.reveal().endswith("python")
    assert "legacy" not in repr(settings) and "BEGIN" not in repr(settings)
    assert settings.github_credentials is None  # Switchyard's own App is another matter


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SWITCHYARD_PYTHON_APP_ID": "202"}, "SWITCHYARD_PYTHON_APP_PRIVATE_KEY"),
        ({"SWITCHYARD_PYTHON_APP_ID": "x2", "SWITCHYARD_PYTHON_APP_PRIVATE_KEY": "k"}, "APP_ID"),
        ({"SWITCHYARD_PYTHON_APP_PRIVATE_KEY": "k"}, "SWITCHYARD_PYTHON_APP_ID"),
        (
            {"SWITCHYARD_PYTHON_APP_ID": "2", "SWITCHYARD_PYTHON_APP_PRIVATE_KEY_FILE": "/no/k"},
            "SWITCHYARD_PYTHON_APP_PRIVATE_KEY_FILE",
        ),
    ],
)
def test_a_bad_gated_app_is_named(env: dict[str, str], variable: str) -> None:
    app = {"SWITCHYARD_PYTHON_KIND": "github-app", "SWITCHYARD_PYTHON_WEBHOOK_URL": "http://a/"}
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({**BASE, **app, **env})


def test_an_app_on_a_system_that_is_not_a_gated_app_is_refused() -> None:
    env = {"SWITCHYARD_PYTHON_APP_ID": "202", "SWITCHYARD_PYTHON_APP_PRIVATE_KEY": "k"}
    with pytest.raises(SettingsError, match=r"SWITCHYARD_PYTHON_APP_ID.*github-app"):
        Settings.from_env({**BASE, **env})
