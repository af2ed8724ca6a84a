"""``switchyard deliveries reconcile``: redeliver what GitHub failed to deliver to Switchyard.

Once, now (exit 0 when every hook was reconciled to the end, 1 when a hook's run stopped early:
GitHub refused, rate limits outlasted the wait, GitHub or Redis down), or with ``--every``
periodically under leader election, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import re
import signal
import socket
import time
from typing import Any

import httpx
from redis.asyncio import Redis

from service.cli.output import emit, load_settings
from service.github.reconciler import RunReport, reconcile_periodically
from service.github.reconciler.configured import configured_reconciler
from service.github.reconciler.ledger import leader_key
from service.github.reconciler.plan import parse_time
from service.leases import Lease

__all__ = ["register", "report_text"]

_RELATIVE = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> float:
    if match := _RELATIVE.fullmatch(text.strip()):
        return time.time() - int(match[1]) * _UNITS[match[2]]
    moment = parse_time(text.strip())
    if moment is None:
        raise argparse.ArgumentTypeError(
            f"expected a time (2026-12-01T10:00:00Z) or an age (90m, 6h, 3d), got {text!r}"
        )
    return moment


def _when(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_text(report: RunReport) -> str:
    lines = []
    for hook in report.hooks:
        verb = "would redeliver" if report.dry_run else "redelivered"
        count = len(hook.gap) if report.dry_run else len(hook.redelivered)
        lines.append(
            f"{hook.hook}: {hook.attempts_seen} attempts since {_when(hook.since)}; "
            f"{hook.failed} events never delivered, {hook.already_stored} stored anyway, "
            f"{hook.in_flight} being redelivered, {len(hook.gap)} missing, {verb} {count}"
        )
        if hook.stopped:
            lines.append(f"  stopped early: {hook.stopped}")
    return "\n".join(lines)


async def _reconcile(args: argparse.Namespace) -> int:
    settings = load_settings()
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as http:
            reconciler = configured_reconciler(settings, http=http, redis=redis)
            if args.every is None:
                report = await reconciler.run(since=args.since, dry_run=args.dry_run)
                emit(report.as_json(), as_json=args.json, text=report_text(report))
                return 0 if report.complete else 1
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            lease = Lease(
                redis,
                key=leader_key(settings.redis_prefix),
                holder=f"{settings.instance}-{socket.gethostname()}-{os.getpid()}",
                ttl_seconds=max(3 * args.every, 60.0),
            )
            await reconcile_periodically(reconciler, lease=lease, every=args.every, stop=stop)
            return 0
    finally:
        await redis.aclose()


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def register(commands: Any) -> None:
    deliveries = commands.add_parser(
        "deliveries", help="GitHub's webhook deliveries to Switchyard"
    ).add_subparsers(dest="deliveries_command", required=True, metavar="COMMAND")
    reconcile = deliveries.add_parser(
        "reconcile",
        help="redeliver each delivery GitHub failed to make and Switchyard never stored",
        description="Reads SWITCHYARD_GITHUB_HOOKS, SWITCHYARD_GITHUB_API_URL and a token or "
        "App credentials, and each github-app system's App (SWITCHYARD_<SYSTEM>_APP_ID and its "
        "key) for that App's own webhook. See docs/operations.md.",
    )
    reconcile.add_argument(
        "--since",
        type=_since,
        help="look back to this time or age (default: the last complete run; at most 3 days)",
    )
    reconcile.add_argument("--dry-run", action="store_true", help="report, redeliver nothing")
    reconcile.add_argument("--json", action="store_true", help="the report as JSON")
    reconcile.add_argument(
        "--every",
        type=_positive_seconds,
        help="run every N seconds under leader election (one process acts), until stopped",
    )
    reconcile.set_defaults(handler=_reconcile)
