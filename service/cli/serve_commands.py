"""``switchyard serve``: the webhook service under uvicorn."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import uvicorn

from service.app import create_app
from service.cli.output import load_settings

__all__ = ["register"]


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    # Every secret a request needs is checked now, not on the first request that needs it.
    settings.require_webhook_secret()
    settings.require_unleash_events_secret()
    settings.require_agent_secret()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the Switchyard service (uvicorn)")
    serve.add_argument("--host", help="bind address (default SWITCHYARD_HOST)")
    serve.add_argument("--port", type=int, help="port (default SWITCHYARD_PORT)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)
