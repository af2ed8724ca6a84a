"""Plan validation: the defaults, the JSON round trip, and every refusal naming its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.plan.errors import PlanInvalid
from service.plan.model import FinalMode, Gate, Plan, Step, default_plan, parse_plan


def test_the_default_plan_follows_the_story() -> None:
    plan = default_plan()
    assert [step.percentage for step in plan.steps] == [10, 25, 50, 75, 100]
    assert all(step.min_dwell_seconds == 86_400 for step in plan.steps)
    assert plan.margin == 0.05 and plan.alpha == 0.05
    assert plan.decisions == 4
    assert plan.step_alpha == pytest.approx(0.0125)
    assert parse_plan({}) == plan


def test_python_only_at_the_end_is_one_more_decision() -> None:
    plan = parse_plan({"final_mode": "python_only"})
    assert plan.final_mode is FinalMode.PYTHON_ONLY
    assert plan.decisions == 5
    assert plan.step_alpha == pytest.approx(0.01)


def test_steps_may_be_bare_percentages_or_objects() -> None:
    plan = parse_plan(
        {
            "steps": [
                5,
                {"percentage": 50, "gate": "approval", "min_completions": 0, "min_outcomes": 0},
                {"percentage": 100, "min_dwell_seconds": 0},
            ],
            "margin": 0.1,
            "extension_seconds": 60,
        }
    )
    assert plan.steps == (
        Step(5),
        Step(50, min_completions=0, min_outcomes=0, gate=Gate.APPROVAL),
        Step(100, min_dwell_seconds=0.0),
    )
    assert plan.margin == 0.1 and plan.extension_seconds == 60


def test_round_trip_through_json() -> None:
    plan = parse_plan({"steps": [20, 100], "windows": {"hours": "09:00-17:00"}})
    assert parse_plan(json.loads(json.dumps(plan.as_dict()))) == plan


def test_the_checked_in_plan_file_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "flags" / "plan.json"
    plan = parse_plan(json.loads(path.read_text()))
    assert plan.steps[-1].percentage == 100


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([10, 100], "plan"),
        ({"stepz": []}, "stepz"),
        ({"steps": []}, "steps"),
        ({"steps": "10,100"}, "steps"),
        ({"steps": [50, 25, 100]}, "steps[1].percentage"),
        ({"steps": [50, 50, 100]}, "steps[1].percentage"),
        ({"steps": [50, 101]}, "steps[1].percentage"),
        ({"steps": [0, 100]}, "steps[0].percentage"),
        ({"steps": [10, 90]}, "steps[1].percentage"),
        ({"steps": [10.5, 100]}, "steps[0]"),
        ({"steps": [{"percentage": "10"}, 100]}, "steps[0].percentage"),
        ({"steps": [{"min_completions": 3}, 100]}, "steps[0].percentage"),
        ({"steps": [{"percentage": 10, "min_completions": -1}, 100]}, "steps[0].min_completions"),
        ({"steps": [{"percentage": 10, "min_outcomes": -5}, 100]}, "steps[0].min_outcomes"),
        (
            {"steps": [{"percentage": 10, "min_dwell_seconds": -1}, 100]},
            "steps[0].min_dwell_seconds",
        ),
        (
            {"steps": [{"percentage": 10, "min_dwell_seconds": "1d"}, 100]},
            "steps[0].min_dwell_seconds",
        ),
        ({"steps": [{"percentage": 10, "gate": "vote"}, 100]}, "steps[0].gate"),
        ({"steps": [{"percentage": 10, "owner": "me"}, 100]}, "steps[0].owner"),
        ({"margin": 0}, "margin"),
        ({"margin": 0.5}, "margin"),
        ({"margin": -0.1}, "margin"),
        ({"margin": "5%"}, "margin"),
        ({"margin": True}, "margin"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": 0.7}, "alpha"),
        ({"extension_seconds": -1}, "extension_seconds"),
        ({"extension_seconds": float("inf")}, "extension_seconds"),
        ({"min_rate_samples": 0}, "min_rate_samples"),
        ({"final_mode": "parallel"}, "final_mode"),
        ({"windows": {"hours": "late"}}, "windows.hours"),
    ],
)
def test_a_malformed_plan_is_refused_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(PlanInvalid) as refused:
        parse_plan(raw)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_plan_is_frozen_data() -> None:
    plan: Plan = default_plan()
    with pytest.raises(AttributeError):
        plan.margin = 0.2  # type: ignore[misc]
