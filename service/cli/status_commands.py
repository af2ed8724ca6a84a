"""``switchyard status``: mode, percentage, health and the comparison, in a terminal."""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.output import emit, load_settings
from service.cli.status_text import render_status
from service.health.monitor import monitor_for
from service.runtime import open_runtime
from service.status.snapshot import collect_status

__all__ = ["register"]


async def _status(args: argparse.Namespace) -> int:
    settings = load_settings()
    async with open_runtime(settings, role="cli") as runtime:
        await monitor_for(runtime).check()  # one round now, recorded (a scrape only reads it)
        status = await collect_status(runtime, window=args.window)
    emit(status, as_json=args.json, text=render_status(status))
    return 1 if status.get("flag_problems") else 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "status",
        help="the migration at a glance: mode, percentage, health, python vs typescript",
        description="Checks every component's health once (and records it), then shows the "
        "same data as GET /migration/status, with the flags as this process fetched them. "
        "Exits 1 when a flag cannot be interpreted (the migration holds).",
    )
    parser.add_argument("--window", choices=["1h", "1d", "7d"], default="1d")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_status)
