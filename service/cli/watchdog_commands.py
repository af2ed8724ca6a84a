"""``switchyard watchdog``: the process that rolls back when python is worse."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from typing import Any

from service.cli.output import load_settings
from service.migration.control import MigrationControl
from service.migration.override_sync import sync_overrides
from service.runtime import open_runtime
from service.watchdog.loop import Watchdog, WatchdogConfig

__all__ = ["register"]


async def _watchdog(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require_admin_token()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    name = args.name or f"watchdog-{socket.gethostname()}"
    async with open_runtime(settings, role="watchdog") as runtime:
        control = MigrationControl(
            admin=runtime.admin(), redis=runtime.redis, prefix=runtime.prefix
        )
        watchdog = Watchdog(
            redis=runtime.redis,
            http=runtime.http,
            control=control,
            prefix=runtime.prefix,
            config=WatchdogConfig(
                name=name,
                interval_seconds=args.interval,
                dry_run=args.dry_run,
                cooldown_seconds=args.cooldown,
                alert_url=args.alert_url,
                python_health_url=settings.python_url,
            ),
        )
        await asyncio.gather(watchdog.run(stop), sync_overrides(control, holder=name, stop=stop))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "watchdog",
        help="roll back (kill switch on) when the evidence says python is worse",
        description="Many may run; one acts (a Redis lease). Never turns the switch off.",
    )
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between checks")
    parser.add_argument("--dry-run", action="store_true", help='only log "would roll back"')
    parser.add_argument(
        "--cooldown", type=float, default=600.0, help="seconds between alerts (default 600)"
    )
    parser.add_argument("--alert-url", help="Slack-compatible webhook URL for alerts")
    parser.add_argument("--name", help="this watchdog's name in the audit trail")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.set_defaults(handler=_watchdog)
