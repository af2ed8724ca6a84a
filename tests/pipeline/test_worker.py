"""The dispatch worker against the real stack: events go into the real Redis stream, flags come
from the real Unleash, jobs go to real simulators under uvicorn. respx only injects agent faults."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, Issue, Mode, System
from flags.provision import mode_strategy
from flags.secret import Secret
from service.agents import AgentJob, AgentSystem, PythonAgent, TypeScriptAgent
from service.devtools.simulator import create_simulator
from service.github.events import CheckCompleted, PullRequestClosed
from service.pipeline.dispatch import replay_dead_letter
from service.pipeline.issue_lock import IssueLock
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.pipeline.retry import RetryPolicy
from service.pipeline.stream import GROUP, EventStream
from service.pipeline.worker import Worker
from service.routing.ownership import OwnershipStore
from service.runtime import Runtime, open_runtime
from service.settings import Settings
from tests.devtools.test_simulator import serve

pytestmark = pytest.mark.integration

REPO = "acme/widgets"
AGENT_SECRET = Secret("worker-tests")
FAST = RetryPolicy(max_attempts=3, base_seconds=0.01, cap_seconds=0.05)
NOWHERE = "http://127.0.0.1:9"  # callbacks never fire: the simulators' jobs take a minute


def issue_body(number: int, *, action: str = "opened") -> bytes:
    payload = {
        "action": action,
        "issue": {"number": number, "title": f"Bug {number}", "body": "it breaks", "labels": []},
        "repository": {"full_name": REPO},
        "sender": {"login": "octocat"},
    }
    return json.dumps(payload).encode()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, what: str, within: float = 15
) -> None:
    """Poll ``check`` until it holds (the worker runs in the background), for up to ``within``
    seconds. The deadline is also checked between polls: a library that swallows the
    cancellation ``asyncio.timeout`` delivers would otherwise make the wait endless."""
    deadline = asyncio.get_running_loop().time() + within
    try:
        async with asyncio.timeout(within):
            for _ in itertools.count():
                if await check():
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def drained(redis: Redis, stream: EventStream) -> bool:
    """Every entry of the stream was handed out and acknowledged."""
    last = await redis.xrevrange(stream.key, count=1)
    groups = await redis.xinfo_groups(stream.key)
    return (
        bool(groups)
        and groups[0]["pending"] == 0
        and (not last or groups[0]["last-delivered-id"] == last[0][0])
    )


@dataclass
class Sims:
    urls: dict[System, str]
    http: httpx.AsyncClient

    async def control(self, system: System, **changes: Any) -> None:
        response = await self.http.post(f"{self.urls[system]}/_control", json=changes)
        response.raise_for_status()

    async def jobs(self, system: System) -> dict[str, dict[str, Any]]:
        response = await self.http.get(f"{self.urls[system]}/_jobs")
        return {job["job_id"]: job for job in response.json()}

    def agents(self, http: httpx.AsyncClient) -> dict[System, AgentSystem]:
        return {
            System.TYPESCRIPT: TypeScriptAgent(base_url=self.urls[System.TYPESCRIPT], http=http),
            System.PYTHON: PythonAgent(base_url=self.urls[System.PYTHON], http=http),
        }


@contextlib.asynccontextmanager
async def simulators() -> AsyncIterator[Sims]:
    apps = {
        system: create_simulator(
            system=system, success_rate=1.0, latency_ms=60_000, agent_secret=AGENT_SECRET, seed=3
        )
        for system in System
    }
    async with (
        serve(apps[System.TYPESCRIPT]) as typescript,
        serve(apps[System.PYTHON]) as python,
        httpx.AsyncClient(timeout=5) as http,
    ):
        yield Sims({System.TYPESCRIPT: typescript, System.PYTHON: python}, http)


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    async with simulators() as running:
        yield running


@pytest.fixture
async def runtime(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin
) -> AsyncIterator[Runtime]:
    async with open_runtime(dataclasses.replace(settings, redis_prefix=prefix), role="test") as rt:
        yield rt


def make_worker(
    runtime: Runtime,
    agents: dict[System, AgentSystem],
    consumer: str = "w1",
    *,
    redis: Redis | None = None,
    **options: Any,
) -> Worker:
    return Worker(
        redis=redis or runtime.redis,
        flags=runtime.flags,
        agents=agents,
        prefix=runtime.prefix,
        callback_base=NOWHERE,
        consumer=consumer,
        **{"policy": FAST, "block_ms": 100, **options},
    )


@contextlib.asynccontextmanager
async def running(*workers: Worker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def job_state(worker: Worker, delivery: str, system: System, *, dry_run: bool = False) -> Any:
    job = await worker.jobs.get(job_id_for(delivery, system, dry_run=dry_run))
    return None if job is None else job.state


async def set_mode(admin: UnleashAdmin, runtime: Runtime, mode: Mode) -> None:
    strategy = (await admin.strategies(MODE_FLAG))[0]
    await admin.update_strategy(MODE_FLAG, strategy["id"], mode_strategy(mode))
    await runtime.provider.refresh()


async def test_issue_event_is_routed_to_typescript_and_dispatched_once(
    runtime: Runtime, sims: Sims
) -> None:
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        await worker.stream.append(delivery_id="d-1", event="issues", body=issue_body(1))

        async def dispatched() -> bool:
            return await job_state(worker, "d-1", System.TYPESCRIPT) is JobState.DISPATCHED

        await eventually(dispatched, what="the typescript job")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the ack")
    job_id = job_id_for("d-1", System.TYPESCRIPT, dry_run=False)
    seen = (await sims.jobs(System.TYPESCRIPT))[job_id]
    assert (seen["dry_run"], seen["received"], seen["acted"]) == (False, 1, 1)
    assert await sims.jobs(System.PYTHON) == {}
    owner = await OwnershipStore(runtime.redis, prefix=runtime.prefix).owner(Issue(REPO, 1))
    assert owner is not None and owner.system is System.TYPESCRIPT
    job = await worker.jobs.get(job_id)
    assert job is not None and job.attempts == 1 and job.owner_token == owner.token


async def test_parallel_mode_dispatches_acting_and_shadow_dry_run(
    runtime: Runtime, sims: Sims, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PARALLEL)
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        await worker.stream.append(delivery_id="d-2", event="issues", body=issue_body(2))

        async def both() -> bool:
            acting = await job_state(worker, "d-2", System.TYPESCRIPT)
            shadow = await job_state(worker, "d-2", System.PYTHON, dry_run=True)
            return acting is shadow is JobState.DISPATCHED

        await eventually(both, what="acting and shadow jobs")
    acting = (await sims.jobs(System.TYPESCRIPT))[
        job_id_for("d-2", System.TYPESCRIPT, dry_run=False)
    ]
    shadow = (await sims.jobs(System.PYTHON))[job_id_for("d-2", System.PYTHON, dry_run=True)]
    assert acting["dry_run"] is False and shadow["dry_run"] is True
    assert acting["acted"] == shadow["acted"] == 1


async def test_agent_500s_are_retried_until_accepted(runtime: Runtime) -> None:
    router = respx.Router(assert_all_called=False)
    route = router.post("http://typescript.test/issues/process").mock(
        side_effect=[httpx.Response(500), httpx.Response(503), httpx.Response(202)]
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        agents: dict[System, AgentSystem] = {
            System.TYPESCRIPT: TypeScriptAgent(base_url="http://typescript.test", http=http),
            System.PYTHON: PythonAgent(base_url="http://python.test", http=http),
        }
        worker = make_worker(runtime, agents)
        async with running(worker):
            await worker.stream.append(delivery_id="d-3", event="issues", body=issue_body(3))
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the ack")
    job = await worker.jobs.get(job_id_for("d-3", System.TYPESCRIPT, dry_run=False))
    assert job is not None and (job.state, job.attempts) == (JobState.DISPATCHED, 3)
    assert route.call_count == 3
    sent = {json.loads(call.request.content)["job_id"] for call in route.calls}
    assert sent == {job.job_id}  # every retry carries the same idempotency key
    assert await worker.stream.dead_letters() == []


async def test_agent_down_dead_letters_and_replay_dispatches_after_recovery(
    runtime: Runtime, sims: Sims
) -> None:
    await sims.control(System.TYPESCRIPT, healthy=False)
    worker = make_worker(runtime, sims.agents(runtime.http))
    job_id = job_id_for("d-4", System.TYPESCRIPT, dry_run=False)
    async with running(worker):
        await worker.stream.append(delivery_id="d-4", event="issues", body=issue_body(4))

        async def buried() -> bool:
            return len(await worker.stream.dead_letters()) == 1

        await eventually(buried, what="the dead letter")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the ack")
        [letter] = await worker.stream.dead_letters()
        assert (letter.delivery_id, letter.system, letter.attempts) == ("d-4", "typescript", 3)
        assert "503" in letter.error
        assert await job_state(worker, "d-4", System.TYPESCRIPT) is JobState.DEAD

        await sims.control(System.TYPESCRIPT, healthy=True)
        assert await replay_dead_letter(stream=worker.stream, jobs=worker.jobs, letter=letter)

        async def dispatched() -> bool:
            return await job_state(worker, "d-4", System.TYPESCRIPT) is JobState.DISPATCHED

        await eventually(dispatched, what="the replayed dispatch")
    assert await worker.stream.dead_letters() == []
    assert (await sims.jobs(System.TYPESCRIPT))[job_id]["acted"] == 1


async def test_a_job_completed_while_its_answers_were_lost_is_not_dead_lettered(
    runtime: Runtime,
) -> None:
    jobs = JobStore(runtime.redis, prefix=runtime.prefix)

    async def taken_but_never_answered(request: httpx.Request) -> httpx.Response:
        job_id = json.loads(request.content)["job_id"]
        await jobs.update(job_id, JobState.COMPLETED)  # the agent's callback gets through
        raise httpx.ReadTimeout("the 202 never arrives", request=request)

    transport = httpx.MockTransport(taken_but_never_answered)
    async with httpx.AsyncClient(transport=transport) as http:
        agents: dict[System, AgentSystem] = {
            System.TYPESCRIPT: TypeScriptAgent(base_url="http://typescript.test", http=http)
        }
        worker = make_worker(runtime, agents)
        async with running(worker):
            await worker.stream.append(delivery_id="d-16", event="issues", body=issue_body(16))
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the ack")
    assert await job_state(worker, "d-16", System.TYPESCRIPT) is JobState.COMPLETED
    assert await worker.stream.dead_letters() == []
    job_id = job_id_for("d-16", System.TYPESCRIPT, dry_run=False)
    assert await jobs.update(job_id, JobState.DEAD) is False  # finished stays finished
    assert await jobs.in_flight(Issue(REPO, 16)) == []


async def test_the_same_delivery_handled_twice_is_dispatched_once(
    runtime: Runtime, sims: Sims
) -> None:
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        await worker.stream.append(delivery_id="d-5", event="issues", body=issue_body(5))
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the first ack")
        await runtime.redis.delete(runtime.keys.delivery("d-5"))  # forget the dedupe mark
        created, _ = await worker.stream.append(
            delivery_id="d-5", event="issues", body=issue_body(5)
        )
        assert created
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the second ack")
    assert await runtime.redis.xlen(worker.stream.key) == 2
    seen = (await sims.jobs(System.TYPESCRIPT))[job_id_for("d-5", System.TYPESCRIPT, dry_run=False)]
    assert (seen["received"], seen["acted"]) == (1, 1)  # not even sent a second time


@dataclass
class Instrumented:
    """An agent wrapper that records how many ``process`` calls overlap, per issue and overall."""

    inner: AgentSystem
    active: Counter[Issue] = field(default_factory=Counter)
    peak: Counter[Issue] = field(default_factory=Counter)
    overall: int = 0
    overall_peak: int = 0

    @property
    def system(self) -> System:
        return self.inner.system

    async def process(self, job: AgentJob) -> None:
        issue = job.target
        self.active[issue] += 1
        self.overall += 1
        self.peak[issue] = max(self.peak[issue], self.active[issue])
        self.overall_peak = max(self.overall_peak, self.overall)
        try:
            await self.inner.process(job)
        finally:
            self.active[issue] -= 1
            self.overall -= 1

    async def cancel(self, issue: Issue) -> bool:
        return await self.inner.cancel(issue)

    async def health(self) -> bool:
        return await self.inner.health()


async def test_events_of_one_issue_are_never_dispatched_concurrently(
    runtime: Runtime, sims: Sims
) -> None:
    await sims.control(System.TYPESCRIPT, accept_delay_ms=100)
    agents = sims.agents(runtime.http)
    probe = Instrumented(agents[System.TYPESCRIPT])
    agents[System.TYPESCRIPT] = probe
    workers = [make_worker(runtime, agents, consumer=f"w{n}") for n in (1, 2, 3)]
    deliveries = [f"d-6-{n}" for n in range(12)]
    async with running(*workers):
        for n, delivery in enumerate(deliveries):
            number = 60 + n % 3  # three issues, four events each, interleaved
            await workers[0].stream.append(
                delivery_id=delivery, event="issues", body=issue_body(number, action="edited")
            )
        await eventually(lambda: drained(runtime.redis, workers[0].stream), what="all acks")
    states = [await job_state(workers[0], d, System.TYPESCRIPT) for d in deliveries]
    assert states == [JobState.DISPATCHED] * len(deliveries)
    assert set(probe.peak.values()) == {1}
    assert probe.overall_peak >= 2  # the workers did run side by side


async def test_unparseable_entries_are_dead_lettered_and_the_loop_goes_on(
    runtime: Runtime, sims: Sims
) -> None:
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        await worker.stream.append(delivery_id="bad", event="issues", body=b"{not json")
        await worker.stream.append(delivery_id="ping", event="ping", body=b'{"zen": "hi"}')
        await worker.stream.append(delivery_id="star", event="star", body=b'{"action": "x"}')
        await worker.stream.append(delivery_id="d-7", event="issues", body=issue_body(7))
        await eventually(lambda: drained(runtime.redis, worker.stream), what="all acks")
    [letter] = await worker.stream.dead_letters()
    assert letter.delivery_id == "bad" and "not JSON" in letter.error
    assert await job_state(worker, "d-7", System.TYPESCRIPT) is JobState.DISPATCHED


async def test_kill_switch_cancels_python_work_and_hands_the_issue_back(
    runtime: Runtime, sims: Sims, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        await worker.stream.append(delivery_id="d-8a", event="issues", body=issue_body(8))
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's job")
        assert await job_state(worker, "d-8a", System.PYTHON) is JobState.DISPATCHED

        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()
        await worker.stream.append(
            delivery_id="d-8b", event="issues", body=issue_body(8, action="edited")
        )
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the hand-back")
    assert await job_state(worker, "d-8a", System.PYTHON) is JobState.CANCELLED
    assert await job_state(worker, "d-8b", System.TYPESCRIPT) is JobState.DISPATCHED
    python_jobs = await sims.jobs(System.PYTHON)
    assert [job["status"] for job in python_jobs.values()] == ["cancelled"]
    owner = await OwnershipStore(runtime.redis, prefix=runtime.prefix).owner(Issue(REPO, 8))
    assert owner is not None and owner.system is System.TYPESCRIPT
    # the cancelled delivery is handed over: typescript acts on it instead
    assert await job_state(worker, "d-8a", System.TYPESCRIPT) is JobState.DISPATCHED


async def test_kill_switch_sweep_hands_back_python_work_on_issues_without_new_events(
    runtime: Runtime, sims: Sims, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    worker = make_worker(runtime, sims.agents(runtime.http))
    async with running(worker):
        for number in (13, 14):
            await worker.stream.append(
                delivery_id=f"d-{number}", event="issues", body=issue_body(number)
            )
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's jobs")
        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()  # no further event of either issue arrives

        async def handed_over() -> bool:
            states = [await job_state(worker, f"d-{n}", System.TYPESCRIPT) for n in (13, 14)]
            return states == [JobState.DISPATCHED] * 2

        await eventually(handed_over, what="typescript to get python's cancelled work")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the hand-overs")
    for number in (13, 14):
        assert await job_state(worker, f"d-{number}", System.PYTHON) is JobState.CANCELLED
        owner = await OwnershipStore(runtime.redis, prefix=runtime.prefix).owner(
            Issue(REPO, number)
        )
        assert owner is not None and owner.system is System.TYPESCRIPT
    assert {job["status"] for job in (await sims.jobs(System.PYTHON)).values()} == {"cancelled"}
    assert [job["acted"] for job in (await sims.jobs(System.TYPESCRIPT)).values()] == [1, 1]
    assert await runtime.redis.xlen(worker.stream.key) == 4  # each delivery handed over once


async def test_kill_switch_sweep_survives_an_owned_issue_it_cannot_cancel(
    runtime: Runtime, sims: Sims, flags_reset: UnleashAdmin
) -> None:
    """Entries recorded before intake checked repository names (``./y``, ``../z``) cannot be
    cancelled; the sweep skips them and still hands every other python issue back."""
    owners = OwnershipStore(runtime.redis, prefix=runtime.prefix)
    worker = make_worker(runtime, sims.agents(runtime.http))
    for number, bad in enumerate((Issue("./y", 1), Issue("../z", 2))):
        await owners.claim(bad, System.PYTHON, reason="before names were checked")
        job = Job(
            job_id=job_id_for(f"d-bad-{number}", System.PYTHON, dry_run=False),
            delivery_id=f"d-bad-{number}",
            issue=bad,
            system=System.PYTHON,
            dry_run=False,
            state=JobState.DISPATCHED,
        )
        await worker.jobs.record(job)  # in flight: the sweep must try to cancel it
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    async with running(worker):
        for number in (18, 19):
            await worker.stream.append(
                delivery_id=f"d-{number}", event="issues", body=issue_body(number)
            )
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's jobs")
        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()

        async def handed_back() -> bool:
            good = [await owners.owner(Issue(REPO, n)) for n in (18, 19)]
            return all(o is not None and o.system is System.TYPESCRIPT for o in good)

        await eventually(handed_back, what="the good issues handed back past the bad ones")
    assert {i.repository for i in await owners.issues_owned_by(System.PYTHON)} == {"./y", "../z"}


async def test_a_delivery_is_handed_over_once_and_only_if_its_entry_exists(
    runtime: Runtime,
) -> None:
    stream = EventStream(runtime.redis, prefix=runtime.prefix)
    _, first = await stream.append(delivery_id="d-15", event="issues", body=issue_body(15))
    copy = await stream.hand_over("d-15")
    assert copy is not None and copy != first
    assert await stream.hand_over("d-15") == copy
    rows: Any = await runtime.redis.xrange(stream.key)
    assert [fields["delivery_id"] for _, fields in rows] == ["d-15", "d-15"]
    assert rows[0][1]["body"] == rows[1][1]["body"]
    assert await stream.hand_over("never-accepted") is None


@dataclass
class Sink:
    pulls: list[PullRequestClosed] = field(default_factory=list)
    checks: list[CheckCompleted] = field(default_factory=list)

    async def pull_request_closed(self, event: PullRequestClosed) -> None:
        self.pulls.append(event)

    async def check_completed(self, event: CheckCompleted) -> None:
        self.checks.append(event)


async def test_pull_request_and_ci_events_feed_the_quality_sink(runtime: Runtime) -> None:
    sink = Sink()
    worker = make_worker(runtime, {}, quality=sink)
    repository = {"full_name": REPO}
    pull = {
        "action": "closed",
        "repository": repository,
        "pull_request": {"number": 70, "merged": True, "head": {"ref": "x"}, "body": "Fixes #9"},
    }
    suite = {
        "action": "completed",
        "repository": repository,
        "check_suite": {"conclusion": "failure", "head_branch": "x", "pull_requests": []},
    }
    async with running(worker):
        await worker.stream.append(
            delivery_id="p", event="pull_request", body=json.dumps(pull).encode()
        )
        await worker.stream.append(
            delivery_id="c", event="check_suite", body=json.dumps(suite).encode()
        )
        await eventually(lambda: drained(runtime.redis, worker.stream), what="both acks")
    assert [(p.pr_number, p.merged, p.linked_issues) for p in sink.pulls] == [(70, True, (9,))]
    assert [(c.kind, c.success) for c in sink.checks] == [("check_suite", False)]


async def test_a_worker_that_lost_the_issue_lock_stops_and_the_entry_is_claimed_again(
    runtime: Runtime,
) -> None:
    router = respx.Router(assert_all_called=False)
    route = router.post("http://typescript.test/issues/process").mock(
        side_effect=[httpx.Response(503), httpx.Response(202)]
    )
    thief = IssueLock(runtime.redis, prefix=runtime.prefix, ttl_seconds=5)
    taken = asyncio.Event()
    async with contextlib.AsyncExitStack() as stolen:

        async def slow_backoff(seconds: float) -> None:
            await asyncio.sleep(0.4)  # past the worker's lock ttl: another holder takes it
            await stolen.enter_async_context(thief.hold(Issue(REPO, 9)))
            taken.set()

        async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
            agents: dict[System, AgentSystem] = {
                System.TYPESCRIPT: TypeScriptAgent(base_url="http://typescript.test", http=http)
            }
            worker = make_worker(
                runtime, agents, lock_ttl_seconds=0.3, claim_idle_ms=600, sleep=slow_backoff
            )
            async with running(worker):
                await worker.stream.append(delivery_id="d-9", event="issues", body=issue_body(9))
                await asyncio.wait_for(taken.wait(), timeout=5)
                await asyncio.sleep(0.2)
                assert route.call_count == 1  # fenced: no attempt after the lock was lost
                assert await job_state(worker, "d-9", System.TYPESCRIPT) is JobState.PENDING
                assert (await worker.stream.depth())["pending"] == 1
                await stolen.aclose()  # the other holder is done; the entry is claimed again
                await eventually(lambda: drained(runtime.redis, worker.stream), what="the ack")
    assert route.call_count == 2
    assert await job_state(worker, "d-9", System.TYPESCRIPT) is JobState.DISPATCHED


async def test_a_worker_survives_its_redis_connections_being_killed(
    runtime: Runtime, sims: Sims, settings: Settings
) -> None:
    name = f"worker-{runtime.prefix.replace(':', '-')}"
    own = Redis.from_url(settings.redis_url, decode_responses=True, client_name=name)
    try:
        worker = make_worker(runtime, sims.agents(runtime.http), redis=own)
        intake = EventStream(runtime.redis, prefix=runtime.prefix)  # not the worker's client
        async with running(worker):
            await intake.append(delivery_id="d-10a", event="issues", body=issue_body(10))
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the first ack")
            for _ in range(3):  # kill every connection the worker has, a few times over
                for client in await runtime.redis.client_list():
                    if client.get("name") == name:
                        await runtime.redis.client_kill_filter(_id=client["id"])
                await asyncio.sleep(0.15)
            await intake.append(delivery_id="d-10b", event="issues", body=issue_body(11))
            await eventually(lambda: drained(runtime.redis, intake), what="the second ack")
        assert await job_state(worker, "d-10b", System.TYPESCRIPT) is JobState.DISPATCHED
    finally:
        await own.aclose()


async def test_a_slow_dispatch_is_not_claimed_away_from_a_live_worker(
    runtime: Runtime, sims: Sims
) -> None:
    # w1 touches its entry every 100 ms (a third of its claim idle time); w2 claims entries idle
    # for 1.5 s. The dispatch takes 3.5 s: without the heartbeat w2 would claim it after 1.5 s,
    # and only a stall of 1.4 s (14 heartbeats) could make w2 claim it with the heartbeat.
    await sims.control(System.TYPESCRIPT, accept_delay_ms=3500)
    agents = sims.agents(runtime.http)
    slow = make_worker(runtime, agents, "w1", claim_idle_ms=300)
    other = make_worker(runtime, agents, "w2", claim_idle_ms=1500)
    async with running(slow):
        await slow.stream.append(delivery_id="d-12", event="issues", body=issue_body(12))

        async def at_agent() -> bool:
            return act_id("d-12") in await sims.jobs(System.TYPESCRIPT)

        await eventually(at_agent, what="the dispatch to start")
        async with running(other):

            async def acknowledged_by_w1_alone() -> bool:
                pending = await runtime.redis.xpending_range(slow.stream.key, GROUP, "-", "+", 10)
                assert [(p["consumer"], p["times_delivered"]) for p in pending] in ([], [("w1", 1)])
                return not pending

            await eventually(acknowledged_by_w1_alone, what="w1's ack")
            await eventually(lambda: drained(runtime.redis, slow.stream), what="the ack")
    assert (await sims.jobs(System.TYPESCRIPT))[act_id("d-12")]["received"] == 1


def act_id(delivery: str) -> str:
    return job_id_for(delivery, System.TYPESCRIPT, dry_run=False)
