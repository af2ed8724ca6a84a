"""The ``switchyard`` command line.

Exit codes scripts can rely on: 0 done, 1 the operation was refused or failed, 2 bad usage or
configuration (the message names the variable), 3 Unleash or Redis unreachable or refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from flags.errors import UnleashAuthError, UnleashError, UnleashUnreachable
from service.cli import (
    app_commands,
    control_commands,
    deliveries_commands,
    demo_commands,
    flags_commands,
    kinds_demo_commands,
    plan_commands,
    route_commands,
    serve_commands,
    stack_commands,
    standin_commands,
    status_commands,
    watchdog_commands,
    worker_commands,
)
from service.cli.output import CommandError
from service.migration.change_result import BrakeUnavailable
from service.settings import SettingsError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard",
        description="Move GitHub issue work from the TypeScript agent to the Python agent safely.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        stack_commands,
        flags_commands,
        status_commands,
        control_commands,
        route_commands,
        serve_commands,
        worker_commands,
        app_commands,
        watchdog_commands,
        plan_commands,
        demo_commands,
        kinds_demo_commands,
        standin_commands,
        deliveries_commands,
    ):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or EXIT_OK)
    except SettingsError as error:
        print(f"switchyard: configuration: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (UnleashUnreachable, UnleashAuthError, BrakeUnavailable) as error:
        print(f"switchyard: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (UnleashError, CommandError) as error:
        print(f"switchyard: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
