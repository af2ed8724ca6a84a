"""``switchyard watchdog``: the process that rolls back when python is worse, and drives the
rollout plan (``switchyard plan start``) when one is running."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from typing import Any

from redis.exceptions import RedisError

from service.cli.output import load_settings
from service.health.monitor import monitor_for
from service.migration.control import MigrationControl
from service.migration.override_sync import sync_overrides
from service.notify.outbox import Outbox
from service.notify.senders import configured_senders
from service.plan.controller import PlanController
from service.plan.evidence import StreamFold
from service.plan.store import PlanStore
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
        senders = configured_senders(settings, runtime.http, slack_url=args.alert_url)
        outbox = Outbox(runtime.redis, prefix=runtime.prefix, senders=senders)
        plan = PlanController(
            store=PlanStore(runtime.redis, prefix=runtime.prefix, outbox=outbox),
            control=control,
            evidence=StreamFold(runtime.redis, prefix=runtime.prefix),
        )
        watchdog = Watchdog(
            redis=runtime.redis,
            http=runtime.http,
            control=control,
            plan=plan,
            outbox=outbox,
            prefix=runtime.prefix,
            config=WatchdogConfig(
                name=name,
                interval_seconds=args.interval,
                dry_run=args.dry_run,
                cooldown_seconds=args.cooldown,
            ),
        )
        sending = asyncio.create_task(_send(outbox, stop, args.interval))
        try:
            await asyncio.gather(
                watchdog.run(stop),
                sync_overrides(control, holder=name, stop=stop),
                # the one prober, under its lease: health stays fresh with only this process up
                monitor_for(runtime).run(stop, interval_seconds=args.interval),
            )
        finally:
            stop.set()
            await sending
    return 0


async def _send(outbox: Outbox, stop: asyncio.Event, interval: float) -> None:
    """Deliver the outbox beside the watchdog's ticks: a slow receiver never delays a tick."""
    while not stop.is_set():
        try:
            await outbox.deliver_due()
        except (RedisError, OSError) as error:
            logging.getLogger("switchyard.notify").warning("outbox delivery failed: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(1.0, interval))


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
    parser.add_argument(
        "--alert-url",
        help="Slack-compatible webhook URL (overrides SWITCHYARD_SLACK_WEBHOOK_URL): "
        "rollbacks and plan events, through the outbox",
    )
    parser.add_argument("--name", help="this watchdog's name in the audit trail")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.set_defaults(handler=_watchdog)
