from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from flags.secret import Secret
from service.cli import main
from service.cli.deliveries_commands import report_text
from service.devtools.github_standin import Standin
from service.github.api.hooks import HookRef
from service.github.reconciler import HookReport, RunReport
from tests.processes import run_cli, switchyard_env
from tests.standin import app_key, serve_standin_http

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


@pytest.mark.integration
async def test_reconcile_lists_a_gated_apps_own_hook_with_its_key_from_the_environment(
    stack_env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "python-app.pem"
    key_file.write_text(app_key("python").private_pem)
    async with httpx.AsyncClient(timeout=10) as outbound:
        standin = Standin.build(http=outbound, apps={"202": app_key("python").public_pem})
        standin.deliveries.add_hook(
            HookRef.gated_app("python"), url="http://127.0.0.1:9/", secret=Secret("s"), app_id=202
        )
        missed = await standin.deliveries.send("app:python", event="ping", payload={"zen": "."})
        async with serve_standin_http(standin) as api_url:
            env = switchyard_env(
                stack_env,
                prefix=prefix,
                cache_dir=tmp_path,
                SWITCHYARD_GITHUB_API_URL=api_url,
                SWITCHYARD_GITHUB_HOOKS="",
                SWITCHYARD_PYTHON_KIND="github-app",
                SWITCHYARD_PYTHON_WEBHOOK_URL="http://127.0.0.1:9/app",
                SWITCHYARD_PYTHON_APP_ID="202",
                SWITCHYARD_PYTHON_APP_PRIVATE_KEY_FILE=str(key_file),
            )
            result = await run_cli("deliveries", "reconcile", "--dry-run", "--json", env=env)
    assert result.code == 0, result.stderr
    (hook,) = result.json()["hooks"]
    assert (hook["hook"], hook["gap"], hook["redelivered"]) == ("app:python", [missed.guid], [])
    assert "BEGIN" not in result.stdout + result.stderr
