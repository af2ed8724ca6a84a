"""Is the flag configuration one Switchyard can interpret? A pure check of Unleash's payload.

Unleash accepts any variant name and any strategy parameters; Switchyard does not. A flag that
is read but cannot be interpreted holds the migration (:func:`flags.routing.route`): new issues
go to typescript, owned issues stay with their owner, nothing is handed back. This module names
what is wrong, flag by flag, from the client-features payload (``/api/client/features``) the
provider already holds: no I/O.

Problems found:

- a flag missing from the payload (deleted, archived, or never provisioned);
- ``migration-mode`` disabled, or whose strategy carries no variant, or a variant that is not a
  mode (``pyhton_only``);
- ``python-agent-rollout`` without an enabled ``flexibleRollout`` strategy whose ``rollout``
  parameter is a whole number 0..100.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode

__all__ = ["FlagProblem", "flag_problems"]

_VALUE_CHARS = 80


@dataclass(frozen=True, slots=True)
class FlagProblem:
    """One flag Switchyard cannot interpret: the flag, the bad value (as read), what is wrong."""

    flag: str
    value: str
    problem: str

    def describe(self) -> str:
        return f"{self.flag}: {self.problem} ({self.value})"

    def as_dict(self) -> dict[str, str]:
        return {"flag": self.flag, "value": self.value, "problem": self.problem}


def _shown(value: object) -> str:
    """A value as an operator should see it: repr, control characters escaped, bounded."""
    text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _strategies(feature: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    strategies = feature.get("strategies") or []
    return [
        strategy
        for strategy in strategies
        if isinstance(strategy, Mapping) and not strategy.get("disabled", False)
    ]


def _mode_problem(feature: Mapping[str, Any]) -> FlagProblem | None:
    if not feature.get("enabled", False):
        return FlagProblem(MODE_FLAG, "disabled", "flag disabled in this environment")
    modes = {mode.value for mode in Mode.variants()}
    names: list[object] = []
    for strategy in _strategies(feature):
        names += [v.get("name") for v in strategy.get("variants") or [] if isinstance(v, Mapping)]
    names += [v.get("name") for v in feature.get("variants") or [] if isinstance(v, Mapping)]
    if not names:
        return FlagProblem(MODE_FLAG, "no variant", "no mode variant on its strategy")
    unknown = [name for name in names if name not in modes]
    if unknown:
        return FlagProblem(MODE_FLAG, _shown(unknown[0]), "unknown mode variant")
    return None


def _rollout_problem(feature: Mapping[str, Any]) -> FlagProblem | None:
    rollouts = [s for s in _strategies(feature) if s.get("name") == "flexibleRollout"]
    if not rollouts:
        names = [str(s.get("name")) for s in _strategies(feature)] or ["none"]
        return FlagProblem(
            ROLLOUT_FLAG, _shown(", ".join(names)), "no flexibleRollout strategy (percentage)"
        )
    for strategy in rollouts:
        parameters = strategy.get("parameters") or {}
        raw = parameters.get("rollout") if isinstance(parameters, Mapping) else None
        text = str(raw).strip() if raw is not None else ""
        if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 100):
            shown = "no percentage" if raw is None else _shown(raw)
            return FlagProblem(ROLLOUT_FLAG, shown, "rollout strategy without a percentage 0..100")
    return None


def flag_problems(payload: Mapping[str, Any] | None) -> list[FlagProblem]:
    """What Switchyard cannot interpret in a client-features payload; empty when all is well.
    ``None`` (no flags known at all) is not a configuration problem: it is unreadable."""
    if payload is None:
        return []
    features = payload.get("features")
    by_name: dict[str, Mapping[str, Any]] = {}
    for feature in features if isinstance(features, list) else []:
        if isinstance(feature, Mapping) and isinstance(feature.get("name"), str):
            by_name[feature["name"]] = feature
    problems: list[FlagProblem] = []
    for flag in (KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG):
        if flag not in by_name:
            problems.append(FlagProblem(flag, "missing", "flag not defined in Unleash"))
    if MODE_FLAG in by_name and (problem := _mode_problem(by_name[MODE_FLAG])) is not None:
        problems.append(problem)
    if ROLLOUT_FLAG in by_name and (problem := _rollout_problem(by_name[ROLLOUT_FLAG])) is not None:
        problems.append(problem)
    return problems
