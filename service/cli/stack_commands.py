"""``switchyard stack up|down|status``: the local real stack."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from service.cli.output import CommandError, emit
from service.devtools import stack

__all__ = ["register"]


def _config() -> stack.StackConfig:
    repo = Path(os.environ.get("SWITCHYARD_REPO") or Path.cwd())
    return stack.StackConfig.from_env(os.environ, repo=repo)


def _up(args: argparse.Namespace) -> int:
    try:
        env = stack.up(_config())
    except stack.StackError as error:
        raise CommandError(str(error)) from None
    shown = {
        key: value
        for key, value in env.items()
        if "TOKEN" not in key and "SECRET" not in key and "PASSWORD" not in key
    }
    emit(shown, as_json=args.json, text="stack is up; `. .stack/env` to use it")
    return 0


def _down(args: argparse.Namespace) -> int:
    stack.down(_config())
    return 0


def _status(args: argparse.Namespace) -> int:
    states = stack.status(_config())
    emit(
        states,
        as_json=args.json,
        text="\n".join(f"{name:9} {'up' if up else 'down'}" for name, up in states.items()),
    )
    return 0 if all(states.values()) else 1


def register(commands: Any) -> None:
    parser = commands.add_parser("stack", help="start or stop the local PostgreSQL, Redis, Unleash")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("up", _up, "start what is not running, write .stack/env (idempotent)"),
        ("down", _down, "stop what `stack up` started (by pid file)"),
        ("status", _status, "which components are up (exit 1 if any is down)"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.set_defaults(handler=handler)
