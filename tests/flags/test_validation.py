"""The flag configuration check: each kind of misconfiguration named with its flag and value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode
from flags.provision import mode_strategy, rollout_strategy
from flags.validation import FlagProblem, flag_problems

GOOD: dict[str, Any] = {
    "features": [
        {"name": KILL_SWITCH_FLAG, "enabled": False, "strategies": [{"name": "default"}]},
        {"name": MODE_FLAG, "enabled": True, "strategies": [mode_strategy(Mode.GRADUAL)]},
        {"name": ROLLOUT_FLAG, "enabled": True, "strategies": [rollout_strategy(25)]},
    ]
}


def _with(flag: str, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(GOOD)
    feature = next(f for f in payload["features"] if f["name"] == flag)
    feature.update(changes)
    return payload


def test_the_provisioned_flags_have_no_problem() -> None:
    assert flag_problems(GOOD) == []
    assert flag_problems(None) == []  # nothing read at all is "unreadable", not misconfigured


def test_a_misspelt_mode_is_named_with_its_value() -> None:
    strategy = mode_strategy(Mode.PYTHON_ONLY)
    strategy["variants"][0]["name"] = "pyhton_only"
    [problem] = flag_problems(_with(MODE_FLAG, strategies=[strategy]))
    assert problem == FlagProblem(MODE_FLAG, "'pyhton_only'", "unknown mode variant")
    assert problem.describe() == "migration-mode: unknown mode variant ('pyhton_only')"


@pytest.mark.parametrize(
    ("parameters", "value"),
    [({}, "no percentage"), ({"rollout": "lots"}, "'lots'"), ({"rollout": "²"}, "'²'")],
)
def test_a_rollout_without_a_percentage_is_named(parameters: dict[str, str], value: str) -> None:
    strategy = {**rollout_strategy(10), "parameters": parameters}
    [problem] = flag_problems(_with(ROLLOUT_FLAG, strategies=[strategy]))
    assert (problem.flag, problem.value) == (ROLLOUT_FLAG, value)
    assert "without a percentage" in problem.problem


def test_a_rollout_with_another_strategy_is_named() -> None:
    [problem] = flag_problems(_with(ROLLOUT_FLAG, strategies=[{"name": "default"}]))
    assert (problem.flag, problem.value) == (ROLLOUT_FLAG, "'default'")


@pytest.mark.parametrize("flag", [KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG])
def test_a_missing_flag_is_named(flag: str) -> None:
    payload = {"features": [f for f in GOOD["features"] if f["name"] != flag]}
    assert flag_problems(payload) == [FlagProblem(flag, "missing", "flag not defined in Unleash")]


def test_a_disabled_or_variantless_mode_is_named() -> None:
    [disabled] = flag_problems(_with(MODE_FLAG, enabled=False))
    [bare] = flag_problems(_with(MODE_FLAG, strategies=[{"name": "default", "variants": []}]))
    assert (disabled.value, bare.value) == ("disabled", "no variant")


def test_values_are_shown_escaped_and_bounded() -> None:
    strategy = mode_strategy(Mode.GRADUAL)
    strategy["variants"][0]["name"] = "x\n" * 100
    [problem] = flag_problems(_with(MODE_FLAG, strategies=[strategy]))
    assert "\n" not in problem.value and len(problem.value) <= 80
