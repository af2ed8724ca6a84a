"""deploy/: the Prometheus alert rules (checked and unit-tested by promtool), the Grafana
dashboard and what both read. Which metric names the service really exposes is checked against a
live ``/metrics`` in ``tests/web/test_exposition.py``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "switchyard.json"

ALERTS = {
    "SwitchyardKillSwitchOn",
    "SwitchyardWatchdogNotTicking",
    "SwitchyardWatchdogMissing",
    "SwitchyardDeadLettersGrowing",
    "SwitchyardPythonHealthFailing",
    "SwitchyardFlagsStale",
    "SwitchyardIntakeErrors",
    "SwitchyardReconcilerStopping",
    "SwitchyardReconcilerNotRunning",
}
_NAME = re.compile(r"\bswitchyard_[a-z_]+")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool missing: Debian's prometheus package (make deps)"
    return subprocess.run(
        [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def alert_metric_names() -> set[str]:
    """Every switchyard_* series the alert rules read (suffixes as exposed)."""
    return {name for rule in _rules() for name in _NAME.findall(rule["expr"])}


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in _NAME.findall(target["expr"])
    }


def test_alert_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_alert_rules_pass_their_unit_tests() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_has_a_runbook() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    rules = _rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    assert tested == ALERTS
    assert all(rule["annotations"]["runbook"].startswith("docs/operations.md") for rule in rules)


def test_dashboard_reads_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert dashboard["uid"] == "switchyard"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_shows_what_the_alerts_watch() -> None:
    assert alert_metric_names() <= dashboard_metric_names()
