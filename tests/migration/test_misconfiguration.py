"""A misspelt mode in the real Unleash: the migration holds, and says so everywhere.

Routing keeps python's issues with python and sends new ones to typescript (nothing handed
back); ``/readyz`` is 503 and names the flag; ``/migration/status`` and ``/metrics`` name it and
still show the kill switch and the percentage; the dashboard shows a red banner; ``switchyard
status`` exits 1; the audit import marks the change invalid; and a rollback still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Issue, Mode, System
from flags.provision import mode_strategy, rollout_strategy
from flags.transitions import Actor, ActorKind
from service.migration.control import MigrationControl
from service.migration.unleash_events import import_unleash_events
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter
from tests.auth import viewer_bearer
from tests.conftest import InProcessService
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration

TYPO = "pyhton_only"


async def _misspell_mode(admin: UnleashAdmin) -> None:
    rollout = (await admin.strategies(ROLLOUT_FLAG))[0]
    await admin.update_strategy(ROLLOUT_FLAG, rollout["id"], rollout_strategy(40))
    strategy = mode_strategy(Mode.PYTHON_ONLY)
    strategy["variants"][0]["name"] = TYPO
    await admin.update_strategy(MODE_FLAG, (await admin.strategies(MODE_FLAG))[0]["id"], strategy)


async def test_a_misspelt_mode_holds_and_is_loud_everywhere(
    edge: InProcessService,
    flags_reset: UnleashAdmin,
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    runtime = edge.runtime
    owners = OwnershipStore(runtime.redis, prefix=runtime.prefix)
    owned = Issue("acme/app", 1)
    await owners.claim(owned, System.PYTHON, reason="before the typo")
    await import_unleash_events(flags_reset, runtime.redis, prefix=runtime.prefix)  # history
    await _misspell_mode(flags_reset)
    await runtime.provider.refresh()

    router = IssueRouter(flags=runtime.flags, owners=owners)
    kept = await router.route(owned)
    fresh = await router.route(Issue("acme/app", 2))
    assert (kept.decision.acting, kept.decision.hand_back, kept.decision.degraded) == (
        System.PYTHON,
        False,
        True,
    )
    assert fresh.decision.acting is System.TYPESCRIPT and fresh.decision.claim
    assert await owners.counts() == {System.PYTHON: 1, System.TYPESCRIPT: 1}

    ready = await edge.client.get("/readyz")
    assert ready.status_code == 503
    assert TYPO in ready.json()["checks"]["flag_config"]
    status = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()
    assert status["flag_problems"] == [
        {"flag": MODE_FLAG, "value": f"'{TYPO}'", "problem": "unknown mode variant"}
    ]
    assert (status["kill_switch"], status["rollout_percentage"]) == (False, 40)
    assert (status["mode"], status["mode_variant"]) == ("invalid", TYPO)
    metrics = (await edge.client.get("/metrics")).text
    assert 'switchyard_flag_invalid{flag="migration-mode"} 1.0' in metrics
    assert 'switchyard_flag_invalid{flag="python-agent-rollout"} 0.0' in metrics
    assert "switchyard_rollout_percentage 40.0" in metrics
    page = (
        await edge.client.get("/migration/dashboard", headers=viewer_bearer(edge.settings))
    ).text
    assert 'id="flag-problems"' in page and TYPO in page

    env = switchyard_env(stack_env, prefix=runtime.prefix, cache_dir=tmp_path / "cache")
    printed = await run_cli("status", env=env)
    assert printed.code == 1, printed.stderr
    assert "FLAGS MISCONFIGURED" in printed.stdout
    assert f"migration-mode: unknown mode variant ('{TYPO}')" in printed.stdout
    assert "python rollout 40%" in printed.stdout

    await import_unleash_events(flags_reset, runtime.redis, prefix=runtime.prefix)
    control = MigrationControl(admin=flags_reset, redis=runtime.redis, prefix=runtime.prefix)
    [imported, *_] = await control.audit.recent()
    assert imported.source == "unleash" and imported.invalid is not None
    assert TYPO in imported.invalid and "INVALID" in imported.after

    pulled = await control.rollback(actor=Actor("alice", ActorKind.HUMAN, "cli"), reason="typo")
    assert pulled.changed and await flags_reset.is_enabled(KILL_SWITCH_FLAG)
    assert "misconfigured" in pulled.before_text
