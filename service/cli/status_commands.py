"""``switchyard status``: mode, percentage, health and the comparison, in a terminal.

Health is the health monitor's last results, read like every other status read and scrape
(the monitor, under its lease, is the one prober that records). This command probes the
components itself only when the monitor has recorded nothing yet (no service or watchdog has
run) or when asked with ``--probe``; what it probes is shown, never recorded.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from service.cli.output import emit, load_settings
from service.cli.status_text import render_status
from service.health.monitor import monitor_for, recorded_health
from service.runtime import Runtime, open_runtime
from service.status.snapshot import collect_status

__all__ = ["register"]


async def _status(args: argparse.Namespace) -> int:
    settings = load_settings()
    async with open_runtime(settings, role="cli") as runtime:
        status = await collect_status(runtime, window=args.window)
        if args.probe or not status["health_history"]:
            await _probe_into(runtime, status)
    emit(status, as_json=args.json, text=render_status(status))
    return 1 if status.get("flag_problems") else 0


async def _probe_into(runtime: Runtime, status: dict[str, Any]) -> None:
    """Replace the components' health in ``status`` with a probe now (nothing recorded)."""
    probed = await monitor_for(runtime).probe()
    now = time.time()
    status["health"].update(recorded_health({k: {**v, "at": now} for k, v in probed.items()}))
    status["health_probed"] = True


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "status",
        help="the migration at a glance: mode, percentage, health, python vs typescript",
        description="Shows the same data as GET /migration/status, with the flags as this "
        "process fetched them and the health monitor's last results. Probes every component "
        "once (shown, not recorded) when the monitor has no results yet or with --probe. "
        "Exits 1 when a flag cannot be interpreted (the migration holds).",
    )
    parser.add_argument("--window", choices=["1h", "1d", "7d"], default="1d")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="probe every component now instead of showing the monitor's last results",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_status)
