"""``switchyard route``: explain, without side effects, who would act on which issue."""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from typing import Any

from flags.model import Issue
from service.cli.output import CommandError, emit, load_settings
from service.migration.brake import Brake
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter
from service.runtime import open_runtime

__all__ = ["parse_issue_numbers", "register"]

_PROGRESS_FROM = 200  # issues; fewer are answered before anyone waits

_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_MAX_ISSUES = 100_000


def parse_issue_numbers(spec: str) -> list[int]:
    """``"5"``, ``"1-500"``, ``"3,7,10-12"`` -> sorted unique issue numbers."""
    numbers: set[int] = set()
    for part in spec.split(","):
        match = _PART.match(part)
        if match is None:
            raise CommandError(f"--issue: {part.strip()!r} is not a number or a range like 1-500")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low < 1 or high < low:
            raise CommandError(f"--issue: {part.strip()!r} is not a valid range")
        if len(numbers) + high - low + 1 > _MAX_ISSUES:
            raise CommandError(f"--issue: at most {_MAX_ISSUES} issues at a time")
        numbers.update(range(low, high + 1))
    return sorted(numbers)


async def _route(args: argparse.Namespace) -> int:
    if args.repository.count("/") != 1:
        raise CommandError(f"--repository must be OWNER/NAME, got {args.repository!r}")
    numbers = parse_issue_numbers(args.issue)
    settings = load_settings()
    async with open_runtime(settings, role="cli") as runtime:
        router = IssueRouter(
            flags=runtime.flags,
            owners=OwnershipStore(runtime.redis, prefix=runtime.prefix),
            brake=Brake(runtime.redis, prefix=runtime.prefix),
        )
        routed = []
        show_progress = len(numbers) >= _PROGRESS_FROM and sys.stderr.isatty()
        for done, number in enumerate(numbers, start=1):
            routed.append(await router.explain(Issue(args.repository, number)))
            if show_progress and (done % 100 == 0 or done == len(numbers)):
                print(f"\rrouting: {done}/{len(numbers)}", end="", file=sys.stderr, flush=True)
        if show_progress:
            print(file=sys.stderr)
        freshness = runtime.provider.freshness()
    rows: list[dict[str, Any]] = [
        {
            "issue": item.issue.number,
            "owner": item.owner.system.value if item.owner else None,
            **item.decision.as_dict(),
        }
        for item in routed
    ]
    acting = Counter(item.decision.acting.value for item in routed)
    summary = {
        "repository": args.repository,
        "issues": len(routed),
        "acting": dict(acting),
        "flags": freshness,
        "decisions": rows,
    }
    lines = [
        f"#{row['issue']:<7} {row['acting']:10} shadow={row['shadow'] or '-':10} "
        f"owner={row['owner'] or '-':10} {row['reason']}"
        for row in rows
    ]
    lines.append(
        f"{len(routed)} issues: "
        + ", ".join(f"{system} {count}" for system, count in sorted(acting.items()))
        + f" (flags {freshness})"
    )
    emit(summary, as_json=args.json, text="\n".join(lines))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "route",
        help="explain which system would act on each issue, and why (no side effects)",
        description="Reads the flags and the recorded owners; claims nothing.",
    )
    parser.add_argument("--repository", required=True, help="OWNER/NAME")
    parser.add_argument("--issue", required=True, help="numbers and ranges: 7, 1-500, 3,9-12")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_route)
