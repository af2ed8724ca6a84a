"""The migration's state as Unleash's three flags hold it: read and written through the admin
API (not the SDK's cache), for :class:`~service.migration.control.MigrationControl`.

``switchyard.mode``'s first strategy carries the mode as its one variant,
``switchyard.rollout``'s first strategy the percentage as its ``rollout`` parameter, and
``switchyard.kill_switch`` is on or off. A flag or strategy that is missing or holds something
else is :class:`~service.errors.NotProvisioned` (``switchyard provision`` makes them).
"""

from __future__ import annotations

from typing import Any

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode
from flags.provision import mode_strategy, rollout_strategy
from flags.transitions import MigrationState
from service.errors import NotProvisioned

__all__ = ["read_state", "write_state"]


async def _strategy(admin: UnleashAdmin, flag: str) -> dict[str, Any]:
    strategies = await admin.strategies(flag)
    if not strategies:
        raise NotProvisioned(f"flag {flag} has no strategy: run `switchyard provision`")
    return strategies[0]


async def read_state(admin: UnleashAdmin) -> MigrationState:
    """The migration's state as Unleash holds it (admin API, not the SDK's cache)."""
    mode_variants = (await _strategy(admin, MODE_FLAG)).get("variants") or []
    names = [variant.get("name") for variant in mode_variants]
    mode = Mode(names[0]) if names and names[0] in set(Mode.variants()) else None
    if mode is None:
        raise NotProvisioned(f"{MODE_FLAG} has no known mode variant ({names})")
    rollout_raw = (await _strategy(admin, ROLLOUT_FLAG)).get("parameters", {}).get("rollout")
    if not (str(rollout_raw).isascii() and str(rollout_raw).isdigit()):
        raise NotProvisioned(f"{ROLLOUT_FLAG} has no percentage ({rollout_raw!r})")
    return MigrationState(
        mode=mode,
        rollout=int(str(rollout_raw)),
        kill_switch=await admin.is_enabled(KILL_SWITCH_FLAG),
    )


async def write_state(
    admin: UnleashAdmin, before: MigrationState, after: MigrationState
) -> list[str]:
    """Write what differs from Unleash's state ``before``; the flags written, in order. The
    kill switch goes first when turning on, last when off."""
    written: list[str] = []
    if after.kill_switch and not before.kill_switch:
        await admin.set_enabled(KILL_SWITCH_FLAG, True)
        written.append(KILL_SWITCH_FLAG)
    if after.mode is not before.mode:
        strategy = await _strategy(admin, MODE_FLAG)
        await admin.update_strategy(MODE_FLAG, strategy["id"], mode_strategy(after.mode))
        written.append(MODE_FLAG)
    if after.rollout != before.rollout:
        strategy = await _strategy(admin, ROLLOUT_FLAG)
        await admin.update_strategy(ROLLOUT_FLAG, strategy["id"], rollout_strategy(after.rollout))
        written.append(ROLLOUT_FLAG)
    if before.kill_switch and not after.kill_switch:
        await admin.set_enabled(KILL_SWITCH_FLAG, False)
        written.append(KILL_SWITCH_FLAG)
    return written
