"""The agent-system simulator, served by real uvicorn servers on loopback ports: jobs go in
through the real client, signed completions come back to a real receiving app."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from flags.model import Issue, System
from flags.secret import Secret
from service.agents import AgentJob, Completion, PythonAgent, parse_completion, verify_completion
from service.agents.completion import COMPLETION_SIGNATURE_HEADER
from service.devtools.simulator import create_simulator, output_digest
from service.errors import AgentRejected, AgentRetryable

AGENT_SECRET = Secret("simulator-and-switchyard")
QUIET = 0.3  # seconds to wait for a callback that must not come


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", ws="none", log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Receiver:
    """What Switchyard's completion endpoint received: (body, signature header) pairs."""

    url: str
    calls: asyncio.Queue[tuple[bytes, str | None]] = field(default_factory=asyncio.Queue)

    async def next_completion(self) -> Completion:
        body, header = await asyncio.wait_for(self.calls.get(), timeout=5)
        verify_completion(
            system=System.PYTHON, own=AGENT_SECRET, shared=None, body=body, header=header
        )
        return parse_completion(body)

    async def assert_silent(self) -> None:
        await asyncio.sleep(QUIET)
        assert self.calls.empty(), "an unexpected completion arrived"


@dataclass
class Sim:
    url: str
    agent: PythonAgent
    http: httpx.AsyncClient
    receiver: Receiver

    def job(self, job_id: str, *, number: int = 42, dry_run: bool = False) -> AgentJob:
        return AgentJob(
            job_id=job_id,
            delivery_id=f"delivery-{job_id}",
            repository="octo-org/octo-repo",
            issue_number=number,
            action="opened",
            issue={"number": number, "title": "Crash on start"},
            dry_run=dry_run,
            callback_url=self.receiver.url,
        )

    async def control(self, **changes: Any) -> httpx.Response:
        return await self.http.post(f"{self.url}/_control", json=changes)

    async def jobs(self) -> dict[str, dict[str, Any]]:
        response = await self.http.get(f"{self.url}/_jobs")
        return {job["job_id"]: job for job in response.json()}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    calls: asyncio.Queue[tuple[bytes, str | None]] = asyncio.Queue()

    async def completions(request: Request) -> Response:
        await calls.put((await request.body(), request.headers.get(COMPLETION_SIGNATURE_HEADER)))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/agents/python/completions", completions, methods=["POST"])])
    async with serve(app) as url:
        yield Receiver(url=f"{url}/agents/python/completions", calls=calls)


@pytest.fixture
async def sim(receiver: Receiver) -> AsyncIterator[Sim]:
    app = create_simulator(
        system=System.PYTHON, success_rate=1.0, latency_ms=20, agent_secret=AGENT_SECRET, seed=7
    )
    async with serve(app) as url, httpx.AsyncClient(timeout=5) as http:
        yield Sim(url, PythonAgent(base_url=url, http=http), http, receiver)


async def test_job_is_acknowledged_and_a_signed_completion_arrives(sim: Sim) -> None:
    await sim.agent.process(sim.job("job-1"))
    completion = await sim.receiver.next_completion()
    assert completion.job_id == "job-1"
    assert (completion.issue_number, completion.success, completion.dry_run) == (42, True, False)
    assert completion.pr_number is not None
    assert completion.duration_seconds >= 0.02
    assert completion.output_digest == output_digest(
        repository="octo-org/octo-repo", issue_number=42, success=True
    )


async def test_same_job_id_twice_is_acted_on_once(sim: Sim) -> None:
    await sim.agent.process(sim.job("job-twice"))
    await sim.agent.process(sim.job("job-twice"))
    assert (await sim.receiver.next_completion()).job_id == "job-twice"
    await sim.receiver.assert_silent()
    seen = (await sim.jobs())["job-twice"]
    assert (seen["received"], seen["acted"], seen["status"]) == (2, 1, "completed")


async def test_many_concurrent_deliveries_of_one_job_run_it_once(sim: Sim) -> None:
    await asyncio.gather(*(sim.agent.process(sim.job("job-burst")) for _ in range(20)))
    await sim.receiver.next_completion()
    await sim.receiver.assert_silent()
    assert (await sim.jobs())["job-burst"]["acted"] == 1


async def test_cancel_prevents_the_callback(sim: Sim) -> None:
    await sim.control(latency_ms=500)
    await sim.agent.process(sim.job("job-cancelled", number=9))
    await sim.agent.process(sim.job("job-other-issue", number=10))
    assert await sim.agent.cancel(Issue("octo-org/octo-repo", 9)) is True
    assert (await sim.receiver.next_completion()).job_id == "job-other-issue"
    await sim.receiver.assert_silent()
    assert (await sim.jobs())["job-cancelled"]["status"] == "cancelled"


async def test_dry_run_succeeds_without_a_pull_request(sim: Sim) -> None:
    await sim.agent.process(sim.job("job-shadow", dry_run=True))
    completion = await sim.receiver.next_completion()
    assert (completion.success, completion.dry_run, completion.pr_number) == (True, True, None)


async def test_shadow_and_acting_runs_of_one_issue_have_the_same_digest(sim: Sim) -> None:
    await sim.agent.process(sim.job("acting", number=5))
    await sim.agent.process(sim.job("shadow", number=5, dry_run=True))
    first, second = await sim.receiver.next_completion(), await sim.receiver.next_completion()
    assert first.output_digest == second.output_digest


async def test_failed_run_has_no_pull_request_and_another_digest(sim: Sim) -> None:
    await sim.control(success_rate=0)
    await sim.agent.process(sim.job("job-fails"))
    completion = await sim.receiver.next_completion()
    assert (completion.success, completion.pr_number) == (False, None)
    assert completion.output_digest == output_digest(
        repository="octo-org/octo-repo", issue_number=42, success=False
    )


async def test_unhealthy_simulator_fails_health_and_refuses_jobs(sim: Sim) -> None:
    assert await sim.agent.health() is True
    assert (await sim.control(healthy=False)).json()["healthy"] is False
    assert await sim.agent.health() is False
    with pytest.raises(AgentRetryable) as caught:
        await sim.agent.process(sim.job("job-while-down"))
    assert caught.value.agent_status == 503
    await sim.control(healthy=True)
    assert await sim.agent.health() is True


async def test_injected_failure_status_refuses_jobs_without_taking_them(sim: Sim) -> None:
    assert (await sim.control(fail_status=500)).json()["fail_status"] == 500
    with pytest.raises(AgentRetryable) as caught:
        await sim.agent.process(sim.job("job-refused"))
    assert caught.value.agent_status == 500
    assert await sim.agent.health() is True  # a failing deployment that still looks alive
    assert await sim.jobs() == {}
    await sim.control(fail_status=0)
    await sim.agent.process(sim.job("job-refused"))
    assert (await sim.receiver.next_completion()).job_id == "job-refused"


@pytest.mark.parametrize(
    "changes",
    [
        {"success_rate": 1.5},
        {"success_rate": "high"},
        {"latency_ms": -1},
        {"healthy": "no"},
        {"fail_status": 200},
        {"fail_status": True},
    ],
)
async def test_bad_control_is_refused(sim: Sim, changes: dict[str, Any]) -> None:
    assert (await sim.control(**changes)).status_code == 400


async def test_malformed_job_is_rejected(sim: Sim) -> None:
    response = await sim.http.post(f"{sim.url}/issues/process", json={"job_id": "x"})
    assert response.status_code == 400
    bad = AgentJob(**{**sim.job("j").as_payload(), "callback_url": ""})
    with pytest.raises(AgentRejected):
        await sim.agent.process(bad)


async def test_pending_jobs_are_cancelled_when_the_simulator_stops(receiver: Receiver) -> None:
    app = create_simulator(
        system=System.TYPESCRIPT, success_rate=1, latency_ms=10_000, agent_secret=AGENT_SECRET
    )
    async with serve(app) as url, httpx.AsyncClient() as http:
        await PythonAgent(base_url=url, http=http).process(
            AgentJob("job-left-pending", "d", "o/r", 1, "opened", {}, False, receiver.url)
        )
    left = [t for t in asyncio.all_tasks() if t.get_name() == "simulated job job-left-pending"]
    assert left == []
    await receiver.assert_silent()


def test_simulator_refuses_a_bad_success_rate() -> None:
    with pytest.raises(ValueError, match="success_rate"):
        create_simulator(
            system=System.PYTHON, success_rate=2, latency_ms=0, agent_secret=AGENT_SECRET
        )


@pytest.mark.parametrize(("first_status", "calls"), [(503, 2), (400, 1)])
async def test_callback_is_retried_on_server_errors_only(first_status: int, calls: int) -> None:
    statuses = [first_status, 204]
    answered: list[int] = []

    async def flaky(request: Request) -> Response:
        answered.append(statuses.pop(0))
        return Response(status_code=answered[-1])

    receiving = Starlette(routes=[Route("/cb", flaky, methods=["POST"])])
    app = create_simulator(
        system=System.PYTHON, success_rate=1, latency_ms=0, agent_secret=AGENT_SECRET
    )
    async with serve(receiving) as cb, serve(app) as url, httpx.AsyncClient() as http:
        job = AgentJob("job-flaky", "d", "o/r", 1, "opened", {}, False, f"{cb}/cb")
        await PythonAgent(base_url=url, http=http).process(job)
        for _ in range(100):
            status = (await http.get(f"{url}/_jobs")).json()[0]["status"]
            if status not in ("pending", "calling_back"):
                break
            await asyncio.sleep(0.02)
    assert len(answered) == calls
    assert status == ("completed" if calls == 2 else "callback_failed")
