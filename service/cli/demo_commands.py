"""``switchyard demo``: the whole migration on the running stack, narrated.

Starts the service, two workers, the watchdog and two simulated agent systems as child
processes (logs under ``--log-dir``), resets the flags to their provisioned defaults and plays
:class:`service.devtools.demo.Demo`. Without ``--exit-when-done`` everything stays up, with the
dashboard and Unleash UI addresses printed, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from flags.model import System
from flags.provision import provision
from flags.secret import Secret
from service.cli.output import CommandError, load_settings, positive_int
from service.devtools.child_processes import ChildExited, ChildProcesses, free_port
from service.devtools.demo import FLAG_POLL_SECONDS, Demo, DemoFailed, DemoPlan
from service.devtools.demo_traffic import Traffic
from service.devtools.notify_receiver import NotificationReceiver, serve_receiver
from service.devtools.redis_prefix import delete_prefix
from service.devtools.webhook_sender import WebhookSender as GitHubSender
from service.keys import Keys
from service.migration.control import MigrationControl
from service.notify.outbox import Outbox
from service.plan.errors import PlanInvalid
from service.plan.store import PlanStore
from service.runtime import unleash_admin
from service.settings import Settings, SettingsError

__all__ = ["register"]


async def _prepare(
    settings: Settings, http: httpx.AsyncClient, *, fresh: bool, say: Callable[[str], None]
) -> None:
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        existing = [
            k async for k in redis.scan_iter(match=Keys(settings.redis_prefix).pattern, count=10)
        ]
        if existing and not fresh:
            raise CommandError(
                f"Redis already holds keys under {settings.redis_prefix!r}; run with --fresh to "
                "delete them first, or set SWITCHYARD_REDIS_PREFIX to another prefix"
            )
        if existing:
            wiped = await delete_prefix(redis, settings.redis_prefix)
            say(f"demo: deleted {wiped} keys under {settings.redis_prefix!r}")
    finally:
        await redis.aclose()
    await provision(
        unleash_admin(settings, http),
        service_url=settings.service_url,
        events_secret=settings.require_unleash_events_secret(),
        reset=True,
    )
    say("demo: flags reset to their defaults (typescript only, 0%, kill switch off)")


def _reader(settings: Settings) -> dict[str, str]:
    """The status needs a login: the viewer token (else the admin token), to the service only."""
    token = settings.viewer_token or settings.admin_token
    return {"Authorization": f"Bearer {token.reveal()}"} if token is not None else {}


def _narrator(*, to_stderr: bool) -> Callable[[str], None]:
    stream = sys.stderr if to_stderr else sys.stdout

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    return say


def _plan(args: argparse.Namespace) -> DemoPlan:
    try:
        steps = tuple(int(part) for part in args.steps.split(","))
    except ValueError:
        raise CommandError(f"--steps: percentages like 10,25,50, got {args.steps!r}") from None
    plan = DemoPlan(
        steps=steps,
        degrade_at=args.degrade_at,
        dwell_seconds=args.dwell,
        batch=args.batch,
        pace_seconds=args.pace,
        latency_ms=args.latency_ms,
    )
    try:
        plan.rollout_plan()
    except PlanInvalid as invalid:
        raise CommandError(f"demo: the plan is refused: {invalid}") from None
    if plan.degrade_at not in steps[1:-1]:
        raise CommandError(f"--degrade-at must be a step after the first, before 100: {steps}")
    return plan


async def _demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    say = _narrator(to_stderr=args.json)  # with --json, stdout carries the report only
    secret = settings.require_webhook_secret()
    settings.require_admin_token()
    if settings.agent_secret is None:
        raise SettingsError("SWITCHYARD_AGENT_SECRET", "is required for the demo's agents")
    plan = _plan(args)
    ports = {System.TYPESCRIPT: free_port(), System.PYTHON: free_port()}
    agent_urls = {system: f"http://127.0.0.1:{port}" for system, port in ports.items()}
    env = {
        **os.environ,
        "SWITCHYARD_TYPESCRIPT_URL": agent_urls[System.TYPESCRIPT],
        "SWITCHYARD_PYTHON_URL": agent_urls[System.PYTHON],
        "SWITCHYARD_FLAG_REFRESH_SECONDS": str(FLAG_POLL_SECONDS),
    }
    rates = {System.TYPESCRIPT: plan.typescript_success, System.PYTHON: plan.python_success}
    notify_secret = Secret(secrets.token_hex(16))
    receiver = NotificationReceiver(secret=notify_secret, say=say)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_receiver(receiver) as receiver_url,
        ChildProcesses(env=env, log_dir=Path(args.log_dir)) as children,
    ):
        await _prepare(settings, http, fresh=args.fresh, say=say)
        say(
            f"demo: starting the service, 2 workers, the watchdog and 2 agents (logs in "
            f"{children.log_dir}); notifications go to {receiver_url}"
        )
        ready = []  # all start at once; the demo waits for those it calls
        for seed, system in enumerate(System, start=1):
            sim = await children.start(
                f"agent-{system.value}",
                "simulate-agent",
                f"--system={system.value}",
                f"--port={ports[system]}",
                f"--success-rate={rates[system]}",
                f"--latency-ms={plan.latency_ms}",
                f"--seed={seed}",
            )
            ready.append(children.wait_ready(sim, f"{agent_urls[system]}/health", http))
        service = await children.start(
            "service", "serve", f"--port={settings.port}", "--log-level=warning"
        )
        ready.append(children.wait_ready(service, f"{settings.service_url}/readyz", http))
        for index in (1, 2):
            await children.start(f"worker-{index}", "worker", f"--consumer=demo-worker-{index}")
        notify_env = {
            "SWITCHYARD_NOTIFY_WEBHOOK_URL": receiver_url,
            "SWITCHYARD_NOTIFY_WEBHOOK_SECRET": notify_secret.reveal(),
        }
        await children.start(
            "watchdog", "watchdog", "--interval=1", "--name=demo-watchdog", env=notify_env
        )
        await asyncio.gather(*ready)
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            prefix = settings.redis_prefix
            # publishes only: the watchdog process (notify_env above) delivers to the receiver
            outbox = Outbox(redis, prefix=prefix)
            demo = Demo(
                plan=plan,
                traffic=Traffic(
                    plan=plan,
                    http=http,
                    service_url=settings.service_url,
                    sender=GitHubSender(http, url=settings.service_url, secret=secret),
                    agent_urls=agent_urls,
                    status_headers=_reader(settings),
                ),
                control=MigrationControl(
                    admin=unleash_admin(settings, http), redis=redis, prefix=prefix
                ),
                store=PlanStore(redis, prefix=prefix, outbox=outbox),
                outbox=outbox,
                receiver=receiver,
                say=say,
            )
            try:
                report = await demo.run()
            except (DemoFailed, ChildExited) as error:
                raise CommandError(f"demo: {error}") from None
        finally:
            await redis.aclose()
        children.check_all()
        if args.json:
            json.dump(report.as_dict(), sys.stdout, indent=2, default=str)
            sys.stdout.write("\n")
        ui_user = os.environ.get("UNLEASH_UI_USER", "admin")
        say(
            f"\ndemo: done. Dashboard: {settings.service_url}/migration/dashboard (log in with "
            "SWITCHYARD_VIEWER_TOKEN or SWITCHYARD_ADMIN_TOKEN of .stack/env)"
        )
        say(
            f"demo: Unleash UI: {settings.unleash_url} (user {ui_user}, password in "
            "UNLEASH_UI_PASSWORD of .stack/env)"
        )
        say(
            "demo: leave the rollback with `switchyard rollback --leave --to gradual "
            "--reason ...` once python is fixed"
        )
        if not args.exit_when_done:
            say("demo: everything stays up; Ctrl-C stops the demo's processes")
            await _until_stopped()
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="play a rollout plan on the running stack: python advances, degrades, rolls back",
        description=(
            "Needs the stack up and provisioned (make demo does both). Resets the flags, "
            "starts the service, workers, watchdog and two simulated agents and a notification "
            "receiver, starts a compressed rollout plan and sends issues: the watchdog "
            "advances the plan on python's evidence; at --degrade-at python degrades and the "
            "watchdog rolls back."
        ),
    )
    parser.add_argument(
        "--exit-when-done", action="store_true", help="stop everything after the last phase"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="delete this prefix's keys in Redis first"
    )
    parser.add_argument(
        "--steps", default="10,25,50,75,100", help="the plan's percentages (default 10,...,100)"
    )
    parser.add_argument(
        "--degrade-at", type=int, default=75, help="python degrades at this step (default 75)"
    )
    parser.add_argument(
        "--dwell", type=float, default=2.0, help="seconds each step lasts at least (default 2)"
    )
    parser.add_argument(
        "--batch", type=positive_int, default=20, help="issues per round (default 20)"
    )
    parser.add_argument(
        "--pace", type=float, default=0.05, help="seconds between deliveries (default 0.05)"
    )
    parser.add_argument("--latency-ms", type=int, default=300, help="simulated agent run time")
    parser.add_argument("--log-dir", default=".stack/demo", help="child process logs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    parser.set_defaults(handler=_demo)
