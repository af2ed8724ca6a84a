"""One webhook delivery over HTTP, made the way GitHub makes it, and what came of it.

The request carries GitHub's headers (``X-GitHub-Event``, ``X-GitHub-Delivery`` = the guid,
the same on every redelivery, ``X-GitHub-Hook-ID``, ``X-GitHub-Hook-Installation-Target-*``,
``X-Hub-Signature-256`` over the exact body, ``User-Agent: GitHub-Hookshot/...``). The outcome is
GitHub's delivery ``status``: ``OK`` for a 2xx, ``Invalid HTTP Response: 503`` for another
status, ``timed out`` or ``failed to connect to host`` (``status_code`` 0) when no answer came.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from flags.secret import Secret
from service.github.intake import DELIVERY_HEADER, EVENT_HEADER
from service.github.signature import GITHUB_SIGNATURE_HEADER, sign

__all__ = ["Outcome", "Target", "post_delivery"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a hook delivers, and how it signs."""

    url: str
    secret: Secret
    hook_id: int
    target_type: str  # repository, organization or integration
    target_id: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    status_code: int
    duration: float


async def post_delivery(
    http: httpx.AsyncClient, target: Target, *, guid: str, event: str, body: bytes
) -> Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/standin",
        EVENT_HEADER: event,
        DELIVERY_HEADER: guid,
        "X-GitHub-Hook-ID": str(target.hook_id),
        "X-GitHub-Hook-Installation-Target-Type": target.target_type,
        "X-GitHub-Hook-Installation-Target-ID": str(target.target_id),
        GITHUB_SIGNATURE_HEADER: sign(target.secret, body),
    }
    started = time.monotonic()
    try:
        response = await http.post(target.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome("timed out", 0, round(time.monotonic() - started, 3))
    except httpx.TransportError:
        return Outcome("failed to connect to host", 0, round(time.monotonic() - started, 3))
    duration = round(time.monotonic() - started, 3)
    if 200 <= response.status_code < 300:
        return Outcome("OK", response.status_code, duration)
    return Outcome(f"Invalid HTTP Response: {response.status_code}", response.status_code, duration)
