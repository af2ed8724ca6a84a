"""The status read model, read directly (the HTTP renderings are in tests/web/test_status.py)."""

from __future__ import annotations

import pytest

from flags.model import System
from service.status.snapshot import collect_status, read_snapshot
from tests.auth import viewer_bearer
from tests.conftest import InProcessService, record_completion

pytestmark = pytest.mark.integration


async def test_one_snapshot_serves_the_json_and_the_histograms(edge: InProcessService) -> None:
    runtime = edge.runtime
    await record_completion(runtime.redis, runtime.prefix, System.PYTHON, 1, True, 2.0)
    await runtime.redis.hincrby(runtime.keys.webhook_counts, "accepted", 3)
    snapshot = await read_snapshot(runtime)
    assert snapshot.status["webhooks"] == {"accepted": 3}
    listed = {
        (row["system"], row["dry_run"]): row["total"] for row in snapshot.status["completions"]
    }
    counted = {(row.system.value, row.dry_run): row.total for row in snapshot.completions}
    assert listed == counted and counted[("python", False)] == 1
    assert (await collect_status(runtime)).keys() == snapshot.status.keys()
    served = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()
    assert served["webhooks"] == {"accepted": 3} and served.keys() == snapshot.status.keys()
