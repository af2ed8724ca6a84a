"""Changes made in the Unleash UI, pulled from Unleash's event log into the audit trail.

Switchyard's own writes are recorded by :mod:`service.migration.control` when they are made, and
their Unleash event ids are remembered so they are not imported a second time. Everything else on
the three migration flags (a person in the UI, another tool) becomes an audit entry with
source ``unleash``. The importer is idempotent: a cursor in Redis holds the last event id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG
from flags.validation import flag_problems
from service.keys import Keys
from service.migration.audit import AuditEntry, AuditTrail

__all__ = ["describe_event", "import_unleash_events", "invalid_change"]

_FLAGS = [KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG]
_PAGE = 100


def _variant(data: Any) -> str:
    if isinstance(data, dict):
        variants = data.get("variants") or []
        if variants:
            return str(variants[0].get("name"))
    return "?"


def _rollout(data: Any) -> str:
    if isinstance(data, dict):
        return f"{data.get('parameters', {}).get('rollout', '?')}%"
    return "?"


def describe_event(event: dict[str, Any]) -> tuple[str, str, str]:
    """(change, before, after) in the audit trail's words for one Unleash event."""
    kind = str(event.get("type"))
    flag = event.get("featureName")
    if flag == KILL_SWITCH_FLAG and kind == "feature-environment-enabled":
        return "rollback", "kill switch off", "kill switch on"
    if flag == KILL_SWITCH_FLAG and kind == "feature-environment-disabled":
        return "leave_rollback", "kill switch on", "kill switch off"
    if flag == MODE_FLAG and kind == "feature-strategy-update":
        return "set_mode", _variant(event.get("preData")), _variant(event.get("data"))
    if flag == ROLLOUT_FLAG and kind == "feature-strategy-update":
        return "set_rollout", _rollout(event.get("preData")), _rollout(event.get("data"))
    return kind, "", f"{flag}: {kind}"


def invalid_change(event: dict[str, Any]) -> str | None:
    """What Switchyard cannot interpret in the flag as this event left it (None: fine)."""
    flag, data = event.get("featureName"), event.get("data")
    if flag not in (MODE_FLAG, ROLLOUT_FLAG) or event.get("type") != "feature-strategy-update":
        return None
    feature = {
        "name": flag,
        "enabled": True,
        "strategies": [data] if isinstance(data, dict) else [],
    }
    others = [{"name": name, "enabled": True, "strategies": []} for name in _FLAGS if name != flag]
    found = [p for p in flag_problems({"features": [feature, *others]}) if p.flag == flag]
    return found[0].describe() if found else None


async def import_unleash_events(
    admin: UnleashAdmin, redis: Redis, *, prefix: str, audit: AuditTrail | None = None
) -> int:
    """Import new events on the migration flags; returns how many entries were added."""
    trail = audit or AuditTrail(redis, prefix=prefix)
    cursor_key = Keys(prefix).unleash_events_cursor
    own_key = Keys(prefix).unleash_own_events
    cursor = int(await redis.get(cursor_key) or 0)
    fresh: list[dict[str, Any]] = []
    offset = 0
    while True:
        page, total = await admin.events(features=_FLAGS, limit=_PAGE, offset=offset)
        newer = [event for event in page if int(event["id"]) > cursor]
        fresh.extend(newer)
        offset += len(page)
        if len(newer) < len(page) or not page or offset >= total:
            break
    added = 0
    for event in sorted(fresh, key=lambda item: int(item["id"])):
        event_id = int(event["id"])
        if event.get("environment") not in (None, admin.environment):
            continue
        if await redis.sismember(own_key, str(event_id)):
            continue
        change, before, after = describe_event(event)
        invalid = invalid_change(event)
        await trail.record(
            AuditEntry(
                actor=str(event.get("createdBy") or "unknown"),
                source="unleash",
                change=change,
                before=before,
                after=f"{after} (INVALID: the migration holds)" if invalid else after,
                reason="changed in Unleash directly (UI or API)",
                invalid=invalid,
                at=_timestamp(event.get("createdAt")),
                unleash_event_id=event_id,
            )
        )
        added += 1
    if fresh:
        await redis.set(cursor_key, max(int(event["id"]) for event in fresh))
    return added


def _timestamp(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
