"""Flags for one issue, read through the OpenFeature SDK.

:class:`FlagSource` registers an :class:`~flags.provider.UnleashFlagProvider` with OpenFeature
under its own domain and turns the three flags into a :class:`FlagSnapshot` for an issue: the
evaluation context carries the issue number (targeting key and ``issueNumber``) and the
repository, so rules in the Unleash UI can use either.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ProviderNotReadyError
from openfeature.flag_evaluation import Reason
from openfeature.provider.no_op_provider import NoOpProvider

from flags.model import (
    CONTEXT_ISSUE_NUMBER,
    CONTEXT_REPOSITORY,
    KILL_SWITCH_FLAG,
    MODE_FLAG,
    ROLLOUT_FLAG,
    Mode,
)
from flags.provider import UnleashFlagProvider

__all__ = ["FlagSnapshot", "FlagSource", "Freshness", "issue_context"]

_domains = itertools.count(1)


class Freshness(StrEnum):
    LIVE = "live"  # fetched from Unleash within the staleness bound
    CACHED = "cached"  # Unleash unreachable: the last known flags
    MISSING = "missing"  # no flags at all


@dataclass(frozen=True, slots=True)
class FlagSnapshot:
    """The three flags as evaluated for one issue. ``None`` means "could not be read".

    ``override``: the break-glass brake is set in Redis (a rollback made while Unleash was
    unreachable); it counts as the kill switch, whatever the flags say. ``invalid``: flags were
    read but Switchyard cannot interpret them (:mod:`flags.validation`); the migration holds."""

    kill_switch: bool | None
    mode: Mode | None
    python_rollout: bool | None
    freshness: Freshness
    problem: str | None = None
    override: bool = False
    invalid: str | None = None


def issue_context(repository: str, issue_number: int) -> EvaluationContext:
    return EvaluationContext(
        targeting_key=str(issue_number),
        attributes={CONTEXT_ISSUE_NUMBER: str(issue_number), CONTEXT_REPOSITORY: repository},
    )


class FlagSource:
    """Reads the migration flags for an issue through one OpenFeature client."""

    def __init__(self, provider: UnleashFlagProvider) -> None:
        self.provider = provider
        self.domain = f"switchyard-{next(_domains)}"
        try:
            api.set_provider_and_wait(provider, self.domain)
        except ProviderNotReadyError:
            pass  # no flags yet: OpenFeature marks the provider ERROR until its first fetch

        self._client: OpenFeatureClient = api.get_client(self.domain)

    def snapshot(self, *, repository: str, issue_number: int) -> FlagSnapshot:
        context = issue_context(repository, issue_number)
        kill = self._client.get_boolean_details(KILL_SWITCH_FLAG, False, context)
        mode = self._client.get_string_details(MODE_FLAG, "", context)
        rollout = self._client.get_boolean_details(ROLLOUT_FLAG, False, context)
        problems = [
            f"{detail.flag_key}: {detail.error_code}: {detail.error_message}"
            for detail in (kill, mode, rollout)
            if detail.reason == Reason.ERROR
        ]
        freshness = {
            "ready": Freshness.LIVE,
            "stale": Freshness.CACHED,
        }.get(self.provider.freshness(), Freshness.MISSING)
        parsed_mode = Mode(mode.value) if mode.value in set(Mode.variants()) else None
        invalid = [problem.describe() for problem in self.provider.problems()]
        if mode.reason != Reason.ERROR and parsed_mode is None and not invalid:
            invalid.append(f"{MODE_FLAG}: unknown mode variant ({mode.value!r})")
        problems += invalid
        return FlagSnapshot(
            kill_switch=None if kill.reason == Reason.ERROR else kill.value,
            mode=parsed_mode,
            python_rollout=None if rollout.reason == Reason.ERROR else rollout.value,
            freshness=freshness,
            problem="; ".join(problems) or None,
            invalid="; ".join(invalid) or None,
        )

    def close(self) -> None:
        """Detach this source's domain from the provider (the provider is closed by its owner)."""
        api.set_provider(NoOpProvider(), self.domain)
