"""The worker loop's failure paths on the real stack (Redis stream, Unleash flags); respx plays
the agent systems so they fail on cue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import respx
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue, Mode, System
from service.agents import AgentSystem, PythonAgent, TypeScriptAgent
from service.github.events import CheckCompleted, PullRequestClosed
from service.pipeline.jobs import JobState
from service.pipeline.stream import GROUP, EventStream
from service.routing.ownership import OwnershipStore
from service.runtime import Runtime
from tests.pipeline.test_worker import (
    REPO,
    drained,
    eventually,
    issue_body,
    job_state,
    make_worker,
    running,
    runtime,
    set_mode,
)

pytestmark = pytest.mark.integration

__all__ = ["runtime"]  # the fixture, shared with test_worker

TS_URL, PY_URL = "http://typescript.test", "http://python.test"


def _pull(number: int) -> bytes:
    return json.dumps(
        {
            "action": "closed",
            "repository": {"full_name": REPO},
            "pull_request": {"number": number, "merged": True, "head": {"ref": "x"}, "body": ""},
        }
    ).encode()


@dataclass
class FlakySink:
    """A quality sink that raises on the pull requests it is told to, and may stop a worker."""

    fail_on: set[int] = field(default_factory=set)
    stop_after_first: asyncio.Event | None = None
    seen: list[int] = field(default_factory=list)

    async def pull_request_closed(self, event: PullRequestClosed) -> None:
        self.seen.append(event.pr_number)
        if self.stop_after_first is not None:
            self.stop_after_first.set()
        if event.pr_number in self.fail_on:
            raise RuntimeError(f"sink broke on #{event.pr_number}")

    async def check_completed(self, event: CheckCompleted) -> None:
        return None


async def test_an_entry_that_raises_during_handling_is_dead_lettered_and_the_loop_goes_on(
    runtime: Runtime,
) -> None:
    sink = FlakySink(fail_on={81})
    worker = make_worker(runtime, {}, quality=sink)
    async with running(worker):
        for number in (81, 82):
            await worker.stream.append(
                delivery_id=f"pr-{number}", event="pull_request", body=_pull(number)
            )
        await eventually(lambda: drained(runtime.redis, worker.stream), what="both acks")
    assert sink.seen == [81, 82]  # the poison entry was handled once, not retried for ever
    [letter] = await worker.stream.dead_letters()
    assert (letter.delivery_id, letter.system, letter.attempts) == ("pr-81", "-", 0)
    assert letter.error == "RuntimeError: sink broke on #81"
    assert letter.body == _pull(81)


async def test_stopping_mid_batch_leaves_the_rest_pending_for_another_worker(
    runtime: Runtime,
) -> None:
    stop = asyncio.Event()
    first = FlakySink(stop_after_first=stop)
    batch = make_worker(runtime, {}, consumer="w1", quality=first, batch=3)
    stream = EventStream(runtime.redis, prefix=runtime.prefix)
    await stream.ensure_group()
    for number in (91, 92, 93):
        await stream.append(delivery_id=f"pr-{number}", event="pull_request", body=_pull(number))
    await batch.run(stop)  # reads all three, handles one, then sees the stop
    assert first.seen == [91]
    pending = await runtime.redis.xpending_range(stream.key, GROUP, "-", "+", 10)
    assert [row["consumer"] for row in pending] == ["w1", "w1"]  # not acknowledged, not lost

    second = FlakySink()
    other = make_worker(runtime, {}, consumer="w2", quality=second, claim_idle_ms=1)
    async with running(other):
        await eventually(lambda: drained(runtime.redis, stream), what="the claimed rest")
    assert second.seen == [92, 93]  # each handled once in all
    assert await stream.dead_letters() == []


@pytest.fixture
async def agents(runtime: Runtime) -> AsyncIterator[tuple[respx.Router, dict[System, AgentSystem]]]:
    router = respx.Router(assert_all_called=False)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        yield (
            router,
            {
                System.TYPESCRIPT: TypeScriptAgent(base_url=TS_URL, http=http),
                System.PYTHON: PythonAgent(base_url=PY_URL, http=http),
            },
        )


async def test_the_rollback_sweep_while_python_is_unreachable_keeps_retrying_then_hands_back(
    runtime: Runtime,
    flags_reset: UnleashAdmin,
    agents: tuple[respx.Router, dict[System, AgentSystem]],
) -> None:
    router, clients = agents
    router.post(f"{PY_URL}/issues/process").mock(return_value=httpx.Response(202))
    handed = router.post(f"{TS_URL}/issues/process").mock(return_value=httpx.Response(202))
    cancel = router.post(f"{PY_URL}/issues/acme/widgets/95/cancel").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    owners = OwnershipStore(runtime.redis, prefix=runtime.prefix)
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    worker = make_worker(runtime, clients)
    async with running(worker):
        await worker.stream.append(delivery_id="d-95", event="issues", body=issue_body(95))
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's job")
        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()  # no further event of the issue arrives

        async def tried_twice() -> bool:
            return cancel.call_count >= 6  # two sweeps of three attempts each

        await eventually(tried_twice, what="two sweeps that could not reach python")
        owner = await owners.owner(Issue(REPO, 95))
        assert owner is not None and owner.system is System.PYTHON  # not handed back blind
        assert await job_state(worker, "d-95", System.PYTHON) is JobState.DISPATCHED
        assert handed.call_count == 0 and await runtime.redis.xlen(worker.stream.key) == 1

        cancel.mock(side_effect=None, return_value=httpx.Response(200))  # python is back

        async def handed_back() -> bool:
            current = await owners.owner(Issue(REPO, 95))
            return current is not None and current.system is System.TYPESCRIPT

        await eventually(handed_back, what="the sweep to hand the issue back")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the hand-over")
    assert await job_state(worker, "d-95", System.PYTHON) is JobState.CANCELLED
    assert await job_state(worker, "d-95", System.TYPESCRIPT) is JobState.DISPATCHED
    assert handed.call_count == 1


async def test_a_hand_back_event_while_python_is_unreachable_still_dispatches_to_typescript(
    runtime: Runtime,
    flags_reset: UnleashAdmin,
    agents: tuple[respx.Router, dict[System, AgentSystem]],
    redis_client: Redis,
) -> None:
    router, clients = agents
    router.post(f"{PY_URL}/issues/process").mock(return_value=httpx.Response(202))
    typescript = router.post(f"{TS_URL}/issues/process").mock(return_value=httpx.Response(202))
    router.post(f"{PY_URL}/issues/acme/widgets/96/cancel").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    worker = make_worker(runtime, clients)
    async with running(worker):
        await worker.stream.append(delivery_id="d-96a", event="issues", body=issue_body(96))
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's job")
        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()
        await worker.stream.append(
            delivery_id="d-96b", event="issues", body=issue_body(96, action="edited")
        )

        async def typescript_acted() -> bool:
            return await job_state(worker, "d-96b", System.TYPESCRIPT) is JobState.DISPATCHED

        await eventually(typescript_acted, what="the kill switch's typescript dispatch")
    # python's job could not be cancelled: it stays in flight, to be cancelled when python
    # answers; the new event did not wait for that
    assert await job_state(worker, "d-96a", System.PYTHON) is JobState.DISPATCHED
    assert typescript.call_count == 1
    assert await worker.stream.dead_letters() == []
