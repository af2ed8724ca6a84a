"""``POST /agents/{system}/completions``: signed completion callbacks from the agent systems.

Refused: a missing or wrong ``X-Switchyard-Signature`` (401), a body that is not a completion
(400), a job Switchyard never dispatched to that system (404). A repeated callback for a
completed job is acknowledged and changes nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.model import System
from flags.secret import Secret
from service.agents.completion import (
    COMPLETION_SIGNATURE_HEADER,
    parse_completion,
    verify_completion,
)
from service.errors import UnknownJob
from service.escape import escape
from service.outcomes.recorder import OutcomeRecorder
from service.pipeline.jobs import JobState, JobStore
from service.runtime import Runtime
from service.settings import SettingsError
from service.web.body import read_body

__all__ = ["MAX_COMPLETION_BYTES", "ROUTES"]

MAX_COMPLETION_BYTES = 1024 * 1024


async def completions(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    secret = runtime.settings.agent_secret
    if secret is None:
        raise SettingsError("SWITCHYARD_AGENT_SECRET", "is required to accept completions")
    try:
        system = System(request.path_params["system"])
    except ValueError:
        name = escape(request.path_params["system"], limit=40)
        raise UnknownJob(f"no agent system '{name}'") from None
    async with read_body(request, limit=MAX_COMPLETION_BYTES) as body:
        return await _record(runtime, request, system, body, secret)


async def _record(
    runtime: Runtime, request: Request, system: System, body: bytes, secret: Secret
) -> JSONResponse:
    verify_completion(secret, body, request.headers.get(COMPLETION_SIGNATURE_HEADER))
    completion = parse_completion(body)
    jobs = JobStore(runtime.redis, prefix=runtime.prefix)
    job = await jobs.get(completion.job_id)
    if job is None or job.system is not system or job.issue.number != completion.issue_number:
        raise UnknownJob(f"no job {completion.job_id!r} was dispatched to {system}", system=system)
    # Every step is safe to repeat: if Redis fails part-way, the agent's retry finishes the job.
    await jobs.update(job.job_id, JobState.COMPLETED)
    recorder = OutcomeRecorder(runtime.redis, prefix=runtime.prefix)
    first, comparison = await recorder.completion_once(job, completion)
    if not first:
        return JSONResponse({"recorded": False, "duplicate": True})
    return JSONResponse(
        {"recorded": True, "comparison": comparison.to_fields() if comparison else None}
    )


ROUTES = [Route("/agents/{system}/completions", completions, methods=["POST"])]
