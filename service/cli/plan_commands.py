"""``switchyard plan start|status|approve|pause|resume|abort``: the rollout plan from a terminal.

The plan comes from a file (``--file flags/plan.json``, flags as code) and/or flags that override
its fields; a malformed plan is refused naming the field (exit 2) and nothing changes. Refusals
(a plan already running, the starter approving, nothing to resume) exit 1. The watchdog process
drives a started plan; these commands only change its stored state and the flags through
:class:`~service.migration.control.MigrationControl`. With ``SWITCHYARD_USERS_FILE`` set, the
command runs as the person whose ``SWITCHYARD_TOKEN`` it carries, with that person's role
(:mod:`service.plan.users`); without it, as ``SWITCHYARD_ACTOR`` and unchecked. Each transition
is published to the notification outbox under that name; the watchdog delivers it to every
receiver.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from flags.transitions import Actor, ActorKind, TransitionRefused
from service.cli.control_commands import cli_actor
from service.cli.output import CommandError, emit, load_settings
from service.migration.control import MigrationControl, NotProvisioned
from service.notify.outbox import Outbox
from service.plan.actions import PlanActions
from service.plan.errors import PlanConflict, PlanForbidden, PlanInvalid
from service.plan.model import parse_plan
from service.plan.store import PlanRecord, PlanStore
from service.plan.users import Role, Users
from service.runtime import unleash_admin
from service.settings import Settings

__all__ = ["register"]

EXIT_INVALID = 2


@contextlib.asynccontextmanager
async def _actions(settings: Settings) -> AsyncIterator[tuple[PlanActions, PlanStore]]:
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            control = MigrationControl(
                admin=unleash_admin(settings, http), redis=redis, prefix=settings.redis_prefix
            )
            outbox = Outbox(redis, prefix=settings.redis_prefix)  # the watchdog delivers
            store = PlanStore(redis, prefix=settings.redis_prefix, outbox=outbox)
            yield PlanActions(store=store, control=control), store
    finally:
        await redis.aclose()


def _raw_plan(args: argparse.Namespace) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if args.file:
        try:
            raw = json.loads(Path(args.file).read_text())
        except (OSError, ValueError) as error:
            raise PlanInvalid("file", f"cannot read {args.file}: {error}") from None
        if not isinstance(raw, dict):
            raise PlanInvalid("plan", "must be a JSON object")
    for name in ("margin", "alpha", "extension_seconds", "final_mode"):
        if getattr(args, name) is not None:
            raw[name] = getattr(args, name)
    if args.steps is not None:
        try:
            raw["steps"] = [int(part) for part in args.steps.split(",")]
        except ValueError:
            raise PlanInvalid(
                "steps", f"must be percentages like 10,25,50, got {args.steps!r}"
            ) from None
    overrides = {
        "min_completions": args.min_completions,
        "min_outcomes": args.min_outcomes,
        "min_dwell_seconds": args.dwell,
    }
    approvals = set(args.approval_at or [])
    steps = [s if isinstance(s, dict) else {"percentage": s} for s in raw.get("steps", [])]
    if steps and (any(v is not None for v in overrides.values()) or approvals):
        for step in steps:
            step.update({k: v for k, v in overrides.items() if v is not None})
            if step.get("percentage") in approvals:
                step["gate"] = "approval"
        raw["steps"] = steps
    elif not steps and (any(v is not None for v in overrides.values()) or approvals):
        raise PlanInvalid("steps", "give --steps or --file with the per-step options")
    return raw


def _text(record: PlanRecord, timeline: list[dict[str, Any]]) -> str:
    state, plan = record.state, record.plan
    lines = [
        f"plan {record.id}: {state.status.value}, started by {record.started_by} "
        f"at {_when(record.started_at)}",
        "steps: "
        + "  ".join(
            f"[{'x' if i < state.step else '>' if i == state.step else ' '}] {s.percentage}%"
            + (" (approval)" if s.gate.value == "approval" else "")
            for i, s in enumerate(plan.steps)
        ),
        f"current: step {state.step + 1} at {state.expected_rollout}% since "
        f"{_when(state.step_started_at)}; stalls at {_when(state.deadline)} if still unsure",
    ]
    if state.note:
        lines.append(f"note: {state.note}")
    if state.approvals:
        approved = ", ".join(f"step {i + 1} by {name}" for i, name in state.approvals.items())
        lines.append(f"approvals: {approved}")
    decision = record.last_decision
    if decision:
        lines.append(f"last decision: {decision['action']}: {decision['reason']}")
    for entry in timeline[:10]:
        lines.append(
            f"  {_when(entry['at'])}  {entry['event']:18} {entry['actor']}: {entry['reason']}"
        )
    return "\n".join(lines)


def _when(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M:%S}Z"


def _identity(settings: Settings) -> tuple[Actor, Role | None]:
    """Who runs the command: from the users file and ``SWITCHYARD_TOKEN`` when a file is set,
    else the unauthenticated ``SWITCHYARD_ACTOR`` (or the login name) with no role checks."""
    if settings.users_file is None:
        return cli_actor(), None
    user = Users.load(settings.users_file).authenticate(settings.token)
    if user is None:
        raise CommandError("SWITCHYARD_TOKEN is not set or matches no one in the users file")
    return Actor(user.name, ActorKind.HUMAN, "cli"), user.role


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    actor, role = _identity(settings)
    if role is not None and args.plan_command != "status" and not role.may_act:
        raise CommandError(f"{actor.name} is a viewer: only `switchyard plan status`")
    try:
        async with _actions(settings) as (actions, store):
            if args.plan_command == "start":
                plan = parse_plan(_raw_plan(args))
                record = await actions.start(plan, actor=actor, reason=args.reason)
            elif args.plan_command == "status":
                record = await actions.current()
            elif args.plan_command == "approve":
                may = role is None or role.may_approve
                record = await actions.approve(actor=actor, reason=args.reason, may_approve=may)
            else:
                act = getattr(actions, args.plan_command)
                record = await act(actor=actor, reason=args.reason)
            timeline = await store.timeline(20)
    except PlanInvalid as invalid:
        print(f"switchyard: plan refused: {invalid}", file=sys.stderr)
        return EXIT_INVALID
    except (PlanConflict, PlanForbidden, TransitionRefused, NotProvisioned) as refused:
        raise CommandError(str(refused)) from None
    emit(
        {**record.as_dict(), "timeline": timeline}, as_json=args.json, text=_text(record, timeline)
    )
    return 0


def _percentages(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"percentages like 50,100, got {text!r}") from None


def register(commands: Any) -> None:
    plan = commands.add_parser(
        "plan",
        help="a rollout plan that advances on evidence (run by the watchdog)",
        description="One plan at a time. The watchdog advances it when python is shown no "
        "worse than typescript; hand changes of the rollout pause it.",
    )
    actions = plan.add_subparsers(dest="plan_command", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start a plan (from --file and/or the flags)")
    start.add_argument("--file", help="a plan file, e.g. flags/plan.json")
    start.add_argument("--steps", help="percentages, e.g. 10,25,50,75,100")
    start.add_argument("--margin", type=float, help="non-inferiority margin (default 0.05)")
    start.add_argument("--alpha", type=float, help="false advance budget (default 0.05)")
    start.add_argument("--min-completions", type=int, help="per step, acting python")
    start.add_argument("--min-outcomes", type=int, help="per step, python PR/CI outcomes")
    start.add_argument("--dwell", type=float, help="per step, minimum seconds")
    start.add_argument("--extension-seconds", type=float, help="then wait for a person")
    start.add_argument("--approval-at", type=_percentages, help="steps gated by approval")
    start.add_argument("--final-mode", choices=["gradual", "python_only"])
    for name, text in (
        ("status", "the plan, its last decision and timeline"),
        ("approve", "open the current step's approval gate (not the starter)"),
        ("pause", "pause the plan"),
        ("resume", "resume a paused (step restarts) or stalled (extension) plan"),
        ("abort", "stop the plan; the rollout stays where it is"),
    ):
        parser = actions.add_parser(name, help=text)
        if name != "status":
            parser.add_argument("--reason", required=True, help="recorded in the audit trail")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.set_defaults(handler=_run)
    start.add_argument("--reason", required=True, help="recorded in the audit trail")
    start.add_argument("--json", action="store_true", help="machine-readable output")
    start.set_defaults(handler=_run)
