"""``POST /agents/{system}/completions``: signed completion callbacks from the agent systems.

Refused: a missing or wrong ``X-Switchyard-Signature`` (401: signed with the system's own
secret, see :mod:`service.agents.completion`), a body that is not a completion (400), a job
Switchyard never dispatched to that system (404). A repeated callback for a completed job is
acknowledged and changes nothing. The job record, not the report, says whether the job acted
or ran in shadow.
"""

from __future__ import annotations

import dataclasses
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.model import System
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

_log = logging.getLogger("switchyard.completions")
_warned: set[System] = set()  # systems warned about the shared secret (once per process)

MAX_COMPLETION_BYTES = 1024 * 1024


async def completions(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    if settings.agent_secret is None and not settings.agent_secrets:
        raise SettingsError("SWITCHYARD_AGENT_SECRET", "is required to accept completions")
    try:
        system = System(request.path_params["system"])
    except ValueError:
        name = escape(request.path_params["system"], limit=40)
        raise UnknownJob(f"no agent system '{name}'") from None
    async with read_body(request, limit=MAX_COMPLETION_BYTES) as body:
        return await _record(runtime, request, system, body)


async def _record(runtime: Runtime, request: Request, system: System, body: bytes) -> JSONResponse:
    settings = runtime.settings
    shared = verify_completion(
        system=system,
        own=settings.agent_secrets.get(system),
        shared=settings.agent_secret,
        body=body,
        header=request.headers.get(COMPLETION_SIGNATURE_HEADER),
    )
    if shared and system not in _warned:
        _warned.add(system)
        _log.warning(
            "%s signs callbacks with the shared SWITCHYARD_AGENT_SECRET (deprecated): "
            "set SWITCHYARD_%s_AGENT_SECRET",
            system,
            system.upper(),
        )
    completion = parse_completion(body)
    jobs = JobStore(runtime.redis, prefix=runtime.prefix)
    job = await jobs.get(completion.job_id)
    if job is None or job.system is not system or job.issue.number != completion.issue_number:
        raise UnknownJob(f"no job {completion.job_id!r} was dispatched to {system}", system=system)
    if completion.dry_run is not job.dry_run:  # the record decides acting versus shadow
        _log.warning(
            "%s reported job %s as dry_run=%s; the record says %s",
            system,
            escape(completion.job_id, limit=80),
            completion.dry_run,
            job.dry_run,
        )
        completion = dataclasses.replace(completion, dry_run=job.dry_run)
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
