"""The migration's state as this process routes with it: parsed from the flags payload the
provider holds in memory, so a status read or a scrape never calls Unleash.

``/migration/status`` and ``/metrics`` show this, with the revision (Unleash's ETag of the
payload) and when it was fetched; the admin API's view (``switchyard status --live`` style
reads, mode changes) stays in :func:`service.migration.unleash_state.read_state`.
"""

from __future__ import annotations

import json
from typing import Any

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode
from flags.provider import UnleashFlagProvider
from flags.transitions import MigrationState

__all__ = ["parse_routed_state", "routed_state"]


def _feature(features: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next((f for f in features if f.get("name") == name), {})


def parse_routed_state(payload: str | None) -> MigrationState | str:
    """The state in a client features payload, or why it cannot be read."""
    if payload is None:
        return "no flags fetched yet"
    try:
        features = json.loads(payload).get("features") or []
        mode_flag = _feature(features, MODE_FLAG)
        strategies = mode_flag.get("strategies") or [{}]
        names = [v.get("name") for v in strategies[0].get("variants") or []]
        names += [v.get("name") for v in mode_flag.get("variants") or []]
        mode = next((Mode(n) for n in names if n in set(Mode.variants())), None)
        rollout_strategies = _feature(features, ROLLOUT_FLAG).get("strategies") or [{}]
        rollout = rollout_strategies[0].get("parameters", {}).get("rollout")
        kill_switch = bool(_feature(features, KILL_SWITCH_FLAG).get("enabled"))
    except (ValueError, AttributeError, TypeError, IndexError) as error:
        return f"flags payload unreadable: {type(error).__name__}"
    if mode is None:
        return f"{MODE_FLAG} has no known mode variant"
    if rollout is None or not str(rollout).isdigit():
        return f"{ROLLOUT_FLAG} has no rollout percentage"
    return MigrationState(mode=mode, rollout=int(rollout), kill_switch=kill_switch)


def _as_far_as_readable(payload: str | None, error: str) -> dict[str, Any]:
    """A misconfigured flag must not hide the others: the kill switch and the percentage
    still shown when only the mode cannot be interpreted (``mode`` is then ``invalid``)."""
    try:
        features = json.loads(payload or "").get("features") or []
        kill = _feature(features, KILL_SWITCH_FLAG)
        mode_flag = _feature(features, MODE_FLAG)
        strategies = mode_flag.get("strategies") or [{}]
        names = [v.get("name") for v in strategies[0].get("variants") or []]
        rollouts = _feature(features, ROLLOUT_FLAG).get("strategies") or [{}]
        rollout = str(rollouts[0].get("parameters", {}).get("rollout", ""))
    except (ValueError, AttributeError, TypeError, IndexError):
        return {"error": error}
    kill_switch = bool(kill.get("enabled")) if kill else None
    known = names[0] if names and names[0] in set(Mode.variants()) else "invalid"
    return {
        "flags_error": error,
        "mode": Mode.EMERGENCY_ROLLBACK.value if kill_switch else known,
        "mode_variant": str(names[0]) if names else None,
        "rollout_percentage": int(rollout) if rollout.isascii() and rollout.isdigit() else None,
        "kill_switch": kill_switch,
    }


def routed_state(provider: UnleashFlagProvider) -> dict[str, Any]:
    """The status fields: mode, variant, percentage, kill switch, and which flags they are."""
    payload, etag = provider.routed_flags()
    source = {
        "flags_revision": etag or None,
        "flags_fetched_at": provider.stats.last_success,
        "flags_freshness": provider.freshness(),
    }
    state = parse_routed_state(payload)
    if isinstance(state, str):
        return {**_as_far_as_readable(payload, state), **source}
    return {
        "mode": state.effective_mode.value,
        "mode_variant": state.mode.value,
        "rollout_percentage": state.rollout,
        "kill_switch": state.kill_switch,
        **source,
    }
