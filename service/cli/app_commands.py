"""``switchyard simulate-app``: a GitHub App's webhook endpoint, for the demo and benchmarks."""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn

from flags.model import System
from flags.secret import Secret
from service.devtools.app_receiver import create_app_receiver
from service.settings import SettingsError
from service.system_kinds import system_variable

__all__ = ["register"]


async def _simulate_app(args: argparse.Namespace) -> int:
    system = System(args.system)
    variable = system_variable(system, "WEBHOOK_SECRET")
    raw = os.environ.get(variable, "")
    if not raw:
        raise SettingsError(variable, "is required for the App simulator but not set")
    app = create_app_receiver(secret=Secret(raw))
    config = uvicorn.Config(
        app, host=args.host, port=args.port, lifespan="on", ws="none", log_level="warning"
    )
    await uvicorn.Server(config).serve()
    return 0


def register(commands: Any) -> None:
    simulate = commands.add_parser(
        "simulate-app",
        help="a GitHub App's webhook endpoint that verifies and records deliveries "
        "(needs SWITCHYARD_<SYSTEM>_WEBHOOK_SECRET)",
        description="POST / takes a delivery signed with the App's secret (401 otherwise); "
        'GET /_deliveries lists what arrived; POST /_control {"fail_status": N} refuses.',
    )
    simulate.add_argument("--system", required=True, choices=[s.value for s in System])
    simulate.add_argument("--port", type=int, required=True)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.set_defaults(handler=_simulate_app)
