"""The stand-in's webhooks: each keeps its deliveries' payloads and every attempt made.

A *delivery* in GitHub's API is one attempt: its own ``id``, the event's ``guid`` (shared by
every redelivery, and sent as ``X-GitHub-Delivery``), ``delivered_at``, ``redelivery``,
``duration``, ``status``, ``status_code``, ``event``, ``action``, ``installation_id`` and
``repository_id``. :meth:`DeliveryStore.send` plays GitHub sending a new event (tests and the
demo call it; a receiver that is down leaves a failed attempt); :meth:`DeliveryStore.redeliver`
plays ``POST .../deliveries/{id}/attempts``: the stored body re-POSTed with the same guid,
refused (:class:`Spammed`, GitHub's 422) past ``redelivery_limit`` redeliveries per hook within
``redelivery_window`` seconds. Attempts older than ``retention`` (GitHub: 3 days) are dropped.
"""

from __future__ import annotations

import collections
import itertools
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from flags.secret import Secret
from service.devtools.github_standin.auth import iso_time
from service.devtools.github_standin.sender import Target, post_delivery
from service.errors import DevtoolsError
from service.github.api.hooks import HookRef

__all__ = ["Attempt", "DeliveryStore", "Hook", "Spammed", "UnknownDelivery"]

RETENTION_SECONDS = 3 * 24 * 3600


class Spammed(DevtoolsError):
    """Too many redeliveries on one hook: GitHub's 422."""


class UnknownDelivery(DevtoolsError):
    """No such hook or delivery (or it is older than the retention): 404."""


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    guid: str
    delivered_at: float
    redelivery: bool
    duration: float
    status: str
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None

    def as_json(self) -> dict[str, Any]:
        """GitHub's "simple webhook delivery" object."""
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": iso_time(self.delivered_at),
            "redelivery": self.redelivery,
            "duration": self.duration,
            "status": self.status,
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "repository_id": self.repository_id,
            "throttled_at": None,
        }


@dataclass(frozen=True, slots=True)
class _Payload:
    event: str
    body: bytes
    action: str | None
    installation_id: int | None
    repository_id: int | None


@dataclass
class Hook:
    ref: HookRef
    target: Target
    attempts: list[Attempt] = field(default_factory=list)  # oldest first
    payloads: dict[str, _Payload] = field(default_factory=dict)  # by guid
    redeliveries: collections.deque[float] = field(default_factory=collections.deque)


def _int_at(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    inner = value.get("id") if isinstance(value, dict) else None
    return inner if isinstance(inner, int) else None


class DeliveryStore:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
        redelivery_limit: int = 60,
        redelivery_window: float = 60.0,
        retention: float = RETENTION_SECONDS,
    ) -> None:
        self._http = http
        self._clock = clock
        self.redelivery_limit = redelivery_limit
        self.redelivery_window = redelivery_window
        self._retention = retention
        self._ids = itertools.count(90_000_000_001)
        self.hooks: dict[str, Hook] = {}
        self.app_hooks: dict[str, str] = {}  # App id -> the spec of its own hook

    def add_hook(self, ref: HookRef, *, url: str, secret: Secret, app_id: int = 0) -> Hook:
        """A webhook delivering to ``url``; an App's (``ref.kind == "app"``) is the hook of App
        ``app_id``, listed at ``/app/hook/deliveries`` with that App's JWT."""
        kind = {"repo": "repository", "org": "organization", "app": "integration"}[ref.kind]
        target = Target(url, secret, ref.hook_id or app_id, kind, ref.hook_id or app_id)
        hook = self.hooks[ref.spec] = Hook(ref, target)
        if ref.kind == "app":
            self.app_hooks[str(app_id)] = ref.spec
        return hook

    def hook(self, spec: str) -> Hook:
        hook = self.hooks.get(spec)
        if hook is None:
            raise UnknownDelivery(spec)
        cutoff = self._clock() - self._retention
        if hook.attempts and hook.attempts[0].delivered_at < cutoff:
            hook.attempts = [a for a in hook.attempts if a.delivered_at >= cutoff]
            alive = {a.guid for a in hook.attempts}
            hook.payloads = {g: p for g, p in hook.payloads.items() if g in alive}
        return hook

    async def send(
        self, spec: str, *, event: str, payload: bytes | Mapping[str, Any], guid: str | None = None
    ) -> Attempt:
        """GitHub sending a new event on hook ``spec`` (one attempt, whatever its outcome)."""
        hook = self.hook(spec)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        parsed = json.loads(body)
        fields = parsed if isinstance(parsed, dict) else {}
        action = fields.get("action")
        stored = _Payload(
            event=event,
            body=body,
            action=action if isinstance(action, str) else None,
            installation_id=_int_at(fields, "installation"),
            repository_id=_int_at(fields, "repository"),
        )
        guid = guid or str(uuid.uuid4())
        hook.payloads[guid] = stored
        return await self._attempt(hook, guid, stored, redelivery=False)

    async def redeliver(self, spec: str, delivery_id: int) -> Attempt:
        hook = self.hook(spec)
        original = next((a for a in hook.attempts if a.id == delivery_id), None)
        if original is None or original.guid not in hook.payloads:
            raise UnknownDelivery(f"{spec} delivery {delivery_id}")
        now = self._clock()
        while hook.redeliveries and hook.redeliveries[0] <= now - self.redelivery_window:
            hook.redeliveries.popleft()
        if len(hook.redeliveries) >= self.redelivery_limit:
            raise Spammed(spec)
        hook.redeliveries.append(now)
        return await self._attempt(hook, original.guid, hook.payloads[original.guid], True)

    async def _attempt(self, hook: Hook, guid: str, payload: _Payload, redelivery: bool) -> Attempt:
        delivered_at = self._clock()
        outcome = await post_delivery(
            self._http, hook.target, guid=guid, event=payload.event, body=payload.body
        )
        attempt = Attempt(
            id=next(self._ids),
            guid=guid,
            delivered_at=delivered_at,
            redelivery=redelivery,
            duration=outcome.duration,
            status=outcome.status,
            status_code=outcome.status_code,
            event=payload.event,
            action=payload.action,
            installation_id=payload.installation_id,
            repository_id=payload.repository_id,
        )
        hook.attempts.append(attempt)
        return attempt

    def page(
        self, spec: str, *, before_id: int | None, per_page: int, redelivery: bool | None
    ) -> tuple[list[Attempt], int | None]:
        """Newest first from ``before_id`` (inclusive); the next page's first id, if any."""
        chosen = [
            a
            for a in reversed(self.hook(spec).attempts)
            if (before_id is None or a.id <= before_id)
            and (redelivery is None or a.redelivery == redelivery)
        ]
        more = chosen[per_page] if len(chosen) > per_page else None
        return chosen[:per_page], (more.id if more else None)
