from __future__ import annotations

import time

import pytest

from service.cli import main
from service.cli.deliveries_commands import report_text
from service.github.reconciler import HookReport, RunReport

BASE = {
    "UNLEASH_URL": "http://127.0.0.1:4242",
    "UNLEASH_CLIENT_TOKEN": "default:development.abc",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_without_hooks_reconcile_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SWITCHYARD_GITHUB_HOOKS", raising=False)
    assert main(["deliveries", "reconcile"]) == 2
    assert "SWITCHYARD_GITHUB_HOOKS" in capsys.readouterr().err


@pytest.mark.parametrize("since", ["yesterday", "0h", "5w", "2026-13-01T00:00:00Z"])
def test_since_must_be_a_time_or_an_age(since: str) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["deliveries", "reconcile", "--since", since])
    assert raised.value.code == 2


def test_the_report_says_per_hook_what_was_found_and_why_it_stopped() -> None:
    hook = HookReport(hook="app", since=time.time(), attempts_seen=9, failed=3, already_stored=1)
    hook.gap = ["a", "b"]
    hook.redelivered = ["a"]
    hook.stopped = "GitHub refused a redelivery (422)"
    text = report_text(RunReport(started=time.time(), dry_run=False, hooks=[hook]))
    assert "app: 9 attempts" in text
    assert "3 events never delivered, 1 stored anyway" in text
    assert "2 missing, redelivered 1" in text
    assert "stopped early: GitHub refused" in text
    dry = report_text(RunReport(started=time.time(), dry_run=True, hooks=[hook]))
    assert "would redeliver 2" in dry
