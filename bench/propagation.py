"""Flag propagation: kill switch on -> first routing decision in *another process* honouring it.

Three paths, ``--flips`` timings each (p50 / p95 / max), measured with the same core as
``tests/migration/test_propagation.py`` (:mod:`service.devtools.propagation_timing`), but the
observer is a
separate OS process (``python bench/propagation.py --observe``) routing one issue every
millisecond with its own runtime; it answers on a pipe the moment a decision honours the
switch, and the clock (in this process) stops when that answer arrives:

* ``switchyard``: ``MigrationControl.rollback`` (what ``switchyard rollback``, the dashboard
  and the watchdog call): Unleash write, then the Redis broadcast; the observer refetches.
* ``addon``: the switch is turned on straight through the Unleash admin API (as in the Unleash
  UI); Unleash's webhook addon calls ``POST /unleash/events`` on a running ``switchyard serve``
  (on ``SWITCHYARD_URL``, where the provisioned addon points), which refetches and broadcasts.
  Before measuring, the run waits until the addon fires at all (Unleash caches its addon list
  for 60 s), and before each flip until the addon has reported the reset, so a late
  notification of the reset cannot pass for the flip's. Then a random pause (0.2-1.2 s): the
  addon loop ticks every second, and fixed pauses would time every flip at the same phase.
* ``polling``: the same admin API flip, the observer on a Redis prefix nobody publishes on,
  polling every second (``SWITCHYARD_FLAG_REFRESH_SECONDS=1``); random pauses between flips
  as for the addon.

In the first two the observer polls Unleash only every 30 s, so a broadcast that does not
arrive fails the run (15 s per flip at most) instead of passing as polling; the observer's
listener counts are checked (broadcasts received on the push paths, none when polling).
Flags end at the provisioned defaults (``provision --reset``). Run alone:
``python bench/propagation.py [--quick] [--flips N] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from redis.asyncio import Redis

from bench.common import (
    PYTHON,
    child,
    delete_prefix,
    percentile,
    run,
    serve,
    settings_for,
    stack_env,
    unique_prefix,
)
from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue
from flags.provision import provision
from flags.transitions import Actor, ActorKind
from service.devtools.propagation_timing import (
    RuntimeObserver,
    time_flips,
    wait_for_the_addon,
)
from service.migration.control import MigrationControl
from service.migration.propagation import flag_channel
from service.runtime import open_runtime, unleash_admin
from service.settings import Settings

__all__ = ["ProcessObserver", "main", "measure"]

ISSUE = Issue("acme/bench", 4242)
BENCH = Actor("bench", ActorKind.HUMAN, "cli")
FLIPS = 20
QUICK_FLIPS = 5
PUSH_REFRESH_SECONDS = "30"
TARGETS_P95_S = {"switchyard": 0.1, "addon": 1.0}
_FLIP_WITHIN = 15.0
_SELF = str(Path(__file__).resolve())


class ProcessObserver:
    """The other process: ``arm`` and ``honoured`` go over its stdin / stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self._proc = proc
        self._name = name
        self.received = 0  # flag-change broadcasts its listener has heard

    async def _expect(self, word: str) -> list[str]:
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), _FLIP_WITHIN + 5)
        parts = line.decode().split()
        if not parts or parts[0] != word:
            raise RuntimeError(f"observer {self._name}: expected {word!r}, got {line!r}")
        return parts[1:]

    async def ready(self) -> None:
        await self._expect("ready")

    async def arm(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(b"arm\n")
        await self._proc.stdin.drain()
        await self._expect("armed")

    async def honoured(self) -> None:
        (received,) = await self._expect("honoured")
        self.received = int(received)


@contextlib.asynccontextmanager
async def _observer(
    env: dict[str, str], *, prefix: str, refresh: str, name: str
) -> AsyncIterator[ProcessObserver]:
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-observer-") as cache:
        child_env = {
            **env,
            "SWITCHYARD_REDIS_PREFIX": prefix,
            "SWITCHYARD_FLAG_REFRESH_SECONDS": refresh,
            "SWITCHYARD_FLAG_CACHE_DIR": cache,
            "SWITCHYARD_INSTANCE": f"bench-{name}",
        }
        argv = [PYTHON, _SELF, "--observe"]
        async with child(argv, env=child_env, name=f"propagation-{name}", pipes=True) as proc:
            observer = ProcessObserver(proc, name)
            await observer.ready()
            yield observer


async def _observe() -> None:
    """The observer process: route ISSUE until told to stop (stdin closes)."""
    settings = Settings.from_env(os.environ)
    async with open_runtime(settings, role="observer") as runtime:
        local = RuntimeObserver(runtime, ISSUE, within=_FLIP_WITHIN)
        print("ready", flush=True)
        while (await asyncio.to_thread(sys.stdin.readline)).strip() == "arm":
            await local.arm()
            print("armed", flush=True)
            await local.honoured()
            print(f"honoured {runtime.listener.received}", flush=True)


class _AddonCalls:
    """Counts the broadcasts ``POST /unleash/events`` sends on ``prefix``'s flag channel."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._channel = flag_channel(prefix)
        self.count = 0
        self.unsettled = 0
        self._called = asyncio.Event()

    async def listen(self, subscribed: asyncio.Event) -> None:
        async with self._redis.pubsub() as pubsub:
            await pubsub.subscribe(self._channel)
            subscribed.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                with contextlib.suppress(ValueError, TypeError):
                    if json.loads(message["data"]).get("source") == "unleash-addon":
                        self.count += 1
                        self._called.set()

    async def next_call(self, within: float = 5.0) -> bool:
        """Until the addon calls again (a change was just made); False after ``within`` s."""
        self._called.clear()
        try:
            await asyncio.wait_for(self._called.wait(), within)
        except TimeoutError:
            return False
        return True

    async def settle(self) -> None:
        """After a reset: until the addon reported it (5 s at most), then a random pause."""
        if not await self.next_call():
            self.unsettled += 1
        await _dephase()


async def _dephase() -> None:
    """0.2 s plus a random part of a second. Unleash's addon loop and the poller tick once a
    second; a fixed pause between flips would lock every flip to the same phase of them."""
    await asyncio.sleep(0.2 + random.random())


def _summary(path: str, times: list[float], **extra: Any) -> dict[str, Any]:
    summary = {
        "p50_s": percentile(times, 50),
        "p95_s": percentile(times, 95),
        "max_s": max(times),
        "samples_s": [round(t, 4) for t in times],
        **extra,
    }
    print(
        f"propagation via {path:10}: p50 {summary['p50_s'] * 1000:6.0f} ms  "
        f"p95 {summary['p95_s'] * 1000:6.0f} ms  max {summary['max_s'] * 1000:6.0f} ms  "
        f"(n={len(times)})",
        flush=True,
    )
    return summary


async def _switchyard(
    env: dict[str, str], settings: Settings, admin: UnleashAdmin, flips: int
) -> dict[str, Any]:
    prefix = unique_prefix("propagation-switchyard")
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    control = MigrationControl(admin=admin, redis=redis, prefix=prefix)
    try:
        async with _observer(
            env, prefix=prefix, refresh=PUSH_REFRESH_SECONDS, name="switchyard"
        ) as observer:
            times = await time_flips(
                observer,
                admin,
                lambda: control.rollback(actor=BENCH, reason="bench: propagation"),
                flips=flips,
            )
            if observer.received < flips:
                raise RuntimeError(f"switchyard path: {observer.received} broadcasts heard")
        return _summary("switchyard", times, broadcasts_heard=observer.received)
    finally:
        await redis.aclose()
        await delete_prefix(settings.redis_url, prefix)


async def _addon(
    env: dict[str, str], settings: Settings, admin: UnleashAdmin, flips: int
) -> dict[str, Any]:
    prefix = unique_prefix("propagation-addon")
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    calls = _AddonCalls(redis, prefix)
    subscribed = asyncio.Event()
    listening = asyncio.create_task(calls.listen(subscribed))
    service_env = {**env, "SWITCHYARD_REDIS_PREFIX": prefix, "SWITCHYARD_INSTANCE": "bench-addon"}
    try:
        await _port_free(settings)
        await asyncio.wait_for(subscribed.wait(), 10)
        async with serve(service_env, name="propagation-service"):
            waited = await wait_for_the_addon(admin, lambda: calls.count > 0, within=90)
            print(f"propagation: the addon fired after {waited:.0f} s of flips", flush=True)
            await admin.set_enabled(KILL_SWITCH_FLAG, True)  # so the first reset is a change too
            await calls.next_call()
            async with _observer(
                env, prefix=prefix, refresh=PUSH_REFRESH_SECONDS, name="addon"
            ) as observer:
                times = await time_flips(
                    observer,
                    admin,
                    lambda: admin.set_enabled(KILL_SWITCH_FLAG, True),
                    flips=flips,
                    settle=calls.settle,
                )
                if observer.received < flips:
                    raise RuntimeError(f"addon path: {observer.received} broadcasts heard")
        return _summary(
            "addon",
            times,
            broadcasts_heard=observer.received,
            addon_first_call_after_s=round(waited, 1),
            resets_not_reported_by_the_addon=calls.unsettled,
        )
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await redis.aclose()
        await delete_prefix(settings.redis_url, prefix)


async def _port_free(settings: Settings) -> None:
    """The addon calls SWITCHYARD_URL: a service already there (``make demo``) would take the
    calls on its own Redis prefix and this run would wait for nothing."""
    async with httpx.AsyncClient(timeout=1) as http:
        try:
            await http.get(f"{settings.service_url}/healthz")
        except httpx.TransportError:
            return
    raise RuntimeError(
        f"something already serves {settings.service_url} (a `switchyard serve` or `make demo`?);"
        " the addon path needs that address: stop it and run again"
    )


async def _polling(env: dict[str, str], admin: UnleashAdmin, flips: int) -> dict[str, Any]:
    prefix = unique_prefix("propagation-polling")  # nobody publishes here
    async with _observer(env, prefix=prefix, refresh="1", name="polling") as observer:
        times = await time_flips(
            observer,
            admin,
            lambda: admin.set_enabled(KILL_SWITCH_FLAG, True),
            flips=flips,
            settle=_dephase,
        )
        if observer.received != 0:
            raise RuntimeError(f"polling path: {observer.received} broadcasts heard")
    return _summary("polling", times, interval_s=1.0)


async def measure(env: dict[str, str], flips: int) -> dict[str, Any]:
    settings = settings_for(env)
    async with httpx.AsyncClient(timeout=10) as http:
        admin = unleash_admin(settings, http)
        secret = settings.require_unleash_events_secret()
        await provision(admin, service_url=settings.service_url, events_secret=secret, reset=True)
        try:
            paths = {
                "switchyard": await _switchyard(env, settings, admin, flips),
                "addon": await _addon(env, settings, admin, flips),
                "polling": await _polling(env, admin, flips),
            }
        finally:
            await provision(
                admin, service_url=settings.service_url, events_secret=secret, reset=True
            )
    return {
        "propagation_p95_s_switchyard": paths["switchyard"]["p95_s"],
        "propagation_p95_s_addon": paths["addon"]["p95_s"],
        "propagation_p95_s_polling": paths["polling"]["p95_s"],
        "propagation_p50_s_switchyard": paths["switchyard"]["p50_s"],
        "propagation_p50_s_addon": paths["addon"]["p50_s"],
        "propagation_p50_s_polling": paths["polling"]["p50_s"],
        "propagation_flips": flips,
        "propagation_paths": paths,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_FLIPS} flips per path")
    parser.add_argument("--flips", type=int, help=f"flips per path (default {FLIPS})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--observe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.observe:
        run(_observe())
        return 0
    flips = args.flips or (QUICK_FLIPS if args.quick else FLIPS)
    figures = run(measure(stack_env(), flips))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
