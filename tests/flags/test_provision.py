"""Provisioning against the real Unleash: creates what DESIGN.md says, idempotently."""

from __future__ import annotations

import httpx
import pytest

from flags.admin_api import UnleashAdmin
from flags.errors import UnleashAuthError, UnleashUnreachable
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG
from flags.provision import ADDON_DESCRIPTION, provision, rollout_strategy
from flags.secret import Secret
from service.settings import Settings

pytestmark = pytest.mark.integration

FLAGS = [KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG]


async def _provision(admin: UnleashAdmin, settings: Settings, reset: bool = False) -> list[str]:
    report = await provision(
        admin,
        service_url=settings.service_url,
        events_secret=settings.require_unleash_events_secret(),
        reset=reset,
    )
    return report.changes


async def test_provision_creates_context_fields_flags_and_addon(
    flags_reset: UnleashAdmin,
) -> None:
    admin = flags_reset
    issue_field = await admin.get_context_field("issueNumber")
    assert issue_field is not None and issue_field["stickiness"] is True
    assert await admin.get_context_field("repository") is not None

    kinds = {name: (await admin.get_feature(name) or {}).get("type") for name in FLAGS}
    assert kinds == {
        KILL_SWITCH_FLAG: "kill-switch",
        MODE_FLAG: "operational",
        ROLLOUT_FLAG: "release",
    }
    rollout = (await admin.strategies(ROLLOUT_FLAG))[0]
    assert rollout["name"] == "flexibleRollout"
    assert rollout["parameters"]["rollout"] == "0"
    assert rollout["parameters"]["stickiness"] == "issueNumber"
    mode = (await admin.strategies(MODE_FLAG))[0]
    assert [variant["name"] for variant in mode["variants"]] == ["typescript_only"]
    assert await admin.is_enabled(KILL_SWITCH_FLAG) is False
    assert await admin.is_enabled(MODE_FLAG) is True
    assert await admin.is_enabled(ROLLOUT_FLAG) is True
    ours = [
        addon
        for addon in await admin.addons()
        if str(addon.get("description", "")).startswith(ADDON_DESCRIPTION)
    ]
    assert len(ours) == 1
    assert ours[0]["provider"] == "webhook" and ours[0]["enabled"] is True


async def test_second_provision_changes_nothing_in_unleash(
    flags_reset: UnleashAdmin, settings: Settings
) -> None:
    admin = flags_reset
    _, before = await admin.events(features=FLAGS, limit=1)
    assert await _provision(admin, settings) == []
    _, after = await admin.events(features=FLAGS, limit=1)
    assert after == before


async def test_live_percentage_and_kill_switch_survive_provisioning(
    flags_reset: UnleashAdmin, settings: Settings
) -> None:
    admin = flags_reset
    strategy = (await admin.strategies(ROLLOUT_FLAG))[0]
    await admin.update_strategy(ROLLOUT_FLAG, strategy["id"], rollout_strategy(37))
    await admin.set_enabled(KILL_SWITCH_FLAG, True)

    assert await _provision(admin, settings) == []

    assert (await admin.strategies(ROLLOUT_FLAG))[0]["parameters"]["rollout"] == "37"
    assert await admin.is_enabled(KILL_SWITCH_FLAG) is True

    changes = await _provision(admin, settings, reset=True)
    assert any(ROLLOUT_FLAG in change for change in changes)
    assert (await admin.strategies(ROLLOUT_FLAG))[0]["parameters"]["rollout"] == "0"
    assert await admin.is_enabled(KILL_SWITCH_FLAG) is False


async def test_wrong_token_is_a_clear_auth_error(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    admin = UnleashAdmin(
        base_url=settings.unleash_url,
        token=Secret("*:*.not-a-token"),
        project="default",
        environment=settings.unleash_environment,
        http=http,
    )
    with pytest.raises(UnleashAuthError, match="UNLEASH_ADMIN_TOKEN") as raised:
        await _provision(admin, settings)
    assert "not-a-token" not in str(raised.value)


async def test_unreachable_unleash_is_a_clear_error(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    admin = UnleashAdmin(
        base_url="http://127.0.0.1:9",
        token=settings.require_admin_token(),
        project="default",
        environment=settings.unleash_environment,
        http=http,
    )
    with pytest.raises(UnleashUnreachable, match="unreachable"):
        await _provision(admin, settings)
