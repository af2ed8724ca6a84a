"""The demo's traffic: signed GitHub deliveries of new issues, reviewers and CI acting on the
agents' pull requests, and the waits that keep the narration honest (the service routes with
the new flags; every completion sent so far has arrived). Every number comes from the service's
``/migration/status``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from flags.model import Mode, System
from service.devtools.demo_report import DemoPlan, completed, quality_samples
from service.devtools.webhook_sender import (
    WebhookSender,
    check_suite_delivery,
    issue_delivery,
    pull_request_closed_delivery,
)
from service.errors import DemoFailed

__all__ = ["FLAG_POLL_SECONDS", "Traffic"]

FLAG_POLL_SECONDS = 1  # how often the demo's processes poll Unleash


class Traffic:
    def __init__(
        self,
        *,
        plan: DemoPlan,
        http: httpx.AsyncClient,
        service_url: str,
        sender: WebhookSender,
        agent_urls: dict[System, str],
        status_headers: dict[str, str] | None = None,
    ) -> None:
        self._plan = plan
        self._http = http
        self._service = service_url.rstrip("/")
        self._sender = sender
        self.agents = {system: url.rstrip("/") for system, url in agent_urls.items()}
        self._headers = status_headers or {}
        self._rng = random.Random(plan.seed)  # noqa: S311 -- reviewers' dice, not a secret
        self._reviewed: set[str] = set()
        self._next_issue = 1
        self._sent_acting = 0
        self._sent_quality = 0
        self.issues: list[int] = []

    async def status(self) -> dict[str, Any]:
        response = await self._http.get(
            f"{self._service}/migration/status?window=1h", headers=self._headers
        )
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    async def send_issues(self, count: int) -> None:
        for _ in range(count):
            number = self._next_issue
            self._next_issue += 1
            self.issues.append(number)
            status = await self._sender.send(
                issue_delivery(repository=self._plan.repository, number=number)
            )
            if status != 202:
                raise DemoFailed(f"the service answered {status} to issue #{number}'s delivery")
            self._sent_acting += 1
            if self._plan.pace_seconds:
                await asyncio.sleep(self._plan.pace_seconds)

    async def send_edits(self, numbers: list[int]) -> None:
        for number in numbers:
            delivery = issue_delivery(
                repository=self._plan.repository, number=number, action="edited"
            )
            status = await self._sender.send(delivery)
            if status != 202:
                raise DemoFailed(f"the service answered {status} to an edit of #{number}")
            if self._plan.pace_seconds:
                await asyncio.sleep(self._plan.pace_seconds)

    async def propagated(self, mode: Mode, percentage: int | None) -> dict[str, Any]:
        """Wait until the service routes with the new flags, then one more poll of every process.

        The change is broadcast at once, but a loaded worker may still route the next event
        with the flags it held; the demo's processes also poll every second, so two seconds
        after the service shows the change every worker has fetched it too.
        """
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            status = await self.status()
            if status.get("mode") == mode.value and (
                percentage is None or status.get("rollout_percentage") == percentage
            ):
                break
            if time.monotonic() > deadline:
                raise DemoFailed(f"the service does not route with mode {mode.value} yet")
            await asyncio.sleep(0.25)
        await asyncio.sleep(2 * FLAG_POLL_SECONDS)
        return status

    async def settled(self) -> dict[str, Any]:
        """Wait until every acting job and PR/CI result sent so far has been recorded."""
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            status = await self.status()
            acting, quality = completed(status, shadow=False), quality_samples(status)
            if acting >= self._sent_acting and quality >= self._sent_quality:
                return status
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"only {acting}/{self._sent_acting} acting completions and "
                    f"{quality}/{self._sent_quality} PR and CI results arrived; see the worker "
                    "and agent logs"
                )
            await asyncio.sleep(0.25)

    async def review(self) -> None:
        """Reviewers and CI act on the new pull requests: a merge or a close, a CI result."""
        plan = self._plan
        for index, system in enumerate(System):
            response = await self._http.get(f"{self.agents[system]}/_jobs")
            response.raise_for_status()
            merge, build = plan.merge_rates[index], plan.build_rates[index]
            for job in response.json():
                if job["pr_number"] is None or job["job_id"] in self._reviewed:
                    continue
                self._reviewed.add(job["job_id"])
                common = {
                    "repository": job["repository"],
                    "pr_number": job["pr_number"],
                    "issue_number": job["issue_number"],
                }
                passed = self._rng.random() < build
                merged = passed and self._rng.random() < min(1.0, merge / build)  # red CI: no merge
                for delivery in (
                    check_suite_delivery(**common, passed=passed),
                    pull_request_closed_delivery(**common, merged=merged),
                ):
                    status = await self._sender.send(delivery)
                    if status != 202:
                        raise DemoFailed(f"the service answered {status} to a {delivery.event}")
                    self._sent_quality += 1

    async def set_python(self, **control: Any) -> None:
        response = await self._http.post(f"{self.agents[System.PYTHON]}/_control", json=control)
        response.raise_for_status()
