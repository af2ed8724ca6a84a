"""The pure fold (``service.watchdog.fold``): each row counted once, in the right tally.

Expected values are literal, written from the module docstring (per system: success of acting
completions, build and PR tallies of quality rows, durations, count above the ceiling, the
histogram; the drift CUSUM fed by python's acting completions; both cursors and the row count).
"""

from __future__ import annotations

import json

import pytest

from flags.model import Issue, System
from service.outcomes.buckets import bin_of
from service.outcomes.records import BUILD_KIND, PR_CLOSED, CompletionRecord, QualityRecord
from service.outcomes.stats import Rate
from service.watchdog.fold import Fold, SystemFold, fold_key, fold_rows
from service.watchdog.verdict import Drift, Policy

ISSUE = Issue("o/r", 1)
POLICY = Policy(min_samples=2, duration_ceiling_seconds=10.0)


def done(
    system: System, *, success: bool = True, seconds: float = 5.0, dry_run: bool = False
) -> CompletionRecord:
    return CompletionRecord("j", "d", system, ISSUE, success, seconds, dry_run, None, "x", 0.0)


def quality(system: System, kind: str, *, success: bool = True) -> QualityRecord:
    return QualityRecord(kind, system, ISSUE, success, "d", 0.0)


def empty() -> Fold:
    return Fold(epoch=100.0, cursor="", quality_cursor="")


def test_fold_key_is_the_watchdog_fold_key() -> None:
    assert fold_key("p") == "p:watchdog:fold"


def test_acting_completions_count_per_system_and_shadow_runs_only_move_the_cursor() -> None:
    rows = [
        ("1-0", done(System.PYTHON, success=True, seconds=2.0)),
        ("2-0", done(System.PYTHON, success=False, seconds=20.0)),
        ("3-0", done(System.TYPESCRIPT, success=True, seconds=4.0)),
        ("4-0", done(System.PYTHON, success=True, dry_run=True)),
        ("5-0", None),
    ]
    fold = fold_rows(empty(), rows, [], POLICY)
    assert fold.cursor == "5-0"
    assert fold.quality_cursor == ""
    assert fold.rows == 5
    assert fold.epoch == 100.0
    assert fold.python == SystemFold(
        success=Rate(1, 2),
        durations=2,
        above_ceiling=1,
        histogram={8: 1, 35: 1},  # 2 s = 2^(8/8); 20 s in (2^(34/8), 2^(35/8)]
    )
    assert fold.typescript == SystemFold(success=Rate(1, 1), durations=1, histogram={16: 1})


def test_a_duration_at_the_ceiling_is_not_above_it_and_a_negative_one_counts_as_zero() -> None:
    rows = [("1-0", done(System.PYTHON, seconds=10.0)), ("2-0", done(System.PYTHON, seconds=-3.0))]
    fold = fold_rows(empty(), rows, [], POLICY)
    assert fold.python.above_ceiling == 0
    assert fold.python.histogram == {bin_of(10.0): 1, -32: 1}


def test_quality_rows_count_builds_and_prs_of_their_system_and_nothing_else() -> None:
    rows = [
        ("1-0", quality(System.PYTHON, BUILD_KIND, success=True)),
        ("2-0", quality(System.PYTHON, BUILD_KIND, success=False)),
        ("3-0", quality(System.TYPESCRIPT, PR_CLOSED, success=True)),
        ("4-0", quality(System.PYTHON, "ci:status", success=True)),
        ("5-0", None),
    ]
    fold = fold_rows(empty(), [], rows, POLICY)
    assert fold.quality_cursor == "5-0"
    assert fold.cursor == ""
    assert fold.rows == 5
    assert fold.python == SystemFold(build=Rate(1, 2))
    assert fold.typescript == SystemFold(pr=Rate(1, 1))


def test_an_unreadable_row_is_skipped_and_the_rows_after_it_still_count() -> None:
    completions = [("1-0", None), ("2-0", done(System.PYTHON))]
    found = [("1-0", None), ("2-0", quality(System.PYTHON, PR_CLOSED))]
    fold = fold_rows(empty(), completions, found, POLICY)
    assert fold.python.success == Rate(1, 1)
    assert fold.python.pr == Rate(1, 1)
    assert fold.rows == 4


def test_folding_in_two_steps_equals_folding_at_once() -> None:
    first = [("1-0", done(System.TYPESCRIPT)), ("2-0", done(System.PYTHON, seconds=3.0))]
    second = [("3-0", done(System.PYTHON, success=False, seconds=3.0))]
    once = fold_rows(empty(), first + second, [("9-0", quality(System.PYTHON, PR_CLOSED))], POLICY)
    twice = fold_rows(fold_rows(empty(), first, [], POLICY), second, [], POLICY)
    twice = fold_rows(twice, [], [("9-0", quality(System.PYTHON, PR_CLOSED))], POLICY)
    assert once == twice
    assert once.python.histogram == {bin_of(3.0): 2}
    assert once.rows == 4


def test_python_completions_feed_the_drift_against_typescripts_tally_so_far() -> None:
    typescript = [(f"{i}-0", done(System.TYPESCRIPT)) for i in range(1, 5)]
    fold = fold_rows(
        empty(), [*typescript, ("5-0", done(System.PYTHON, success=False))], [], POLICY
    )
    assert fold.drift.observations == 1
    assert fold.drift.statistic > 0  # a failure against a typescript at 4/4
    assert fold.drift.segment == Rate(0, 1)
    # typescript's completions do not advance the CUSUM
    only_typescript = fold_rows(empty(), typescript, [], POLICY)
    assert only_typescript.drift == Drift()


def test_the_drift_reads_typescripts_tally_at_each_python_row_not_at_the_end() -> None:
    # python first: typescript has 0 < min_samples completions, so the statistic stays 0
    rows = [("1-0", done(System.PYTHON, success=False))]
    rows += [(f"{i}-0", done(System.TYPESCRIPT)) for i in range(2, 6)]
    fold = fold_rows(empty(), rows, [], POLICY)
    assert fold.drift == Drift(0.0, 1, Rate(), None)


def test_evidence_carries_the_tallies_the_median_and_python_health() -> None:
    rows = [(f"{i}-0", done(System.PYTHON, seconds=2.0)) for i in range(1, 4)]
    rows.append(("4-0", done(System.TYPESCRIPT, seconds=60.0)))
    found = [
        ("1-0", quality(System.TYPESCRIPT, BUILD_KIND)),
        ("2-0", quality(System.PYTHON, PR_CLOSED)),
    ]
    fold = fold_rows(empty(), rows, found, POLICY)
    evidence = fold.evidence(python_health_failures=2)
    assert evidence.python.success == Rate(3, 3)
    assert evidence.python.health_failures == 2
    assert evidence.python.durations.n == 3
    assert evidence.python.durations.p50_seconds == pytest.approx(2.0 ** (7.5 / 8))
    assert evidence.python.durations.above_ceiling == 0
    assert evidence.typescript.health_failures == 0
    assert evidence.typescript.build == Rate(1, 1)
    assert evidence.typescript.pr == Rate()
    assert evidence.python.pr == Rate(1, 1)
    assert evidence.typescript.durations.above_ceiling == 1
    assert evidence.typescript.durations.p50_seconds is not None
    assert evidence.drift is fold.drift


def test_system_picks_its_own_tally() -> None:
    fold = fold_rows(empty(), [("1-0", done(System.TYPESCRIPT))], [], POLICY)
    assert fold.system(System.TYPESCRIPT).success == Rate(1, 1)
    assert fold.system(System.PYTHON).success == Rate()


def test_the_stored_form_round_trips_and_is_the_documented_json() -> None:
    fold = Fold(
        epoch=100.5,
        cursor="7-1",
        quality_cursor="3-0",
        python=SystemFold(Rate(2, 3), Rate(1, 1), Rate(0, 2), 3, 1, {8: 2, 40: 1}),
        typescript=SystemFold(Rate(5, 5)),
        drift=Drift(1.25, 3, Rate(0, 2), 0.75),
        rows=9,
        rebuilt_at=50.0,
    )
    state = fold.to_json()
    assert json.loads(state) == {
        "python": {
            "success": [2, 3],
            "build": [1, 1],
            "pr": [0, 2],
            "durations": 3,
            "above_ceiling": 1,
            "histogram": {"8": 2, "40": 1},
        },
        "typescript": {
            "success": [5, 5],
            "build": [0, 0],
            "pr": [0, 0],
            "durations": 0,
            "above_ceiling": 0,
            "histogram": {},
        },
        "drift": [1.25, 3, [0, 2], 0.75],
        "rows": 9,
        "rebuilt_at": 50.0,
    }
    fields = {"epoch": "100.5", "cursor": "7-1", "quality_cursor": "3-0", "state": state}
    assert Fold.from_fields(fields) == fold
    never_rebuilt = json.dumps({**json.loads(state), "rebuilt_at": None})
    assert Fold.from_fields({**fields, "state": never_rebuilt}).rebuilt_at is None
    assert Fold.from_fields({**fields, "state": never_rebuilt}).epoch == 100.5
