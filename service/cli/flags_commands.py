"""``switchyard provision``: flags as code."""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from flags.provision import provision
from service.cli.output import emit, load_settings
from service.runtime import unleash_admin

__all__ = ["register"]


async def _provision(args: argparse.Namespace) -> int:
    settings = load_settings()
    secret = settings.require_unleash_events_secret()
    async with httpx.AsyncClient(timeout=10) as http:
        report = await provision(
            unleash_admin(settings, http),
            service_url=settings.service_url,
            events_secret=secret,
            reset=args.reset,
        )
    lines = [f"changed: {line}" for line in report.changes] or ["nothing to change"]
    emit(report.as_dict(), as_json=args.json, text="\n".join(lines))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "provision",
        help="create Switchyard's flags, context fields and webhook addon in Unleash",
        description="Idempotent: creates what is missing and keeps live values (percentage, "
        "mode, kill switch) unless --reset.",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="force defaults: rollout 0%%, mode typescript_only, kill switch off",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_provision)
