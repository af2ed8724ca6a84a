"""Signed GitHub ``issues`` deliveries, sent the way GitHub sends them.

The demo (and anyone trying a deployment) plays GitHub with this: each delivery has its own
``X-GitHub-Delivery`` id and an ``X-Hub-Signature-256`` over the exact body. Like GitHub's
redelivery, a delivery answered with a 5xx or not answered is sent again, same id, same body.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass

import httpx

from flags.secret import Secret
from service.github.intake import DELIVERY_HEADER, EVENT_HEADER
from service.github.signature import GITHUB_SIGNATURE_HEADER, sign

__all__ = [
    "Delivery",
    "WebhookSender",
    "check_suite_delivery",
    "delivery_headers",
    "issue_delivery",
    "pull_request_closed_delivery",
]


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    event: str
    body: bytes


def delivery_headers(*, event: str, delivery_id: str, signature: str) -> dict[str, str]:
    """The headers GitHub sends with a delivery; ``signature`` from :func:`sign` over the body."""
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        GITHUB_SIGNATURE_HEADER: signature,
    }


def issue_delivery(
    *, repository: str, number: int, action: str = "opened", title: str | None = None
) -> Delivery:
    payload = {
        "action": action,
        "issue": {
            "number": number,
            "title": title or f"Issue {number}",
            "body": f"Steps to reproduce issue {number}.",
            "labels": [],
            "state": "open",
        },
        "repository": _repository(repository),
        "sender": {"login": "octocat"},
    }
    return Delivery(str(uuid.uuid4()), "issues", json.dumps(payload).encode())


def _repository(repository: str) -> dict[str, object]:
    return {"full_name": repository, "owner": {"login": repository.split("/", 1)[0]}}


def pull_request_closed_delivery(
    *, repository: str, pr_number: int, issue_number: int, merged: bool
) -> Delivery:
    """A reviewer merged (or closed without merging) the pull request resolving the issue."""
    payload = {
        "action": "closed",
        "number": pr_number,
        "pull_request": {
            "number": pr_number,
            "state": "closed",
            "merged": merged,
            "body": f"Fixes #{issue_number}",
            "head": {"ref": f"agent/issue-{issue_number}"},
        },
        "repository": _repository(repository),
        "sender": {"login": "reviewer"},
    }
    return Delivery(str(uuid.uuid4()), "pull_request", json.dumps(payload).encode())


def check_suite_delivery(
    *, repository: str, pr_number: int, issue_number: int, passed: bool
) -> Delivery:
    """CI finished on the pull request's head commit."""
    payload = {
        "action": "completed",
        "check_suite": {
            "status": "completed",
            "conclusion": "success" if passed else "failure",
            "head_branch": f"agent/issue-{issue_number}",
            "pull_requests": [{"number": pr_number}],
        },
        "repository": _repository(repository),
        "sender": {"login": "ci"},
    }
    return Delivery(str(uuid.uuid4()), "check_suite", json.dumps(payload).encode())


class WebhookSender:
    def __init__(
        self, http: httpx.AsyncClient, *, url: str, secret: Secret, attempts: int = 5
    ) -> None:
        self._http = http
        self._url = url.rstrip("/") + "/webhooks/github"
        self._secret = secret
        self._attempts = attempts

    async def send(self, delivery: Delivery) -> int:
        """POST the delivery, redelivering on 5xx or a transport error; the last status."""
        headers = delivery_headers(
            event=delivery.event,
            delivery_id=delivery.delivery_id,
            signature=sign(self._secret, delivery.body),
        )
        headers["User-Agent"] = "GitHub-Hookshot/switchyard-sender"
        status = 0
        for attempt in range(self._attempts):
            try:
                response = await self._http.post(self._url, content=delivery.body, headers=headers)
                status = response.status_code
                if status < 500:
                    return status
            except httpx.TransportError:
                status = 0
            await asyncio.sleep(0.2 * 2**attempt)
        return status
