"""Completion callbacks, in-process against the real Redis: signed, known jobs only, recorded
once."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from flags.model import Issue, System
from flags.secret import Secret
from service.agents.completion import COMPLETION_SIGNATURE_HEADER, Completion, sign_completion
from service.app import create_app
from service.outcomes.histogram import DurationHistogram
from service.outcomes.recorder import OutcomeRecorder
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.runtime import open_runtime
from service.settings import Settings
from tests.conftest import InProcessService

pytestmark = pytest.mark.integration


async def _dispatched(edge: InProcessService, *, dry_run: bool = False) -> Job:
    runtime = edge.runtime
    job = Job(
        job_id=job_id_for("delivery-7", System.PYTHON, dry_run=dry_run),
        delivery_id="delivery-7",
        issue=Issue("acme/app", 7),
        system=System.PYTHON,
        dry_run=dry_run,
        state=JobState.DISPATCHED,
    )
    return await JobStore(runtime.redis, prefix=runtime.prefix).record(job)


async def _post(
    edge: InProcessService, system: str, body: bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[COMPLETION_SIGNATURE_HEADER] = signature
    return await edge.client.post(f"/agents/{system}/completions", content=body, headers=headers)


def _body(job: Job) -> bytes:
    return Completion(
        job_id=job.job_id,
        issue_number=job.issue.number,
        success=True,
        duration_seconds=4.2,
        dry_run=job.dry_run,
        pr_number=15,
        output_digest="d",
    ).to_json()


async def test_signed_completion_of_a_known_job_is_recorded_once(edge: InProcessService) -> None:
    job = await _dispatched(edge)
    secret = edge.settings.agent_secret
    assert secret is not None
    body = _body(job)
    first = await _post(edge, "python", body, sign_completion(secret, body))
    again = await _post(edge, "python", body, sign_completion(secret, body))
    assert (first.status_code, first.json()["recorded"]) == (200, True)
    assert again.json() == {"recorded": False, "duplicate": True}
    runtime = edge.runtime
    stored = await JobStore(runtime.redis, prefix=runtime.prefix).get(job.job_id)
    assert stored is not None and stored.state is JobState.COMPLETED
    recorder = OutcomeRecorder(runtime.redis, prefix=runtime.prefix)
    assert await runtime.redis.xlen(recorder.completions_key) == 1


async def test_unsigned_wrong_or_unknown_completions_are_refused(edge: InProcessService) -> None:
    job = await _dispatched(edge)
    secret = edge.settings.agent_secret
    assert secret is not None
    body = _body(job)
    unsigned = await _post(edge, "python", body, None)
    forged = await _post(edge, "python", body, "sha256=" + "0" * 64)
    wrong_system = await _post(edge, "typescript", body, sign_completion(secret, body))
    unknown_body = body.replace(job.job_id.encode(), b"job-unknown")
    unknown = await _post(edge, "python", unknown_body, sign_completion(secret, unknown_body))
    broken = await _post(edge, "python", b"{", sign_completion(secret, b"{"))
    codes = [r.status_code for r in (unsigned, forged, wrong_system, unknown, broken)]
    assert codes == [401, 401, 404, 404, 400]
    assert all("error" in r.json() for r in (unsigned, forged, wrong_system, unknown, broken))
    runtime = edge.runtime
    assert (
        await runtime.redis.xlen(
            OutcomeRecorder(runtime.redis, prefix=runtime.prefix).completions_key
        )
        == 0
    )


async def test_a_completion_after_a_cancel_is_recorded_once_and_the_job_stays_finished(
    edge: InProcessService,
) -> None:
    """The agent finished before our cancel reached it: its outcome is a fact, counted once;
    the job does not come back in flight and the hand-over is not repeated."""
    job = await _dispatched(edge)
    runtime = edge.runtime
    jobs = JobStore(runtime.redis, prefix=runtime.prefix)
    assert await jobs.update(job.job_id, JobState.CANCELLED)
    secret = edge.settings.agent_secret
    assert secret is not None
    body = _body(job)
    first = await _post(edge, "python", body, sign_completion(secret, body))
    again = await _post(edge, "python", body, sign_completion(secret, body))
    assert (first.status_code, first.json()["recorded"]) == (200, True)
    assert (again.status_code, again.json()) == (200, {"recorded": False, "duplicate": True})
    stored = await jobs.get(job.job_id)
    assert stored is not None and stored.state is JobState.COMPLETED
    assert await jobs.in_flight(job.issue) == []
    assert await jobs.update(job.job_id, JobState.DISPATCHED) is False  # never back in flight
    recorder = OutcomeRecorder(runtime.redis, prefix=runtime.prefix)
    assert await runtime.redis.xlen(recorder.completions_key) == 1


@pytest.fixture
async def own_secrets(settings: Settings, prefix: str) -> AsyncIterator[InProcessService]:
    """The app with a callback secret per system (the shared one still configured)."""
    own = dataclasses.replace(
        settings,
        redis_prefix=prefix,
        agent_secrets={System.PYTHON: PY_SECRET, System.TYPESCRIPT: TS_SECRET},
    )
    async with open_runtime(own, role="service") as runtime:
        app = create_app(own, runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=own.service_url) as client:
            yield InProcessService(own, own.service_url, app, client)


PY_SECRET, TS_SECRET = Secret("python's own"), Secret("typescript's own")


async def test_a_system_signs_with_its_own_secret_and_cannot_report_the_others_jobs(
    own_secrets: InProcessService,
) -> None:
    job = await _dispatched(own_secrets)  # a python job
    body = _body(job)
    shared = own_secrets.settings.agent_secret
    assert shared is not None
    by_typescript = await _post(
        own_secrets, "python", body, sign_completion(TS_SECRET, body, system=System.TYPESCRIPT)
    )
    with_shared = await _post(
        own_secrets, "python", body, sign_completion(shared, body, system=System.PYTHON)
    )
    body_only = await _post(own_secrets, "python", body, sign_completion(PY_SECRET, body))
    right = await _post(
        own_secrets, "python", body, sign_completion(PY_SECRET, body, system=System.PYTHON)
    )
    codes = [r.status_code for r in (by_typescript, with_shared, body_only, right)]
    assert codes == [401, 401, 401, 200]


async def test_the_job_record_decides_acting_or_shadow_not_the_report(
    edge: InProcessService,
) -> None:
    job = await _dispatched(edge)  # an acting job
    secret = edge.settings.agent_secret
    assert secret is not None
    lying = Completion(job.job_id, job.issue.number, False, 3.0, dry_run=True).to_json()
    answer = await _post(edge, "python", lying, sign_completion(secret, lying))
    assert answer.status_code == 200
    runtime = edge.runtime
    rows = await DurationHistogram(runtime.redis, prefix=runtime.prefix).read()
    [row] = [row for row in rows if row.system is System.PYTHON and row.failed]
    assert row.dry_run is False  # counted as python's acting failure: the watchdog sees it
