"""``switchyard worker``, ``switchyard dead-letters [replay]`` and ``switchyard simulate-agent``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from flags.model import System
from flags.secret import Secret
from service.agents.factory import build_agents, build_bots
from service.cli.output import CommandError, emit, load_settings, positive_int
from service.devtools.simulator import run_simulator
from service.outcomes.recorder import OutcomeRecorder
from service.pipeline.dispatch import replay_dead_letter
from service.pipeline.jobs import JobStore
from service.pipeline.retry import RetryPolicy
from service.pipeline.stream import DeadLetter, EventStream
from service.pipeline.worker import Worker
from service.runtime import open_runtime
from service.settings import Settings, SettingsError

__all__ = ["register"]

_ALL_DEAD_LETTERS = 100_000
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_log = logging.getLogger("switchyard.worker")


def _stopper(stop: asyncio.Event, name: str) -> Callable[[], None]:
    def on_signal() -> None:
        _log.info("%s: finishing the entry in hand, then stopping", name)
        stop.set()

    return on_signal


def _agent_url(value: str | None, variable: str) -> str:
    if value is None:
        raise SettingsError(variable, "is required for the worker but not set")
    return value


async def _worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    consumer = args.consumer or f"{settings.instance}-{socket.gethostname()}-{os.getpid()}"
    logging.basicConfig(level=args.log_level.upper(), format=_LOG_FORMAT)
    for chatty in ("apscheduler", "httpx"):  # a line per flag poll and per request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopper(stop, signal.Signals(signum).name))
    try:
        async with open_runtime(settings, role="worker") as runtime:
            timeout = args.agent_timeout_seconds
            agents = build_agents(runtime, timeout=timeout)
            policy = RetryPolicy(max_attempts=args.max_attempts)
            bots = build_bots(runtime, agents, policy=policy, timeout=timeout)
            worker = Worker(
                redis=runtime.redis,
                flags=runtime.flags,
                agents=agents,
                prefix=runtime.prefix,
                callback_base=settings.service_url,
                consumer=consumer,
                policy=policy,
                claim_idle_ms=args.claim_idle_ms,
                lock_ttl_seconds=args.lock_ttl_seconds,
                quality=OutcomeRecorder(runtime.redis, prefix=runtime.prefix),
                bots=bots,
            )
            expiry = asyncio.create_task(bots.outcomes.run(stop)) if bots.outcomes else None
            await worker.run(stop)
            if expiry is not None:
                await expiry
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


@asynccontextmanager
async def _stores(settings: Settings) -> AsyncIterator[tuple[EventStream, JobStore]]:
    """Only Redis: dead letters can be handled while Unleash is down."""
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        prefix = settings.redis_prefix
        yield EventStream(redis, prefix=prefix), JobStore(redis, prefix=prefix)
    finally:
        await redis.aclose()


def _row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "dead_id": letter.dead_id,
        "delivery_id": letter.delivery_id,
        "event": letter.event,
        "system": letter.system,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at,
        "error": letter.error,
    }


async def _list(args: argparse.Namespace) -> int:
    async with _stores(load_settings()) as (stream, _):
        letters = await stream.dead_letters(count=_ALL_DEAD_LETTERS)
    lines = [
        f"{x.dead_id}  {x.event:12} delivery={x.delivery_id} system={x.system} "
        f"attempts={x.attempts}  {x.error[:120]}"
        for x in letters
    ]
    lines.append(f"{len(letters)} dead letters")
    emit([_row(x) for x in letters], as_json=args.json, text="\n".join(lines))
    return 0


async def _replay(args: argparse.Namespace) -> int:
    if bool(args.dead_id) == bool(args.all):
        raise CommandError("replay: give one dead-letter ID or --all")
    async with _stores(load_settings()) as (stream, jobs):
        letters = await stream.dead_letters(count=_ALL_DEAD_LETTERS)
        chosen = letters if args.all else [x for x in letters if x.dead_id == args.dead_id]
        if not args.all and not chosen:
            raise CommandError(f"replay: no dead letter {args.dead_id!r}")
        replayed = []
        for letter in chosen:  # a snapshot: what fails again while we replay waits for next time
            entry_id = await replay_dead_letter(stream=stream, jobs=jobs, letter=letter)
            if entry_id is not None:
                replayed.append({"dead_id": letter.dead_id, "entry_id": entry_id})
    lines = [f"{row['dead_id']} -> event stream entry {row['entry_id']}" for row in replayed]
    lines.append(f"{len(replayed)} dead letters replayed")
    emit({"replayed": replayed}, as_json=args.json, text="\n".join(lines))
    return 0


async def _simulate(args: argparse.Namespace) -> int:
    own = f"SWITCHYARD_{args.system.upper()}_AGENT_SECRET"
    raw = os.environ.get(own, "") or os.environ.get("SWITCHYARD_AGENT_SECRET", "")
    if not raw:
        raise SettingsError(own, "(or SWITCHYARD_AGENT_SECRET) is required for the simulator")
    try:
        await run_simulator(
            system=System(args.system),
            port=args.port,
            success_rate=args.success_rate,
            latency_ms=args.latency_ms,
            agent_secret=Secret(raw),
            host=args.host,
            seed=args.seed,
        )
    except ValueError as error:  # a rate or latency out of range
        raise CommandError(f"simulate-agent: {error}") from None
    return 0


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker",
        help="consume the event stream and dispatch jobs to the agent systems",
        description="Needs SWITCHYARD_TYPESCRIPT_URL and SWITCHYARD_PYTHON_URL for job-api "
        "systems (a github-app system needs SWITCHYARD_<SYSTEM>_WEBHOOK_URL instead). "
        "SIGTERM or SIGINT: finish the entry in hand, then exit.",
    )
    worker.add_argument("--consumer", help="consumer name (default INSTANCE-HOST-PID)")
    worker.add_argument(
        "--claim-idle-ms",
        type=positive_int,
        default=30_000,
        help="claim entries another worker left pending this long (default 30000)",
    )
    worker.add_argument(
        "--max-attempts", type=positive_int, default=5, help="tries per job (default 5)"
    )
    worker.add_argument(
        "--lock-ttl-seconds",
        type=_seconds,
        default=60.0,
        help="expiry of a crashed worker's issue lock (default 60)",
    )
    worker.add_argument(
        "--agent-timeout-seconds",
        type=_seconds,
        default=10.0,
        help="how long one call to an agent system may take before it counts as a retryable "
        "timeout (default 10)",
    )
    worker.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    worker.set_defaults(handler=_worker)

    dead = commands.add_parser(
        "dead-letters",
        help="list the dead-letter stream; `dead-letters replay` puts entries back",
    )
    dead.add_argument("--json", action="store_true", help="machine-readable output")
    dead.set_defaults(handler=_list)
    actions = dead.add_subparsers(dest="dead_letters_action", metavar="ACTION")
    replay = actions.add_parser(
        "replay", help="put dead letters back on the event stream (same delivery and job ids)"
    )
    replay.add_argument("dead_id", nargs="?", metavar="ID", help="the dead letter to replay")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    replay.add_argument("--json", action="store_true", help="machine-readable output")
    replay.set_defaults(handler=_replay)

    simulate = commands.add_parser(
        "simulate-agent",
        help="run an agent-system simulator (needs SWITCHYARD_<SYSTEM>_AGENT_SECRET or "
        "SWITCHYARD_AGENT_SECRET)",
    )
    simulate.add_argument("--system", required=True, choices=[s.value for s in System])
    simulate.add_argument("--port", type=int, required=True)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--success-rate", type=float, default=0.9)
    simulate.add_argument("--latency-ms", type=int, default=2000)
    simulate.add_argument("--seed", type=int, help="seed of the simulated outcomes")
    simulate.set_defaults(handler=_simulate)
