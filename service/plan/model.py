"""The rollout plan as data: its steps, its test's margin and error budget, its windows.

A plan is a list of steps (python's rollout percentages, strictly increasing, ending at 100),
each left only when its minimum sample (acting python completions; PR and CI outcomes) and dwell
time are reached, python is shown non-inferior (:mod:`service.outcomes.noninferiority`) and its
gate is open. ``final_mode: python_only`` adds a last move from 100 % in ``gradual`` to
``python_only`` once the 100 % step's sample, dwell and gate are met. :func:`parse_plan` takes the
JSON form (a file beside the flags, the CLI, the dashboard) and refuses anything malformed with
:class:`~service.plan.errors.PlanInvalid` naming the field; it never half-applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.plan.errors import PlanInvalid
from service.plan.windows import Windows, parse_windows

__all__ = ["DEFAULT_PERCENTAGES", "FinalMode", "Gate", "Plan", "Step", "default_plan", "parse_plan"]

DEFAULT_PERCENTAGES = (10, 25, 50, 75, 100)
_DAY = 86_400.0


class Gate(StrEnum):
    NONE = "none"  # the evidence alone decides
    APPROVAL = "approval"  # and a person with the approver role, not the plan's starter


class FinalMode(StrEnum):
    GRADUAL = "gradual"  # the plan ends at 100 % in gradual mode
    PYTHON_ONLY = "python_only"  # then moves to python_only


@dataclass(frozen=True, slots=True)
class Step:
    percentage: int
    min_completions: int = 200  # acting python completions during the step
    min_outcomes: int = 50  # python's PR and CI outcomes during the step
    min_dwell_seconds: float = _DAY
    gate: Gate = Gate.NONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "percentage": self.percentage,
            "min_completions": self.min_completions,
            "min_outcomes": self.min_outcomes,
            "min_dwell_seconds": self.min_dwell_seconds,
            "gate": self.gate.value,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    final_mode: FinalMode = FinalMode.GRADUAL
    margin: float = 0.05  # python may trail typescript by less than this on every rate
    alpha: float = 0.05  # chance of any false advance over the whole plan
    min_rate_samples: int = 30  # a rate is tested once both systems have this many outcomes
    extension_seconds: float = 14 * _DAY  # inconclusive past dwell + this: wait for a person
    windows: Windows = field(default_factory=Windows)

    @property
    def decisions(self) -> int:
        """How many times the plan decides to move on: alpha is split evenly over them."""
        return len(self.steps) - 1 + (self.final_mode is FinalMode.PYTHON_ONLY)

    @property
    def step_alpha(self) -> float:
        return self.alpha / max(1, self.decisions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": [step.as_dict() for step in self.steps],
            "final_mode": self.final_mode.value,
            "margin": self.margin,
            "alpha": self.alpha,
            "min_rate_samples": self.min_rate_samples,
            "extension_seconds": self.extension_seconds,
            "windows": self.windows.as_dict(),
        }


def default_plan() -> Plan:
    """10, 25, 50, 75, 100 %; 200 completions, 50 PR/CI outcomes and a day at each step."""
    return Plan(steps=tuple(Step(p) for p in DEFAULT_PERCENTAGES))


_PLAN_FIELDS = {
    "steps",
    "final_mode",
    "margin",
    "alpha",
    "min_rate_samples",
    "extension_seconds",
    "windows",
}
_STEP_FIELDS = {"percentage", "min_completions", "min_outcomes", "min_dwell_seconds", "gate"}


def parse_plan(raw: Any) -> Plan:
    """Validate the JSON form of a plan; omitted fields take the defaults."""
    if not isinstance(raw, Mapping):
        raise PlanInvalid("plan", "must be a JSON object")
    unknown = sorted(set(raw) - _PLAN_FIELDS)
    if unknown:
        raise PlanInvalid(unknown[0], "unknown field")
    defaults = Plan(steps=())
    steps_raw = raw.get("steps", [{"percentage": p} for p in DEFAULT_PERCENTAGES])
    if not isinstance(steps_raw, list) or not steps_raw:
        raise PlanInvalid("steps", "must be a non-empty list")
    steps = tuple(_step(item, index) for index, item in enumerate(steps_raw))
    for index in range(1, len(steps)):
        if steps[index].percentage <= steps[index - 1].percentage:
            raise PlanInvalid(
                f"steps[{index}].percentage",
                f"must be above the previous step's {steps[index - 1].percentage}",
            )
    if steps[-1].percentage != 100:
        raise PlanInvalid(f"steps[{len(steps) - 1}].percentage", "the last step must be 100")
    final = raw.get("final_mode", FinalMode.GRADUAL.value)
    if final not in {mode.value for mode in FinalMode}:
        raise PlanInvalid("final_mode", f"must be gradual or python_only, got {final!r}")
    margin = _number(raw, "margin", defaults.margin)
    if not 0 < margin < 0.5:
        raise PlanInvalid("margin", f"must be in (0, 0.5), got {margin}")
    alpha = _number(raw, "alpha", defaults.alpha)
    if not 0 < alpha < 0.5:
        raise PlanInvalid("alpha", f"must be in (0, 0.5), got {alpha}")
    min_rate = _whole(raw, "min_rate_samples", defaults.min_rate_samples)
    if min_rate < 1:
        raise PlanInvalid("min_rate_samples", f"must be at least 1, got {min_rate}")
    return Plan(
        steps=steps,
        final_mode=FinalMode(final),
        margin=margin,
        alpha=alpha,
        min_rate_samples=min_rate,
        extension_seconds=_non_negative(raw, "extension_seconds", defaults.extension_seconds),
        windows=parse_windows(raw.get("windows")),
    )


def _step(item: Any, index: int) -> Step:
    where = f"steps[{index}]"
    if isinstance(item, int) and not isinstance(item, bool):
        item = {"percentage": item}
    if not isinstance(item, Mapping):
        raise PlanInvalid(where, "must be an object or a percentage")
    unknown = sorted(set(item) - _STEP_FIELDS)
    if unknown:
        raise PlanInvalid(f"{where}.{unknown[0]}", "unknown field")
    if "percentage" not in item:
        raise PlanInvalid(f"{where}.percentage", "is required")
    percentage = _whole(item, "percentage", 0, where)
    if not 1 <= percentage <= 100:
        raise PlanInvalid(f"{where}.percentage", f"must be in 1..100, got {percentage}")
    gate = item.get("gate", Gate.NONE.value)
    if gate not in {known.value for known in Gate}:
        raise PlanInvalid(f"{where}.gate", f"unknown gate {gate!r} (none, approval)")
    defaults = Step(percentage)
    completions = _whole(item, "min_completions", defaults.min_completions, where)
    outcomes = _whole(item, "min_outcomes", defaults.min_outcomes, where)
    for name, value in (("min_completions", completions), ("min_outcomes", outcomes)):
        if value < 0:
            raise PlanInvalid(f"{where}.{name}", f"must not be negative, got {value}")
    return Step(
        percentage=percentage,
        min_completions=completions,
        min_outcomes=outcomes,
        min_dwell_seconds=_non_negative(
            item, "min_dwell_seconds", defaults.min_dwell_seconds, where
        ),
        gate=Gate(gate),
    )


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _number(raw: Mapping[str, Any], name: str, default: float, where: str = "") -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise PlanInvalid(_path(where, name), f"must be a number, got {value!r}")
    return float(value)


def _whole(raw: Mapping[str, Any], name: str, default: int, where: str = "") -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanInvalid(_path(where, name), f"must be a whole number, got {value!r}")
    return value


def _non_negative(raw: Mapping[str, Any], name: str, default: float, where: str = "") -> float:
    value = _number(raw, name, default, where)
    if value < 0 or value == float("inf"):
        raise PlanInvalid(_path(where, name), f"must be a finite number >= 0, got {value}")
    return value
