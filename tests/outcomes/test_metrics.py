"""Which CI conclusions count as builds: check suites only, each delivery once."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from flags.model import Issue, System
from service.github.events import CheckCompleted, CheckKind
from service.outcomes.metrics import read_metrics
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.stats import Rate
from service.routing.ownership import OwnershipStore


def _check(kind: CheckKind, delivery_id: str, *, success: bool) -> CheckCompleted:
    return CheckCompleted(
        delivery_id=delivery_id,
        kind=kind,
        repository="acme/app",
        conclusion="success" if success else "failure",
        success=success,
        head_branch="switchyard/issue-7",
        pr_numbers=(),
        linked_issues=(7,),
    )


@pytest.mark.integration
async def test_build_success_counts_check_suites_only(redis_client: Redis, prefix: str) -> None:
    await OwnershipStore(redis_client, prefix=prefix).claim(
        Issue("acme/app", 7), System.PYTHON, reason="test"
    )
    recorder = OutcomeRecorder(redis_client, prefix=prefix)
    await recorder.check_completed(_check("check_suite", "suite-1", success=True))
    await recorder.check_completed(_check("check_suite", "suite-1", success=True))  # redelivered
    await recorder.check_completed(_check("check_suite", "suite-2", success=False))
    others: tuple[CheckKind, ...] = ("check_run", "workflow_run", "check_run")
    for n, kind in enumerate(others):
        await recorder.check_completed(_check(kind, f"other-{n}", success=False))
    metrics = await read_metrics(redis_client, prefix=prefix, window="1h")
    assert metrics[System.PYTHON].build_success == Rate(1, 2)
    assert metrics[System.TYPESCRIPT].build_success == Rate(0, 0)
    assert await redis_client.xlen(recorder.quality_key) == 5  # recorded, not counted
