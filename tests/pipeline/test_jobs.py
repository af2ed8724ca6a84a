"""Job records in the real Redis: states never move backwards, also under racing writers."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from flags.model import Issue, System
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for

pytestmark = pytest.mark.integration

ISSUE = Issue("acme/jobs", 1)


def _job(n: int) -> Job:
    delivery = f"d-jobs-{n}"
    return Job(
        job_id_for(delivery, System.PYTHON, dry_run=False),
        delivery,
        ISSUE,
        System.PYTHON,
        False,
        JobState.PENDING,
    )


async def test_a_completion_racing_the_dispatched_write_stays_completed(
    redis_client: Redis, prefix: str
) -> None:
    jobs = JobStore(redis_client, prefix=prefix)
    recorded = [await jobs.record(_job(n)) for n in range(20)]
    await asyncio.gather(
        *(
            update
            for job in recorded
            for update in (
                jobs.update(job.job_id, JobState.COMPLETED),  # the agent's callback
                jobs.update(job.job_id, JobState.DISPATCHED, attempts=1),  # the worker
            )
        )
    )
    states = [getattr(await jobs.get(job.job_id), "state", None) for job in recorded]
    assert states == [JobState.COMPLETED] * len(recorded)
    assert await jobs.in_flight(ISSUE) == []


@pytest.mark.parametrize("later", [JobState.PENDING, JobState.DISPATCHED, JobState.DEAD])
@pytest.mark.parametrize("finished", [JobState.COMPLETED, JobState.CANCELLED])
async def test_a_finished_job_is_never_moved_back(
    redis_client: Redis, prefix: str, finished: JobState, later: JobState
) -> None:
    jobs = JobStore(redis_client, prefix=prefix)
    job = await jobs.record(_job(99))
    assert await jobs.update(job.job_id, finished) is True
    assert await jobs.update(job.job_id, later, attempts=3) is False
    stored = await jobs.get(job.job_id)
    assert stored is not None and (stored.state, stored.attempts) == (finished, 0)


@pytest.mark.parametrize("new", list(JobState))
@pytest.mark.parametrize("current", list(JobState))
async def test_the_update_script_applies_the_one_state_rule(
    redis_client: Redis, prefix: str, current: JobState, new: JobState
) -> None:
    jobs = JobStore(redis_client, prefix=prefix)
    job = await jobs.record(_job(50))
    if current is not JobState.PENDING:
        assert await jobs.update(job.job_id, current) is True
    moved = await jobs.update(job.job_id, new)
    assert moved is current.may_become(new)
    stored = await jobs.get(job.job_id)
    assert stored is not None and stored.state is (new if moved else current)
    listed = [j.job_id for j in await jobs.in_flight(ISSUE)]
    assert (job.job_id in listed) is stored.state.in_flight


async def test_dead_goes_back_to_pending_for_a_replay_and_in_flight_again(
    redis_client: Redis, prefix: str
) -> None:
    jobs = JobStore(redis_client, prefix=prefix)
    job = await jobs.record(_job(7))
    assert await jobs.update(job.job_id, JobState.DEAD, attempts=5) is True
    assert await jobs.in_flight(ISSUE) == []
    assert await jobs.update(job.job_id, JobState.PENDING) is True
    [again] = await jobs.in_flight(ISSUE)
    assert (again.state, again.attempts) == (JobState.PENDING, 5)
    assert await jobs.update("job-unknown", JobState.DISPATCHED) is False
