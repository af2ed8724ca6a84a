"""docker-compose.yml cannot run here (no Docker engine), so it is checked as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.settings import ENV_VARS, Settings

REPO = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_compose_has_every_component() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "unleash", "redis", "switchyard", "worker", "watchdog"}
    assert services["unleash"]["image"].startswith("unleashorg/unleash-server:8.")
    assert "--appendonly" in services["redis"]["command"]


def test_switchyard_services_use_only_known_variables() -> None:
    services = _compose()["services"]
    for name in ("switchyard", "worker", "watchdog"):
        environment = services[name]["environment"]
        assert set(environment) <= set(ENV_VARS), name


def test_compose_environment_is_a_valid_settings_object() -> None:
    environment = _compose()["services"]["switchyard"]["environment"]
    concrete = {key: "http://x:1" if key.endswith("_URL") else "value" for key in environment}
    concrete.update(
        {key: str(value) for key, value in environment.items() if "$" not in str(value)}
    )
    settings = Settings.from_env(concrete)
    assert settings.port == 8080
    assert settings.redis_url == "redis://redis:6379/0"


def test_unleash_telemetry_and_version_checks_are_off() -> None:
    environment = _compose()["services"]["unleash"]["environment"]
    assert environment["CHECK_VERSION"] == "false"
    assert environment["SEND_TELEMETRY"] == "false"
