"""Routing: the pure decision table, exhaustively, and its properties under real Unleash bucketing.

The exhaustive test checks :func:`flags.routing.route` against an oracle written as a lookup
table. The property tests evaluate the three flags with UnleashClient through our OpenFeature
provider, offline: the client-features payload is written where the provider's flag cache looks
for it, and the provider is never started, so nothing touches the network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import multiprocessing
import os
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode, System
from flags.provider import UnleashFlagProvider
from flags.provision import mode_strategy, rollout_strategy
from flags.routing import Decision, route
from flags.secret import Secret
from flags.source import FlagSnapshot, FlagSource, Freshness

TS, PY = System.TYPESCRIPT, System.PYTHON
REPOSITORY = "acme/app"

# --- the oracle ------------------------------------------------------------------------------


class Expected(NamedTuple):
    acting: System
    shadow: System | None
    mode: Mode
    degraded: bool
    claim: bool
    hand_back: bool


# A new issue (no owner, kill switch off): (mode, python_rollout) -> (acting, shadow, degraded).
NEW_ISSUE: dict[tuple[Mode, bool | None], tuple[System, System | None, bool]] = {
    (Mode.TYPESCRIPT_ONLY, True): (TS, None, False),
    (Mode.TYPESCRIPT_ONLY, False): (TS, None, False),
    (Mode.TYPESCRIPT_ONLY, None): (TS, None, False),
    (Mode.PYTHON_ONLY, True): (PY, None, False),
    (Mode.PYTHON_ONLY, False): (PY, None, False),
    (Mode.PYTHON_ONLY, None): (PY, None, False),
    (Mode.GRADUAL, True): (PY, None, False),
    (Mode.GRADUAL, False): (TS, None, False),
    (Mode.GRADUAL, None): (TS, None, True),
    (Mode.PARALLEL, True): (PY, TS, False),
    (Mode.PARALLEL, False): (TS, PY, False),
    (Mode.PARALLEL, None): (TS, PY, True),
}

# An owned issue (kill switch off): (mode, owner) -> shadow. The owner always acts.
OWNED_SHADOW: dict[tuple[Mode, System], System | None] = {
    (Mode.TYPESCRIPT_ONLY, TS): None,
    (Mode.TYPESCRIPT_ONLY, PY): None,
    (Mode.PYTHON_ONLY, TS): None,
    (Mode.PYTHON_ONLY, PY): None,
    (Mode.GRADUAL, TS): None,
    (Mode.GRADUAL, PY): None,
    (Mode.PARALLEL, TS): PY,
    (Mode.PARALLEL, PY): TS,
}

# Typescript alone, whatever the rest says: owner -> (claim, hand_back).
TYPESCRIPT_ALONE: dict[System | None, tuple[bool, bool]] = {
    None: (True, False),
    TS: (False, False),
    PY: (False, True),
}


def expected(
    mode: Mode | None,
    kill: bool | None,
    owner: System | None,
    rollout: bool | None,
    invalid: bool = False,
) -> Expected:
    if kill is True or mode is Mode.EMERGENCY_ROLLBACK:
        return Expected(TS, None, Mode.EMERGENCY_ROLLBACK, False, *TYPESCRIPT_ALONE[owner])
    if invalid:  # misconfigured: hold, whatever else
        held = mode or Mode.TYPESCRIPT_ONLY
        return Expected(owner or TS, None, held, True, claim=owner is None, hand_back=False)
    if kill is None or mode is None:
        return Expected(TS, None, Mode.TYPESCRIPT_ONLY, True, *TYPESCRIPT_ALONE[owner])
    if owner is None:
        acting, shadow, degraded = NEW_ISSUE[(mode, rollout)]
        return Expected(acting, shadow, mode, degraded, claim=True, hand_back=False)
    return Expected(owner, OWNED_SHADOW[(mode, owner)], mode, False, claim=False, hand_back=False)


# --- exhaustive table ------------------------------------------------------------------------

MODES: tuple[Mode | None, ...] = (*Mode, None)
KILLS: tuple[bool | None, ...] = (True, False, None)
OWNERS: tuple[System | None, ...] = (None, TS, PY)
ROLLOUTS: tuple[bool | None, ...] = (True, False, None)
CASES = list(itertools.product(MODES, KILLS, OWNERS, ROLLOUTS, Freshness, (False, True)))
BAD_MODE = "migration-mode: unknown mode variant ('pyhton_only')"


def _case_id(
    case: tuple[Mode | None, bool | None, System | None, bool | None, Freshness, bool],
) -> str:
    mode, kill, owner, rollout, freshness, invalid = case
    flag = {True: "on", False: "off", None: "unreadable"}
    return (
        f"mode={mode or 'unreadable'}-kill={flag[kill]}-owner={owner or 'none'}"
        f"-rollout={flag[rollout]}-{freshness}{'-misconfigured' if invalid else ''}"
    )


@pytest.mark.parametrize(
    ("mode", "kill", "owner", "rollout", "freshness", "invalid"),
    CASES,
    ids=[_case_id(c) for c in CASES],
)
def test_every_combination_follows_the_documented_table(
    mode: Mode | None,
    kill: bool | None,
    owner: System | None,
    rollout: bool | None,
    freshness: Freshness,
    invalid: bool,
) -> None:
    unreadable = None in (mode, kill, rollout)
    problem = "migration-mode: FLAG_NOT_FOUND: gone" if unreadable else None
    bad = BAD_MODE if invalid else None
    snapshot = FlagSnapshot(kill, mode, rollout, freshness, problem, invalid=bad)

    decision = route(snapshot, owner)

    want = expected(mode, kill, owner, rollout, invalid)
    got = Expected(
        decision.acting,
        decision.shadow,
        decision.mode,
        decision.degraded,
        decision.claim,
        decision.hand_back,
    )
    assert got == want
    assert decision.shadow != decision.acting
    assert ("(cached flags)" in decision.reason) == (freshness is Freshness.CACHED)
    if decision.degraded:
        assert (bad or problem or "?") in decision.reason
    assert json.loads(json.dumps(decision.as_dict())) == {
        "acting": want.acting.value,
        "shadow": None if want.shadow is None else want.shadow.value,
        "mode": want.mode.value,
        "reason": decision.reason,
        "degraded": want.degraded,
        "claim": want.claim,
        "hand_back": want.hand_back,
    }


def test_kill_switch_sends_everything_to_typescript() -> None:
    for mode, owner in itertools.product(Mode.variants(), OWNERS):
        decision = route(FlagSnapshot(True, mode, True, Freshness.LIVE), owner)
        assert (decision.acting, decision.shadow) == (TS, None)
        assert decision.mode is Mode.EMERGENCY_ROLLBACK
        assert decision.hand_back is (owner is PY)
        assert "kill switch" in decision.reason


@pytest.mark.parametrize("kill", KILLS)
@pytest.mark.parametrize("mode", MODES)
def test_the_break_glass_override_acts_as_the_kill_switch_even_without_flags(
    kill: bool | None, mode: Mode | None
) -> None:
    for owner, rollout in itertools.product(OWNERS, ROLLOUTS):
        snapshot = FlagSnapshot(kill, mode, rollout, Freshness.MISSING, "gone", override=True)
        decision = route(snapshot, owner)
        assert (decision.acting, decision.shadow, decision.degraded) == (TS, None, False)
        assert decision.mode is Mode.EMERGENCY_ROLLBACK
        assert (decision.claim, decision.hand_back) == TYPESCRIPT_ALONE[owner]
        assert "break-glass override" in decision.reason


def test_unreadable_flags_fall_back_to_typescript_and_say_why() -> None:
    decision = route(FlagSnapshot(None, None, None, Freshness.MISSING), PY)
    assert decision == Decision(
        acting=TS,
        shadow=None,
        mode=Mode.TYPESCRIPT_ONLY,
        reason="flags unreadable (no detail): typescript acts; python's ownership handed back",
        degraded=True,
        claim=False,
        hand_back=True,
    )


def test_cached_flags_route_normally_and_say_so() -> None:
    decision = route(FlagSnapshot(False, Mode.GRADUAL, True, Freshness.CACHED), None)
    assert (decision.acting, decision.degraded, decision.claim) == (PY, False, True)
    assert decision.reason == "gradual: issue in python's rollout: python acts (cached flags)"


# The reasons word for word, from the README's table of reasons (routing): `switchyard route`
# prints them and the ownership log records them with every claim and hand-back.
LIVE, CACHED, MISSING = Freshness.LIVE, Freshness.CACHED, Freshness.MISSING
REASONS: list[tuple[FlagSnapshot, System | None, str]] = [
    (
        FlagSnapshot(False, Mode.GRADUAL, True, CACHED, override=True),
        None,
        "kill switch on (break-glass override, not yet in Unleash): typescript acts",
    ),
    (
        FlagSnapshot(None, None, None, MISSING, "gone", override=True),
        PY,
        "kill switch on (break-glass override, not yet in Unleash): typescript acts;"
        " python's ownership handed back",
    ),
    (
        FlagSnapshot(True, Mode.PARALLEL, True, LIVE),
        TS,
        "kill switch on: emergency rollback, typescript acts",
    ),
    (
        FlagSnapshot(False, Mode.EMERGENCY_ROLLBACK, None, CACHED),
        PY,
        "kill switch on: emergency rollback, typescript acts; python's ownership handed back"
        " (cached flags)",
    ),
    (
        FlagSnapshot(False, Mode.GRADUAL, True, LIVE, invalid=BAD_MODE),
        PY,
        f"flags misconfigured ({BAD_MODE}): holding, python keeps the issue",
    ),
    (
        FlagSnapshot(False, None, True, CACHED, invalid=BAD_MODE),
        None,
        f"flags misconfigured ({BAD_MODE}): holding, new issue to typescript (cached flags)",
    ),
    (
        FlagSnapshot(None, Mode.GRADUAL, True, MISSING, "migration-kill-switch: gone"),
        None,
        "flags unreadable (migration-kill-switch: gone): typescript acts",
    ),
    (
        FlagSnapshot(False, Mode.GRADUAL, False, LIVE),
        PY,
        "gradual: sticky: python owns the issue and acts",
    ),
    (
        FlagSnapshot(False, Mode.PARALLEL, True, LIVE),
        TS,
        "parallel: sticky: typescript owns the issue and acts, python shadows",
    ),
    (
        FlagSnapshot(False, Mode.TYPESCRIPT_ONLY, True, LIVE),
        None,
        "typescript_only: typescript acts",
    ),
    (
        FlagSnapshot(False, Mode.PYTHON_ONLY, False, CACHED),
        None,
        "python_only: python acts (cached flags)",
    ),
    (
        FlagSnapshot(False, Mode.GRADUAL, None, LIVE),
        None,
        "gradual: rollout flag unreadable (no detail): typescript acts",
    ),
    (
        FlagSnapshot(False, Mode.PARALLEL, None, LIVE, "migration-python-rollout: gone"),
        None,
        "parallel: rollout flag unreadable (migration-python-rollout: gone): typescript acts,"
        " python shadows",
    ),
    (
        FlagSnapshot(False, Mode.GRADUAL, True, LIVE),
        None,
        "gradual: issue in python's rollout: python acts",
    ),
    (
        FlagSnapshot(False, Mode.GRADUAL, False, LIVE),
        None,
        "gradual: issue outside python's rollout: typescript acts",
    ),
    (
        FlagSnapshot(False, Mode.PARALLEL, True, CACHED),
        None,
        "parallel: issue in python's rollout: python acts, typescript shadows (cached flags)",
    ),
    (
        FlagSnapshot(False, Mode.PARALLEL, False, LIVE),
        None,
        "parallel: issue outside python's rollout: typescript acts, python shadows",
    ),
]


@pytest.mark.parametrize(("snapshot", "owner", "reason"), REASONS, ids=[r for *_, r in REASONS])
def test_each_decision_gives_the_documented_reason_word_for_word(
    snapshot: FlagSnapshot, owner: System | None, reason: str
) -> None:
    assert route(snapshot, owner).reason == reason


# --- real Unleash bucketing, offline ---------------------------------------------------------

PERCENTAGES = (0, 1, 10, 25, 50, 75, 99, 100)
SHARE_PERCENTAGES = (10, 25, 50, 75)
ALL_ISSUES = range(1, 10_001)


def _payload(percentage: int, mode: Mode, *, kill: bool = False) -> str:
    """A client-features payload (version 2) with the three flags as provisioning shapes them."""
    features = [
        {
            "name": KILL_SWITCH_FLAG,
            "type": "kill-switch",
            "enabled": kill,
            "strategies": [{"name": "default", "parameters": {}, "constraints": []}],
        },
        {
            "name": MODE_FLAG,
            "type": "operational",
            "enabled": True,
            "strategies": [mode_strategy(mode)],
        },
        {
            "name": ROLLOUT_FLAG,
            "type": "release",
            "enabled": True,
            "strategies": [rollout_strategy(percentage)],
        },
    ]
    return json.dumps({"version": 2, "features": features})


class Replicas:
    """Offline flag sources, built once per (percentage, mode, replica) and closed at the end."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sources: dict[tuple[int, Mode, int], FlagSource] = {}
        self._python: dict[int, frozenset[int]] = {}

    def source(self, percentage: int, mode: Mode, replica: int = 0) -> FlagSource:
        key = (percentage, mode, replica)
        if key not in self._sources:
            directory = self._root / f"{percentage}-{mode}-{replica}"
            self._sources[key] = _offline_source(directory, _payload(percentage, mode))
        return self._sources[key]

    def decide(
        self, percentage: int, mode: Mode, issue: int, owner: System | None, replica: int = 0
    ) -> Decision:
        source = self.source(percentage, mode, replica)
        return route(source.snapshot(repository=REPOSITORY, issue_number=issue), owner)

    def python_issues(self, percentage: int) -> frozenset[int]:
        """The new issues python acts on in gradual mode, over ``ALL_ISSUES``. The first call
        works out every share percentage at once, one child process each: 10,000 decisions
        through the provider per percentage are CPU-bound (about a second per 1,000), so the
        machine's cores share them out instead of one core doing all four in turn."""
        if percentage not in self._python:
            missing = sorted({percentage, *SHARE_PERCENTAGES} - self._python.keys())
            workers = min(len(missing), os.cpu_count() or 1)
            spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
            with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
                found = pool.map(_python_issues_in_a_child, missing)
                self._python.update(zip(missing, found, strict=True))
        return self._python[percentage]

    async def aclose(self) -> None:
        for source in self._sources.values():
            source.close()
            await source.provider.aclose()


def _offline_source(directory: Path, payload: str) -> FlagSource:
    directory.mkdir(parents=True)
    (directory / "features.json").write_text(json.dumps({"features": payload, "etag": ""}))
    provider = UnleashFlagProvider(
        url="http://127.0.0.1:9",
        client_token=Secret("x"),
        app_name="t",
        environment="development",
        cache_dir=directory,
    )
    return FlagSource(provider)


def _python_issues_in_a_child(percentage: int) -> frozenset[int]:
    """:meth:`Replicas.python_issues` for one percentage, decided by this (child) process."""

    async def decide_all() -> frozenset[int]:
        with tempfile.TemporaryDirectory() as root:
            replicas = Replicas(Path(root))
            try:
                return frozenset(
                    n
                    for n in ALL_ISSUES
                    if replicas.decide(percentage, Mode.GRADUAL, n, None).acting is PY
                )
            finally:
                await replicas.aclose()

    return asyncio.run(decide_all())


@pytest.fixture(scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Replicas]:
    built = Replicas(tmp_path_factory.mktemp("routing-flags"))
    yield built
    await built.aclose()


percentages = st.sampled_from(PERCENTAGES)
modes = st.sampled_from(Mode.variants())
issues = st.integers(min_value=1, max_value=1_000_000)
owners = st.sampled_from(OWNERS)


@settings(max_examples=60, deadline=None)
@given(percentage=percentages, mode=modes, issue=issues, owner=owners)
def test_same_issue_gets_the_same_decision_on_every_replica(
    replicas: Replicas, percentage: int, mode: Mode, issue: int, owner: System | None
) -> None:
    first = replicas.decide(percentage, mode, issue, owner, replica=0)
    second = replicas.decide(percentage, mode, issue, owner, replica=1)
    assert first == second


@settings(max_examples=60, deadline=None)
@given(low=percentages, high=percentages, issue=issues)
def test_raising_the_percentage_never_moves_an_issue_back_to_typescript(
    replicas: Replicas, low: int, high: int, issue: int
) -> None:
    low, high = min(low, high), max(low, high)
    if replicas.decide(low, Mode.GRADUAL, issue, None).acting is PY:
        assert replicas.decide(high, Mode.GRADUAL, issue, None).acting is PY


def test_python_sets_grow_with_the_percentage(replicas: Replicas) -> None:
    sets = [replicas.python_issues(p) for p in SHARE_PERCENTAGES]
    for smaller, larger in itertools.pairwise(sets):
        assert smaller <= larger


@pytest.mark.parametrize("percentage", SHARE_PERCENTAGES)
def test_python_share_matches_the_percentage(replicas: Replicas, percentage: int) -> None:
    n, p = len(ALL_ISSUES), percentage / 100
    tolerance = 4 * math.sqrt(p * (1 - p) / n)
    share = len(replicas.python_issues(percentage)) / n
    assert abs(share - p) <= tolerance


@settings(max_examples=60, deadline=None)
@given(percentage=percentages, mode=modes, issue=issues, owner=st.sampled_from((TS, PY)))
def test_an_existing_owner_keeps_acting_whatever_the_flags_say(
    replicas: Replicas, percentage: int, mode: Mode, issue: int, owner: System
) -> None:
    decision = replicas.decide(percentage, mode, issue, owner)
    assert decision.acting is owner
    assert not decision.claim and not decision.hand_back and not decision.degraded


def test_rollout_hashes_issue_numbers_rather_than_taking_them_modulo_100(
    replicas: Replicas,
) -> None:
    first_hundred = {
        n for n in range(1, 101) if replicas.decide(25, Mode.GRADUAL, n, None).acting is PY
    }
    assert first_hundred != set(range(1, 25))
    assert 0 < len(first_hundred) < 100


async def test_kill_switch_in_unleash_hands_python_issues_back(tmp_path: Path) -> None:
    source = _offline_source(tmp_path / "kill", _payload(100, Mode.PYTHON_ONLY, kill=True))
    try:
        for issue in range(1, 21):
            snapshot = source.snapshot(repository=REPOSITORY, issue_number=issue)
            decision = route(snapshot, PY)
            assert (decision.acting, decision.mode, decision.hand_back) == (
                TS,
                Mode.EMERGENCY_ROLLBACK,
                True,
            )
    finally:
        source.close()
        await source.provider.aclose()


async def _decide_offline(
    directory: Path, payload: dict[str, Any], owner: System | None
) -> Decision:
    source = _offline_source(directory, json.dumps(payload))
    try:
        return route(source.snapshot(repository=REPOSITORY, issue_number=7), owner)
    finally:
        source.close()
        await source.provider.aclose()


def _feature(payload: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in payload["features"] if f["name"] == name)
    return found


async def test_missing_rollout_flag_holds_new_issues_with_typescript(tmp_path: Path) -> None:
    payload = json.loads(_payload(50, Mode.PARALLEL))
    payload["features"] = [f for f in payload["features"] if f["name"] != ROLLOUT_FLAG]
    decision = await _decide_offline(tmp_path / "no-rollout", payload, None)
    assert (decision.acting, decision.shadow, decision.degraded) == (TS, None, True)
    assert f"{ROLLOUT_FLAG}: flag not defined in Unleash" in decision.reason


@pytest.mark.parametrize("owner", [PY, TS, None])
async def test_a_misspelt_mode_holds_owners_and_sends_new_issues_to_typescript(
    tmp_path: Path, owner: System | None
) -> None:
    payload = json.loads(_payload(50, Mode.PYTHON_ONLY))
    _feature(payload, MODE_FLAG)["strategies"][0]["variants"][0]["name"] = "pyhton_only"
    decision = await _decide_offline(tmp_path / "typo", payload, owner)
    assert (decision.acting, decision.shadow) == (owner or TS, None)
    assert (decision.degraded, decision.hand_back, decision.claim) == (True, False, owner is None)
    assert "migration-mode: unknown mode variant ('pyhton_only')" in decision.reason


async def test_a_rollout_without_a_percentage_holds_python_issues(tmp_path: Path) -> None:
    payload = json.loads(_payload(50, Mode.GRADUAL))
    del _feature(payload, ROLLOUT_FLAG)["strategies"][0]["parameters"]["rollout"]
    owned = await _decide_offline(tmp_path / "owned", payload, PY)
    fresh = await _decide_offline(tmp_path / "fresh", payload, None)
    assert (owned.acting, owned.hand_back, fresh.acting) == (PY, False, TS)
    assert "rollout strategy without a percentage" in fresh.reason


async def test_the_kill_switch_still_acts_when_the_mode_is_misspelt(tmp_path: Path) -> None:
    payload = json.loads(_payload(50, Mode.PYTHON_ONLY, kill=True))
    _feature(payload, MODE_FLAG)["strategies"][0]["variants"][0]["name"] = "pyhton_only"
    decision = await _decide_offline(tmp_path / "kill", payload, PY)
    assert (decision.acting, decision.mode, decision.hand_back) == (
        TS,
        Mode.EMERGENCY_ROLLBACK,
        True,
    )
