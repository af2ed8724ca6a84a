"""``switchyard demo-kinds``: one system of each other kind, on the running stack.

typescript is a GitHub App whose webhook Switchyard gates (``simulate-app`` plays its
endpoint); python is a bot triggered by the label ``fix-me`` (the GitHub stand-in plays GitHub's
REST API). Neither calls back: their outcomes come from their pull requests. The script is
:mod:`service.devtools.kinds_demo`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from flags.secret import Secret
from service.cli.demo_commands import _narrator, _prepare
from service.cli.output import CommandError, load_settings, positive_int
from service.devtools.child_processes import ChildExited, ChildProcesses, free_port
from service.devtools.kinds_demo import (
    LABEL,
    PYTHON_BOT,
    TYPESCRIPT_BOT,
    KindsDemo,
    KindsDemoFailed,
    KindsDemoSetup,
)
from service.migration.control import MigrationControl
from service.runtime import unleash_admin

__all__ = ["register"]


async def _demo_kinds(args: argparse.Namespace) -> int:
    settings = load_settings()
    say = _narrator(to_stderr=args.json)
    app_secret, token = Secret(secrets.token_hex(16)), Secret(f"ghp_{secrets.token_hex(16)}")
    app_port, standin_port = free_port(), free_port()
    setup = KindsDemoSetup(
        service_url=settings.service_url,
        app_url=f"http://127.0.0.1:{app_port}",
        standin_url=f"http://127.0.0.1:{standin_port}",
        webhook_secret=settings.require_webhook_secret(),
        app_secret=app_secret,
        github_token=token,
        issues=args.issues,
        reader=settings.viewer_token or settings.admin_token,
    )
    env = {
        **os.environ,
        "SWITCHYARD_FLAG_REFRESH_SECONDS": "1",
        "SWITCHYARD_TYPESCRIPT_KIND": "github-app",
        "SWITCHYARD_TYPESCRIPT_WEBHOOK_SECRET": app_secret.reveal(),
        "SWITCHYARD_TYPESCRIPT_WEBHOOK_URL": f"{setup.app_url}/",
        "SWITCHYARD_TYPESCRIPT_BOT_LOGIN": TYPESCRIPT_BOT,
        "SWITCHYARD_PYTHON_KIND": "github-label",
        "SWITCHYARD_PYTHON_TRIGGER": LABEL,
        "SWITCHYARD_PYTHON_BOT_LOGIN": PYTHON_BOT,
        "SWITCHYARD_GITHUB_API_URL": setup.standin_url,
        "SWITCHYARD_GITHUB_TOKEN": token.reveal(),
    }
    for name in ("SWITCHYARD_GITHUB_APP_ID", "SWITCHYARD_GITHUB_APP_PRIVATE_KEY"):
        env.pop(name, None)  # the stand-in takes the token
    async with (
        httpx.AsyncClient(timeout=10) as http,
        ChildProcesses(env=env, log_dir=Path(args.log_dir)) as children,
    ):
        await _prepare(settings, http, fresh=args.fresh, say=say)
        say(
            f"demo-kinds: starting the service, a worker, the App and GitHub's stand-in "
            f"(logs in {children.log_dir})"
        )
        app = await children.start(
            "app-typescript", "simulate-app", "--system=typescript", f"--port={app_port}"
        )
        await children.wait_ready(app, f"{setup.app_url}/_deliveries", http)
        standin = await children.start("github-standin", "github-standin", f"--port={standin_port}")
        await children.wait_ready(standin, f"{setup.standin_url}/_standin/hooks", http)
        service = await children.start(
            "service", "serve", f"--port={settings.port}", "--log-level=warning"
        )
        await children.wait_ready(service, f"{settings.service_url}/readyz", http)
        await children.start("worker", "worker", "--consumer=kinds-demo-worker")
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            control = MigrationControl(
                admin=unleash_admin(settings, http), redis=redis, prefix=settings.redis_prefix
            )
            demo = KindsDemo(setup=setup, http=http, control=control, say=say)
            try:
                report: dict[str, Any] = await demo.run()
            except (KindsDemoFailed, ChildExited) as error:
                raise CommandError(f"demo-kinds: {error}") from None
        finally:
            await redis.aclose()
        children.check_all()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    say("\ndemo-kinds: done (flags left in emergency rollback; `switchyard provision --reset`)")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo-kinds",
        help="typescript as a gated GitHub App, python as a label-triggered bot: a short script",
        description="Needs the stack up and provisioned. Resets the flags, starts the service, "
        "a worker, the App's endpoint and the GitHub stand-in, then plays gradual 50%%, a "
        "foreign label, the bots' pull requests and the kill switch; stops when done.",
    )
    parser.add_argument("--fresh", action="store_true", help="delete this prefix's keys first")
    parser.add_argument("--issues", type=positive_int, default=10, help="new issues (default 10)")
    parser.add_argument("--log-dir", default=".stack/demo-kinds", help="child process logs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    parser.set_defaults(handler=_demo_kinds)
