"""A stand-in agent system: a small Starlette app that speaks the agent contract.

It plays either system with a success rate and a latency that can be changed while it runs::

    POST /issues/process                     202 at once; the job runs once per job_id
    POST /issues/{owner}/{name}/{n}/cancel   200 {"cancelled": [...]}: pending jobs, no callback
    GET  /health                             200, or 503 while made unhealthy
    POST /_control                           {"success_rate", "latency_ms", "healthy",
                                             "accept_delay_ms", "fail_status"}, any subset
    GET  /_jobs                              every job seen: times received and times acted on

A job sleeps ``latency_ms``, draws its success, then posts a signed
:class:`~service.agents.completion.Completion` to the job's ``callback_url`` (three attempts,
retrying 5xx and transport failures). A dry run never gets a ``pr_number``. ``output_digest``
depends only on the issue and the outcome, so a shadow run and an acting run of the same issue
match unless exactly one of them fails. While unhealthy, ``/issues/process`` answers 503 too.
``accept_delay_ms`` holds the 202 back that long *after* the job is taken (a slow network, or a
caller killed while it waits for the answer: the job runs, the caller never hears of it).
``fail_status`` (a 4xx or 5xx; 0 turns it off) makes ``/issues/process`` refuse every job with
that status without taking it, while ``/health`` stays fine (a failing deployment).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.model import System
from flags.secret import Secret
from service.agents.completion import COMPLETION_SIGNATURE_HEADER, Completion, sign_completion
from service.agents.protocol import AgentJob
from service.devtools.simulator_jobs import (
    SimulatedJob,
    check_fail_status,
    check_latency,
    check_rate,
    output_digest,
)
from service.errors import PayloadError

__all__ = ["create_simulator", "output_digest", "run_simulator"]

_log = logging.getLogger(__name__)
_CALLBACK_ATTEMPTS = 3
# Apart, so the two systems' pull requests never share a number in one repository.
_FIRST_PR_NUMBER = {System.TYPESCRIPT: 10_000, System.PYTHON: 50_000}


@dataclass
class _Simulator:
    system: System
    success_rate: float
    latency_ms: int
    secret: Secret
    rng: random.Random
    http: httpx.AsyncClient | None
    healthy: bool = True
    accept_delay_ms: int = 0
    fail_status: int = 0
    jobs: dict[str, SimulatedJob] = field(default_factory=dict)
    next_pr: int = 0

    def config(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "success_rate": self.success_rate,
            "latency_ms": self.latency_ms,
            "healthy": self.healthy,
            "accept_delay_ms": self.accept_delay_ms,
            "fail_status": self.fail_status,
        }

    async def run(self, record: SimulatedJob) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(self.latency_ms / 1000)
        record.status = "calling_back"  # from here on a cancel no longer stops the callback
        job = record.job
        success = self.rng.random() < self.success_rate
        record.success = success
        pr_number = None
        if success and not job.dry_run:
            pr_number, self.next_pr = self.next_pr, self.next_pr + 1
            record.pr_number = pr_number
        completion = Completion(
            job_id=job.job_id,
            issue_number=job.issue_number,
            success=success,
            duration_seconds=round(loop.time() - started, 3),
            dry_run=job.dry_run,
            pr_number=pr_number,
            output_digest=output_digest(
                repository=job.repository, issue_number=job.issue_number, success=success
            ),
        )
        record.status = await self._call_back(job.callback_url, completion.to_json())

    async def _call_back(self, url: str, body: bytes) -> str:
        http = self.http
        if http is None:
            raise RuntimeError("the simulator's lifespan did not run: no HTTP client")
        headers = {
            "Content-Type": "application/json",
            COMPLETION_SIGNATURE_HEADER: sign_completion(self.secret, body, system=self.system),
        }
        for attempt in range(1, _CALLBACK_ATTEMPTS + 1):
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                problem, retry = f"{type(error).__name__}: {error}", True
            else:
                if response.is_success:
                    return "completed"
                problem = f"HTTP {response.status_code}"
                retry = response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR
            _log.warning(
                "%s simulator: callback %d/%d to %s failed: %s",
                self.system,
                attempt,
                _CALLBACK_ATTEMPTS,
                url,
                problem,
            )
            if not retry or attempt == _CALLBACK_ATTEMPTS:
                break
            await asyncio.sleep(0.2 * 2 ** (attempt - 1))
        return "callback_failed"


def create_simulator(
    *,
    system: System,
    success_rate: float,
    latency_ms: int,
    agent_secret: Secret,
    seed: int | None = None,
    http: httpx.AsyncClient | None = None,
) -> Starlette:
    """The simulator app. ``http`` (for the callbacks) is owned by the caller when given;
    otherwise the app's lifespan opens and closes its own."""
    check_rate(success_rate)
    check_latency(latency_ms)
    rng = random.Random(seed)  # noqa: S311 -- a simulation's dice, not a secret
    sim = _Simulator(
        system, success_rate, latency_ms, agent_secret, rng, http, next_pr=_FIRST_PR_NUMBER[system]
    )

    async def process(request: Request) -> JSONResponse:
        if not sim.healthy:
            return JSONResponse({"error": "unhealthy"}, status_code=503)
        if sim.fail_status:
            return JSONResponse({"error": "injected failure"}, status_code=sim.fail_status)
        try:
            job = AgentJob.from_payload(json.loads(await request.body()))
        except (ValueError, PayloadError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        known = sim.jobs.get(job.job_id)
        if known is not None:
            known.received += 1
        else:
            record = sim.jobs[job.job_id] = SimulatedJob(job=job, acted=1)
            record.task = asyncio.create_task(sim.run(record), name=f"simulated job {job.job_id}")
        if sim.accept_delay_ms:
            await asyncio.sleep(sim.accept_delay_ms / 1000)
        duplicate = known is not None
        return JSONResponse({"job_id": job.job_id, "duplicate": duplicate}, status_code=202)

    async def cancel(request: Request) -> JSONResponse:
        params = request.path_params
        repository, number = f"{params['owner']}/{params['name']}", params["number"]
        cancelled = []
        for record in sim.jobs.values():
            job = record.job
            if (job.repository, job.issue_number) == (repository, number):
                if record.status == "pending" and record.task is not None:
                    record.task.cancel()
                    record.status = "cancelled"
                    cancelled.append(job.job_id)
        return JSONResponse({"cancelled": cancelled})

    async def health(request: Request) -> JSONResponse:
        status = "ok" if sim.healthy else "unhealthy"
        return JSONResponse(
            {"status": status, **sim.config()}, status_code=200 if sim.healthy else 503
        )

    async def control(request: Request) -> JSONResponse:
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("control body must be a JSON object")
            if "success_rate" in changes:
                sim.success_rate = check_rate(changes["success_rate"])
            if "latency_ms" in changes:
                sim.latency_ms = check_latency(changes["latency_ms"])
            if "healthy" in changes:
                if not isinstance(changes["healthy"], bool):
                    raise ValueError("healthy must be true or false")
                sim.healthy = changes["healthy"]
            if "accept_delay_ms" in changes:
                sim.accept_delay_ms = check_latency(changes["accept_delay_ms"], "accept_delay_ms")
            if "fail_status" in changes:
                sim.fail_status = check_fail_status(changes["fail_status"])
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(sim.config())

    async def jobs(request: Request) -> JSONResponse:
        return JSONResponse([record.as_json() for record in sim.jobs.values()])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if sim.http is None:
                sim.http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            try:
                yield
            finally:
                tasks = [r.task for r in sim.jobs.values() if r.task and not r.task.done()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if http is None:
                    sim.http = None

    return Starlette(
        routes=[
            Route("/issues/process", process, methods=["POST"]),
            Route("/issues/{owner}/{name}/{number:int}/cancel", cancel, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/_control", control, methods=["POST"]),
            Route("/_jobs", jobs, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def run_simulator(
    *,
    system: System,
    port: int,
    success_rate: float,
    latency_ms: int,
    agent_secret: Secret,
    host: str = "127.0.0.1",
    seed: int | None = None,
) -> None:
    """Serve a simulator with uvicorn until interrupted (``switchyard simulate-agent``)."""
    app = create_simulator(
        system=system,
        success_rate=success_rate,
        latency_ms=latency_ms,
        agent_secret=agent_secret,
        seed=seed,
    )
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", ws="none", log_level="info")
    await uvicorn.Server(config).serve()
