"""The dispatcher's failure paths against the real Redis (job records, event stream, dead
letters); respx stands in for the agent systems only, to make them fail on cue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents import AgentJob, AgentSystem, PythonAgent, TypeScriptAgent
from service.github.events import IssueEvent, parse_event
from service.pipeline.dispatch import Dispatcher, Fenced
from service.pipeline.jobs import JobState, JobStore, job_id_for
from service.pipeline.retry import RetryPolicy
from service.pipeline.stream import EventStream, StreamEntry

pytestmark = pytest.mark.integration

REPO = "acme/gears"
TS_URL, PY_URL = "http://typescript.test", "http://python.test"
FAST = RetryPolicy(max_attempts=3, base_seconds=0.001, cap_seconds=0.002)


def _body(number: int) -> bytes:
    return json.dumps(
        {
            "action": "opened",
            "issue": {"number": number, "title": "t", "body": "b", "labels": []},
            "repository": {"full_name": REPO},
            "sender": {"login": "octocat"},
        }
    ).encode()


@dataclass
class Rig:
    router: respx.Router
    dispatcher: Dispatcher
    stream: EventStream
    jobs: JobStore

    async def accepted(self, delivery: str, number: int) -> tuple[StreamEntry, IssueEvent]:
        """An accepted delivery: appended to the real stream and read by a consumer."""
        await self.stream.ensure_group()
        await self.stream.append(delivery_id=delivery, event="issues", body=_body(number))
        [entry] = await self.stream.read("c1", count=1, block_ms=100)
        event = parse_event(event="issues", delivery_id=delivery, body=entry.body)
        assert isinstance(event, IssueEvent)
        return entry, event

    async def state(self, delivery: str, system: System, *, dry_run: bool = False) -> JobState:
        job = await self.jobs.get(job_id_for(delivery, system, dry_run=dry_run))
        assert job is not None
        return job.state


async def _holding() -> bool:
    return True


@pytest.fixture
async def rig(redis_client: Redis, prefix: str) -> AsyncIterator[Rig]:
    router = respx.Router(assert_all_called=False)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        agents: dict[System, AgentSystem] = {
            System.TYPESCRIPT: TypeScriptAgent(base_url=TS_URL, http=http),
            System.PYTHON: PythonAgent(base_url=PY_URL, http=http),
        }
        stream = EventStream(redis_client, prefix=prefix)
        jobs = JobStore(redis_client, prefix=prefix)
        dispatcher = Dispatcher(
            stream=stream, jobs=jobs, agents=agents, policy=FAST, callback_base="http://sy.test"
        )
        yield Rig(router, dispatcher, stream, jobs)


async def test_a_failing_shadow_dispatch_never_fails_the_acting_job(rig: Rig) -> None:
    acting = rig.router.post(f"{TS_URL}/issues/process").mock(return_value=httpx.Response(202))
    shadow = rig.router.post(f"{PY_URL}/issues/process").mock(return_value=httpx.Response(503))
    entry, event = await rig.accepted("s-1", 1)
    d = rig.dispatcher
    assert await d.acting(entry, event, System.TYPESCRIPT, owner=1, fence=_holding) is (
        JobState.DISPATCHED
    )
    assert await d.shadow(event, System.PYTHON, owner=1, fence=_holding) is JobState.DEAD
    assert (acting.call_count, shadow.call_count) == (1, 3)  # the candidate was retried
    assert await rig.state("s-1", System.TYPESCRIPT) is JobState.DISPATCHED
    assert await rig.state("s-1", System.PYTHON, dry_run=True) is JobState.DEAD
    assert await rig.stream.dead_letters() == []  # the candidate's failure is no dead letter


async def test_a_shadow_agent_that_raises_anything_is_recorded_dead_not_raised(rig: Rig) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise ValueError("a bug in the candidate's client")

    rig.router.post(f"{PY_URL}/issues/process").mock(side_effect=broken)
    _, event = await rig.accepted("s-2", 2)
    assert await rig.dispatcher.shadow(event, System.PYTHON, owner=1, fence=_holding) is (
        JobState.DEAD
    )
    assert await rig.state("s-2", System.PYTHON, dry_run=True) is JobState.DEAD
    assert await rig.stream.dead_letters() == []


async def test_a_lost_lock_during_a_shadow_dispatch_is_raised_not_swallowed(rig: Rig) -> None:
    route = rig.router.post(f"{PY_URL}/issues/process").mock(return_value=httpx.Response(202))
    _, event = await rig.accepted("s-3", 3)

    async def lost() -> bool:
        return False

    with pytest.raises(Fenced):
        await rig.dispatcher.shadow(event, System.PYTHON, owner=1, fence=lost)
    assert route.call_count == 0
    assert await rig.state("s-3", System.PYTHON, dry_run=True) is JobState.PENDING


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_an_acting_job_refused_with_a_4xx_is_dead_lettered_without_retrying(
    rig: Rig, status: int
) -> None:
    route = rig.router.post(f"{TS_URL}/issues/process").mock(
        return_value=httpx.Response(status, text="no such repository")
    )
    entry, event = await rig.accepted(f"r-{status}", 4)
    state = await rig.dispatcher.acting(entry, event, System.TYPESCRIPT, owner=1, fence=_holding)
    assert state is JobState.DEAD
    assert route.call_count == 1  # a refusal is final: retrying will not help
    [letter] = await rig.stream.dead_letters()
    assert (letter.delivery_id, letter.system, letter.attempts) == (f"r-{status}", "typescript", 1)
    assert f"answered {status}" in letter.error and "no such repository" in letter.error
    assert letter.body == entry.body  # the whole delivery is kept, to be replayed
    job = await rig.jobs.get(job_id_for(f"r-{status}", System.TYPESCRIPT, dry_run=False))
    assert job is not None and (job.state, job.attempts) == (JobState.DEAD, 1)
    assert await rig.jobs.in_flight(Issue(REPO, 4)) == []


async def test_a_job_already_dispatched_is_not_sent_again(rig: Rig) -> None:
    route = rig.router.post(f"{TS_URL}/issues/process").mock(return_value=httpx.Response(202))
    entry, event = await rig.accepted("a-1", 5)
    for _ in range(3):  # a redelivery, a claim after a crash, a replay
        state = await rig.dispatcher.acting(
            entry, event, System.TYPESCRIPT, owner=1, fence=_holding
        )
        assert state is JobState.DISPATCHED
    assert route.call_count == 1


async def _python_job_in_flight(rig: Rig, delivery: str, number: int) -> None:
    rig.router.post(f"{PY_URL}/issues/process").mock(return_value=httpx.Response(202))
    entry, event = await rig.accepted(delivery, number)
    await rig.dispatcher.acting(entry, event, System.PYTHON, owner=1, fence=_holding)
    await rig.dispatcher.shadow(event, System.PYTHON, owner=1, fence=_holding)


async def test_cancel_while_python_is_unreachable_keeps_its_jobs_in_flight(
    rig: Rig, redis_client: Redis
) -> None:
    await _python_job_in_flight(rig, "c-1", 6)
    cancel = rig.router.post(f"{PY_URL}/issues/acme/gears/6/cancel").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    assert await rig.dispatcher.cancel_in_flight(Issue(REPO, 6)) is None
    assert cancel.call_count == 3  # retried, then given up for this time
    assert await rig.state("c-1", System.PYTHON) is JobState.DISPATCHED
    assert len(await rig.jobs.in_flight(Issue(REPO, 6))) == 2  # to be cancelled next time
    assert await redis_client.xlen(rig.stream.key) == 1  # nothing handed over yet

    cancel.mock(return_value=httpx.Response(200))  # python answers again
    cancelled = await rig.dispatcher.cancel_in_flight(Issue(REPO, 6))
    assert cancelled is not None and len(cancelled) == 2
    assert await rig.state("c-1", System.PYTHON) is JobState.CANCELLED
    assert await rig.state("c-1", System.PYTHON, dry_run=True) is JobState.CANCELLED
    assert await rig.jobs.in_flight(Issue(REPO, 6)) == []
    rows: Any = await redis_client.xrange(rig.stream.key)
    assert [fields["delivery_id"] for _, fields in rows] == ["c-1", "c-1"]  # handed over once


async def test_cancel_with_nothing_in_flight_asks_no_agent(rig: Rig) -> None:
    cancel = rig.router.post(f"{PY_URL}/issues/acme/gears/7/cancel").mock(
        return_value=httpx.Response(200)
    )
    assert await rig.dispatcher.cancel_in_flight(Issue(REPO, 7)) == []
    assert cancel.call_count == 0


async def test_a_cancelled_job_whose_delivery_is_gone_is_still_cancelled(
    rig: Rig, redis_client: Redis
) -> None:
    await _python_job_in_flight(rig, "c-8", 8)
    rig.router.post(f"{PY_URL}/issues/acme/gears/8/cancel").mock(return_value=httpx.Response(404))
    await redis_client.delete(rig.stream._dedupe_key("c-8"))  # the dedupe mark expired
    cancelled = await rig.dispatcher.cancel_in_flight(Issue(REPO, 8))
    assert cancelled is not None and len(cancelled) == 2
    assert await rig.state("c-8", System.PYTHON) is JobState.CANCELLED
    assert await redis_client.xlen(rig.stream.key) == 1  # nothing to hand over


async def test_agent_job_payload_round_trips(rig: Rig) -> None:
    route = rig.router.post(f"{TS_URL}/issues/process").mock(return_value=httpx.Response(202))
    entry, event = await rig.accepted("p-1", 9)
    await rig.dispatcher.acting(entry, event, System.TYPESCRIPT, owner=1, fence=_holding)
    sent = AgentJob.from_payload(json.loads(route.calls[0].request.content))
    assert (sent.delivery_id, sent.repository, sent.issue_number, sent.dry_run) == (
        "p-1",
        REPO,
        9,
        False,
    )
    assert sent.callback_url == "http://sy.test/agents/typescript/completions"
