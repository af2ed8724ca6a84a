"""``switchyard mode|rollout|rollback|audit``: steer the migration from a terminal."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from flags.model import Mode
from flags.transitions import Actor, ActorKind, TransitionRefused
from service.cli.output import CommandError, emit, load_settings
from service.migration.control import ChangeResult, MigrationControl, NotProvisioned
from service.runtime import unleash_admin

__all__ = ["cli_actor", "register"]


def cli_actor() -> Actor:
    name = os.environ.get("SWITCHYARD_ACTOR") or getpass.getuser()
    return Actor(name=name, kind=ActorKind.HUMAN, source="cli")


@contextlib.asynccontextmanager
async def _control() -> AsyncIterator[MigrationControl]:
    settings = load_settings()
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield MigrationControl(
                admin=unleash_admin(settings, http), redis=redis, prefix=settings.redis_prefix
            )
    finally:
        await redis.aclose()


def _report(result: ChangeResult, as_json: bool) -> int:
    emit(result.as_dict(), as_json=as_json, text=result.summary())
    return 0


async def _run_change(args: argparse.Namespace) -> int:
    async with _control() as control:
        try:
            if args.command == "mode":
                result = await control.set_mode(
                    Mode(args.mode), actor=cli_actor(), reason=args.reason, force=args.force
                )
            elif args.command == "rollout":
                result = await control.set_rollout(
                    args.percentage, actor=cli_actor(), reason=args.reason
                )
            elif args.leave:
                result = await control.leave_rollback(
                    Mode(args.to), actor=cli_actor(), reason=args.reason
                )
            else:
                result = await control.rollback(actor=cli_actor(), reason=args.reason)
        except (TransitionRefused, NotProvisioned) as refused:
            raise CommandError(str(refused)) from None
    return _report(result, args.json)


async def _audit(args: argparse.Namespace) -> int:
    async with _control() as control:
        imported = await control.import_unleash_changes()
        entries = await control.audit.recent(args.limit)
    rows: list[dict[str, Any]] = [entry.as_dict() for entry in entries]
    lines = [
        f"{datetime.fromtimestamp(entry.at, UTC):%Y-%m-%d %H:%M:%S}Z  {entry.source:10} "
        f"{entry.actor:14} {entry.change:15} {entry.before} -> {entry.after}  ({entry.reason})"
        for entry in entries
    ]
    if imported:
        lines.insert(0, f"(imported {imported} change(s) made in Unleash directly)")
    emit(rows, as_json=args.json, text="\n".join(lines) or "no audit entries yet")
    return 0


def register(commands: Any) -> None:
    modes = [mode.value for mode in Mode.variants()]

    def common(parser: argparse.ArgumentParser, reason_help: str) -> None:
        parser.add_argument("--reason", required=True, help=reason_help)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.set_defaults(handler=_run_change)

    mode = commands.add_parser(
        "mode",
        help="switch the migration mode",
        description="Allowed steps: typescript_only <-> parallel <-> gradual <-> python_only, "
        "and back to typescript_only from anywhere. Refused while the kill switch is on.",
    )
    mode.add_argument("mode", choices=modes)
    mode.add_argument("--force", action="store_true", help="allow skipping a step")
    common(mode, "why (recorded in the audit trail)")

    rollout = commands.add_parser(
        "rollout", help="set python's share of issues (gradual and parallel modes)"
    )
    rollout.add_argument("percentage", type=int, help="0..100")
    common(rollout, "why (recorded in the audit trail)")

    rollback = commands.add_parser(
        "rollback",
        help="emergency rollback: kill switch on, everything to typescript",
        description="Always allowed. With --leave, turns the kill switch off again (a human "
        "with a reason only).",
    )
    rollback.add_argument("--leave", action="store_true", help="leave emergency rollback")
    rollback.add_argument(
        "--to",
        choices=modes,
        default=Mode.TYPESCRIPT_ONLY.value,
        help="mode after leaving (default typescript_only)",
    )
    common(rollback, "why (recorded in the audit trail)")

    audit = commands.add_parser(
        "audit", help="the audit trail: every mode change, including Unleash UI changes"
    )
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.set_defaults(handler=_audit)
