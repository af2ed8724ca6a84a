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
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == {"postgres", "unleash", "redis", "switchyard", "worker", "watchdog"}
    assert services["unleash"]["image"].startswith("unleashorg/unleash-server:8.")
    assert "--appendonly" in services["redis"]["command"]


def test_switchyard_services_use_only_known_variables() -> None:
    services = _compose()["services"]
    for name in ("switchyard", "worker", "watchdog", "reconciler"):
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


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> repository path of a service's bind mounts from this checkout."""
    pairs = [str(volume).split(":") for volume in service["volumes"]]
    return {pair[1]: pair[0] for pair in pairs if pair[0].startswith("./")}


def test_monitoring_profile_runs_prometheus_with_the_alert_rules() -> None:
    prometheus = _compose()["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounts = _mounts(prometheus)
    config_path = next(arg.split("=", 1)[1] for arg in prometheus["command"] if "config" in arg)
    config = yaml.safe_load((REPO / mounts[config_path]).read_text())
    for rule_file in config["rule_files"]:
        assert (REPO / mounts[rule_file]).is_file(), rule_file
    target = config["scrape_configs"][0]["static_configs"][0]["targets"][0]
    host, port = target.split(":")
    environment = _compose()["services"][host]["environment"]
    assert environment["SWITCHYARD_PORT"] == port
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"


def test_monitoring_profile_provisions_grafana_with_the_dashboard() -> None:
    services = _compose()["services"]
    grafana = services["grafana"]
    assert grafana["profiles"] == ["monitoring"]
    mounts = _mounts(grafana)
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    source = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    datasource = source["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in services["prometheus"]["ports"]
    provider = yaml.safe_load((provisioning / "dashboards/switchyard.yml").read_text())
    dashboards = REPO / mounts[provider["providers"][0]["options"]["path"]]
    assert (dashboards / "switchyard.json").is_file()


def test_the_reconciler_runs_periodically_in_its_own_profile() -> None:
    reconciler = _compose()["services"]["reconciler"]
    assert reconciler["profiles"] == ["reconciler"]
    assert reconciler["command"][1:4] == ["deliveries", "reconcile", "--every"]
    assert "SWITCHYARD_GITHUB_HOOKS" in reconciler["environment"]


def test_every_published_port_binds_to_loopback_unless_the_operator_opts_in() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            address = str(port).rsplit(":", 2)[0]
            assert address in ("127.0.0.1", "${SWITCHYARD_PUBLISH_ADDRESS:-127.0.0.1}"), name
