"""The two ends of every reliability case: GitHub sending, and the agents' ledger checked.

:class:`GitHub` plays GitHub: it signs each delivery with the webhook secret and posts it to
the service; a delivery answered with anything but 2xx, or not answered within GitHub's 10 s,
is redelivered under the same ``X-GitHub-Delivery`` (GitHub does not redeliver by itself; this
is the person or script pressing "Redeliver") until it is taken.

:func:`settle` waits (with a deadline) until the system has come to rest, then reads each
simulated agent's ``/_jobs`` ledger and counts, over the deliveries the service accepted:

- ``dispatched``: acted on by exactly one acting (not dry-run) job that was not cancelled;
- ``lost``: acted on by none;
- ``doubly_acted``: issues on which both systems have an acting job that was not cancelled;
- ``repeated``: deliveries with more than one such job, or a job the agent acted on twice;
- ``unexpected``: acting jobs at an agent that belong to no accepted delivery;
- ``unrecorded``: jobs an agent completed (its callback was answered) or cancelled that
  Switchyard's job records do not hold as completed or cancelled.

Job ids are derived from (delivery, system, role), so the ledger maps jobs back to deliveries
without asking Switchyard. :func:`report` prints the case's one line and adds it to
``tests/artifacts/reliability.json``; :func:`assert_clean` fails the case unless nothing was
lost, repeated, unexpected or doubly acted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from flags.model import Issue, System
from flags.secret import Secret
from service.devtools.webhook_sender import delivery_headers, issue_delivery
from service.github.signature import sign
from service.pipeline.jobs import JobState, JobStore, job_id_for
from service.pipeline.stream import EventStream
from tests.pipeline.test_worker import Sims, drained, eventually

__all__ = [
    "Counts",
    "Delivery",
    "GitHub",
    "Ledger",
    "assert_clean",
    "read_ledger",
    "report",
    "settle",
]

ARTIFACT = Path(__file__).resolve().parent.parent / "artifacts" / "reliability.json"
_GITHUB_TIMEOUT = 10.0  # GitHub gives a webhook receiver 10 s
_REDELIVER_PAUSE = 0.2


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    event: str
    issue: Issue
    body: bytes


@dataclass
class GitHub:
    """Signs and posts deliveries to ``urls`` (round robin), redelivering until each is taken."""

    urls: Sequence[str]
    secret: Secret
    http: httpx.AsyncClient
    repository: str = "acme/reliability"
    sent: dict[str, Delivery] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)  # status code or "no answer"
    _next: int = 0

    def issue_event(self, number: int, action: str = "opened") -> Delivery:
        """A new ``issues`` delivery (a fresh GUID) for issue ``number`` of the repository."""
        sent = issue_delivery(repository=self.repository, number=number, action=action)
        return Delivery(sent.delivery_id, "issues", Issue(self.repository, number), sent.body)

    def _url(self) -> str:
        self._next += 1
        return self.urls[self._next % len(self.urls)]

    async def post(self, delivery: Delivery, url: str | None = None) -> int | None:
        """One attempt: the answer's status, or None when there was no answer in time."""
        self.sent.setdefault(delivery.delivery_id, delivery)
        headers = delivery_headers(
            event=delivery.event,
            delivery_id=delivery.delivery_id,
            signature=sign(self.secret, delivery.body),
        )
        try:
            response = await self.http.post(
                f"{url or self._url()}/webhooks/github",
                content=delivery.body,
                headers=headers,
                timeout=_GITHUB_TIMEOUT,
            )
        except httpx.TransportError:
            self.answers["no answer"] += 1
            return None
        self.answers[str(response.status_code)] += 1
        if response.is_success:
            self.accepted.add(delivery.delivery_id)
        return response.status_code

    async def deliver(self, delivery: Delivery, *, within: float = 120) -> None:
        """Post, and redeliver what was not taken, until a 2xx (or fail after ``within`` s)."""
        deadline = time.monotonic() + within
        while await self.post(delivery) not in range(200, 300):
            if time.monotonic() > deadline:
                raise AssertionError(f"delivery {delivery.delivery_id} never taken: {self.answers}")
            await asyncio.sleep(_REDELIVER_PAUSE)

    async def deliver_all(self, deliveries: Iterable[Delivery], *, concurrency: int = 16) -> None:
        """Deliver each, ``concurrency`` at a time (GitHub sends in parallel too)."""
        slots = asyncio.Semaphore(concurrency)

        async def one(delivery: Delivery) -> None:
            async with slots:
                await self.deliver(delivery)

        await asyncio.gather(*(one(delivery) for delivery in deliveries))

    def failed_answers(self) -> int:
        """Posts that were not taken (non-2xx or no answer)."""
        return sum(n for status, n in self.answers.items() if not status.startswith("2"))


@dataclass(frozen=True, slots=True)
class Counts:
    sent: int
    accepted: int
    dispatched: int
    lost: int
    doubly_acted: int
    repeated: int
    unexpected: int
    unrecorded: int

    def line(self, case: str) -> str:
        return (
            f"reliability {case}: sent={self.sent} accepted={self.accepted} "
            f"dispatched={self.dispatched} lost={self.lost} doubly_acted={self.doubly_acted}"
        )


@dataclass(frozen=True, slots=True)
class Ledger:
    """What the agents saw, against what GitHub got accepted."""

    jobs: dict[System, dict[str, dict[str, Any]]]
    acting: dict[str, list[System]]  # accepted delivery -> systems whose acting job took effect
    doubly_acted: list[Issue]
    repeated: list[str]
    unexpected: list[str]
    unrecorded: list[str]

    def counts(self, github: GitHub) -> Counts:
        return Counts(
            sent=len(github.sent),
            accepted=len(github.accepted),
            dispatched=sum(len(systems) == 1 for systems in self.acting.values()),
            lost=sum(not systems for systems in self.acting.values()),
            doubly_acted=len(self.doubly_acted),
            repeated=len(self.repeated),
            unexpected=len(self.unexpected),
            unrecorded=len(self.unrecorded),
        )

    def acted_by(self, system: System) -> set[str]:
        """Accepted deliveries ``system`` acted on."""
        return {delivery for delivery, systems in self.acting.items() if system in systems}


def _effective(job: dict[str, Any] | None) -> bool:
    return job is not None and not job["dry_run"] and job["status"] != "cancelled"


_RECORDED = {"completed": JobState.COMPLETED, "cancelled": JobState.CANCELLED}


async def read_ledger(github: GitHub, sims: Sims, records: JobStore | None = None) -> Ledger:
    """The agents' ledger against GitHub's accepted deliveries (and, given ``records``,
    against Switchyard's job records)."""
    jobs = {system: await sims.jobs(system) for system in System}
    acting: dict[str, list[System]] = {}
    per_issue: dict[Issue, set[System]] = {}
    known: set[str] = set()
    for delivery_id in sorted(github.accepted):
        ids = {system: job_id_for(delivery_id, system, dry_run=False) for system in System}
        known.update(ids.values())
        known.update(job_id_for(delivery_id, system, dry_run=True) for system in System)
        systems = [system for system in System if _effective(jobs[system].get(ids[system]))]
        acting[delivery_id] = systems
        per_issue.setdefault(github.sent[delivery_id].issue, set()).update(systems)
    repeated = [delivery for delivery, systems in acting.items() if len(systems) > 1]
    repeated += [
        job_id for seen in jobs.values() for job_id, job in seen.items() if job["acted"] > 1
    ]
    unexpected = [
        job_id
        for seen in jobs.values()
        for job_id, job in seen.items()
        if job_id not in known and _effective(job)
    ]
    doubly = sorted(issue for issue, systems in per_issue.items() if len(systems) > 1)
    unrecorded = []
    for seen in jobs.values() if records is not None else ():
        for job_id, job in seen.items():
            expected = _RECORDED.get(job["status"])
            record = await records.get(job_id) if expected and records else None
            if expected and getattr(record, "state", None) is not expected:
                unrecorded.append(f"{job_id}: {job['status']} at the agent, {record}")
    return Ledger(jobs, acting, doubly, repeated, unexpected, unrecorded)


async def settle(
    github: GitHub, sims: Sims, redis: Redis, prefix: str, *, within: float = 60
) -> Ledger:
    """Wait until every accepted delivery took effect at an agent and the event stream is
    drained (or the deadline passes: then the ledger shows what is missing), and read it."""
    stream, records = EventStream(redis, prefix=prefix), JobStore(redis, prefix=prefix)

    async def at_rest() -> bool:
        ledger = await read_ledger(github, sims, records)
        settled = all(ledger.acting.values()) and not ledger.unrecorded
        return settled and await drained(redis, stream)

    try:
        await eventually(at_rest, what="every accepted delivery to take effect", within=within)
    except AssertionError:
        pass  # the counts below say what is missing
    return await read_ledger(github, sims, records)


def report(case: str, github: GitHub, ledger: Ledger, **extra: Any) -> Counts:
    """Print the case's line; record it, the answers GitHub got and ``extra`` in the artifact."""
    counts = ledger.counts(github)
    print(f"\n{counts.line(case)}", flush=True)
    ARTIFACT.parent.mkdir(exist_ok=True)
    try:
        recorded: dict[str, Any] = json.loads(ARTIFACT.read_text())
    except (OSError, ValueError):
        recorded = {}
    recorded[case] = {
        **asdict(counts),
        "posts": sum(github.answers.values()),
        "answers": dict(github.answers),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
    ARTIFACT.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return counts


def assert_clean(case: str, github: GitHub, ledger: Ledger) -> None:
    counts = ledger.counts(github)
    assert counts.accepted == counts.sent, f"{case}: not every delivery was taken"
    missing = [delivery for delivery, systems in ledger.acting.items() if not systems]
    assert counts.lost == 0, f"{case}: lost {missing[:10]}"
    assert counts.repeated == 0, f"{case}: acted on more than once: {ledger.repeated[:10]}"
    assert counts.unexpected == 0, f"{case}: jobs of no accepted delivery: {ledger.unexpected}"
    assert counts.doubly_acted == 0, f"{case}: both systems acted on {ledger.doubly_acted[:10]}"
    assert counts.unrecorded == 0, f"{case}: Switchyard's records disagree: {ledger.unrecorded[:5]}"
    assert counts.dispatched == counts.accepted
