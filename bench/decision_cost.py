"""Routing decision cost: Switchyard's decision against a raw ``UnleashClient.is_enabled``.

Flags are set to ``gradual`` with ``python-agent-rollout`` at 50 % (stickiness
``issueNumber``) for the run and reset to the provisioned defaults afterwards. Every call
evaluates a different issue (numbers cycle over :data:`ISSUES`), warm, timeit-style:
``--number`` calls per timing, ``--repeat`` rounds with the candidates interleaved, and the
best round per candidate (the one least disturbed by the other tenants of the machine; the
median round is printed too).

Candidates (per call, microseconds):

* ``raw``: ``UnleashClient.is_enabled("python-agent-rollout", context)`` on a plain
  UnleashClient 6.9.1 that fetched the same flags itself; the context dict (userId and
  properties issueNumber and repository) is built in the call. The baseline of the target.
* ``provider_rollout``: the same one flag through Switchyard's provider alone
  (``UnleashFlagProvider.resolve_boolean_details``): what the provider adds to the engine.
* ``openfeature_rollout``: the same one flag through the OpenFeature client and the provider
  (``get_boolean_details``, evaluation context built in the call): what the worker pays per flag.
* ``decision``: the whole flag decision the worker makes for an issue without an owner:
  ``FlagSource.snapshot`` (three flags through OpenFeature: kill switch, mode variant,
  rollout) and the pure ``flags.routing.route``. **decision_cost_ratio = decision / raw.**
* ``raw_decision``: the same decision from raw UnleashClient calls (two ``is_enabled``, one
  ``get_variant``, the same ``route``): what the decision would cost without OpenFeature.
* ``routed`` (async, with I/O): ``IssueRouter.explain``, i.e. the decision plus the Redis
  lookup of the issue's owner, one round trip to the local Redis per call.

Run alone: ``python bench/decision_cost.py [--quick] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from openfeature import api
from UnleashClient.clients.unleash_client import UnleashClient

from bench.common import (
    delete_prefix,
    run,
    settings_for,
    stack_env,
    unique_prefix,
)
from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Issue, Mode
from flags.provision import mode_strategy, provision, rollout_strategy
from flags.routing import Decision, route
from flags.source import FlagSnapshot, Freshness, issue_context
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter
from service.runtime import open_runtime, unleash_admin
from service.settings import Settings

__all__ = ["Options", "main", "measure"]

REPOSITORY = "acme/bench"
ISSUES = 1000
PERCENTAGE = 50
TARGET_RATIO = 1.5


@dataclasses.dataclass(frozen=True)
class Options:
    number: int = 2000
    repeat: int = 7
    routed_calls: int = 2000

    @classmethod
    def quick(cls) -> Options:
        return cls(number=1000, repeat=5, routed_calls=500)


def _raw_context(number: int) -> dict[str, Any]:
    text = str(number)
    return {"userId": text, "properties": {"issueNumber": text, "repository": REPOSITORY}}


def _raw_decision(raw: UnleashClient, number: int) -> Decision:
    context = _raw_context(number)
    variant = raw.get_variant(MODE_FLAG, context)
    name = variant.get("name") if variant.get("enabled") else None
    snapshot = FlagSnapshot(
        kill_switch=bool(raw.is_enabled(KILL_SWITCH_FLAG, context)),
        mode=Mode(name) if name in set(Mode.variants()) else None,
        python_rollout=bool(raw.is_enabled(ROLLOUT_FLAG, context)),
        freshness=Freshness.LIVE,
    )
    return route(snapshot, None)


def _per_call(call: Callable[[int], object], number: int) -> float:
    """Seconds per call over ``number`` calls, issue numbers cycling over 1..ISSUES."""
    start = time.perf_counter()
    for index in range(number):
        call(index % ISSUES + 1)
    return (time.perf_counter() - start) / number


def _timeit(
    candidates: dict[str, Callable[[int], object]], options: Options
) -> dict[str, dict[str, float]]:
    for call in candidates.values():  # warm
        _per_call(call, min(options.number, ISSUES))
    rounds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(options.repeat):
        for name, call in candidates.items():
            rounds[name].append(_per_call(call, options.number))
    return {
        name: {"best_us": min(times) * 1e6, "median_us": statistics.median(times) * 1e6}
        for name, times in rounds.items()
    }


async def _gradual(admin: UnleashAdmin) -> None:
    """Mode ``gradual``, rollout at PERCENTAGE %, kill switch off."""
    await admin.set_enabled(KILL_SWITCH_FLAG, False)
    mode = (await admin.strategies(MODE_FLAG))[0]
    await admin.update_strategy(MODE_FLAG, mode["id"], mode_strategy(Mode.GRADUAL))
    rollout = (await admin.strategies(ROLLOUT_FLAG))[0]
    await admin.update_strategy(ROLLOUT_FLAG, rollout["id"], rollout_strategy(PERCENTAGE))


def _raw_client(settings: Settings) -> UnleashClient:
    client = UnleashClient(
        url=settings.unleash_url + "/api",
        app_name="switchyard-bench-raw",
        environment=settings.unleash_environment,
        custom_headers={"Authorization": settings.unleash_client_token.reveal()},
        refresh_interval=3600,
        disable_metrics=True,
        disable_registration=True,
    )
    client.initialize_client()  # fetches the flags now
    return client


async def measure(env: dict[str, str], options: Options) -> dict[str, Any]:
    prefix = unique_prefix("decision")
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-flags-") as cache:
        settings = settings_for(
            env, SWITCHYARD_REDIS_PREFIX=prefix, SWITCHYARD_FLAG_CACHE_DIR=cache
        )
        async with httpx.AsyncClient(timeout=10) as http:
            admin = unleash_admin(settings, http)
            try:
                await _gradual(admin)
                return await _measure(settings, options)
            finally:
                await provision(
                    admin,
                    service_url=settings.service_url,
                    events_secret=settings.require_unleash_events_secret(),
                    reset=True,
                )
                await delete_prefix(settings.redis_url, prefix)


async def _measure(settings: Settings, options: Options) -> dict[str, Any]:
    raw = await asyncio.to_thread(_raw_client, settings)
    try:
        async with open_runtime(settings, role="bench") as runtime:
            await runtime.provider.refresh()
            flags = runtime.flags
            client = api.get_client(flags.domain)
            _agree(raw, flags.snapshot)
            candidates: dict[str, Callable[[int], object]] = {
                "raw": lambda n: raw.is_enabled(ROLLOUT_FLAG, _raw_context(n)),
                "provider_rollout": lambda n: runtime.provider.resolve_boolean_details(
                    ROLLOUT_FLAG, False, issue_context(REPOSITORY, n)
                ),
                "openfeature_rollout": lambda n: client.get_boolean_details(
                    ROLLOUT_FLAG, False, issue_context(REPOSITORY, n)
                ),
                "decision": lambda n: route(
                    flags.snapshot(repository=REPOSITORY, issue_number=n), None
                ),
                "raw_decision": lambda n: _raw_decision(raw, n),
            }
            timings = _timeit(candidates, options)
            router = IssueRouter(
                flags=flags, owners=OwnershipStore(runtime.redis, prefix=runtime.prefix)
            )
            timings["routed"] = await _time_routed(router, options.routed_calls)
    finally:
        raw.destroy()
    best = {name: timing["best_us"] for name, timing in timings.items()}
    for name, timing in timings.items():
        print(
            f"decision {name:20}: {timing['best_us']:8.2f} us/call (median round "
            f"{timing['median_us']:.2f})",
            flush=True,
        )
    ratio = best["decision"] / best["raw"]
    print(
        f"decision: decision/raw = {ratio:.2f} (target <= {TARGET_RATIO}); "
        f"decision/raw_decision = {best['decision'] / best['raw_decision']:.2f}; "
        f"openfeature_rollout/raw = {best['openfeature_rollout'] / best['raw']:.2f}",
        flush=True,
    )
    return {
        "decision_cost_ratio": ratio,
        "decision_us": best["decision"],
        "decision_raw_is_enabled_us": best["raw"],
        "decision_raw_decision_us": best["raw_decision"],
        "decision_ratio_to_raw_decision": best["decision"] / best["raw_decision"],
        "decision_openfeature_one_flag_us": best["openfeature_rollout"],
        "decision_openfeature_one_flag_ratio": best["openfeature_rollout"] / best["raw"],
        "decision_provider_one_flag_us": best["provider_rollout"],
        "decision_routed_with_redis_us": best["routed"],
        "decision_timings": timings,
        "decision_options": dataclasses.asdict(options),
    }


def _agree(raw: UnleashClient, snapshot: Callable[..., FlagSnapshot]) -> None:
    """Both paths see gradual mode and bucket every issue the same way (else the comparison
    would time different work)."""
    enabled = 0
    for number in range(1, ISSUES + 1):
        ours = snapshot(repository=REPOSITORY, issue_number=number)
        if ours.mode is not Mode.GRADUAL or ours.kill_switch is not False:
            raise RuntimeError(f"flags are not in gradual mode for the benchmark: {ours}")
        theirs = bool(raw.is_enabled(ROLLOUT_FLAG, _raw_context(number)))
        if ours.python_rollout is not theirs:
            raise RuntimeError(
                f"issue {number}: OpenFeature says {ours.python_rollout}, raw {theirs}"
            )
        enabled += theirs
    if not 0 < enabled < ISSUES:
        raise RuntimeError(f"rollout enabled {enabled} of {ISSUES} issues; expected about half")


async def _time_routed(router: IssueRouter, calls: int) -> dict[str, float]:
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for index in range(calls):
            await router.explain(Issue(REPOSITORY, index % ISSUES + 1))
        rounds.append((time.perf_counter() - start) / calls)
    return {"best_us": min(rounds) * 1e6, "median_us": statistics.median(rounds) * 1e6}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls (noisier)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(measure(stack_env(), Options.quick() if args.quick else Options()))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
