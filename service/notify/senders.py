"""Where notifications go: a generic JSON webhook signed like GitHub's, and Slack.

A sender answers ``None`` when the receiver took the notification (2xx) and a short error text
otherwise; it never raises for the receiver's fault, and waits at most ``timeout`` seconds.

The webhook's body is the notification as JSON; ``X-Switchyard-Event`` is its id (the same on
every retry: receivers deduplicate by it) and ``X-Switchyard-Signature-256`` is
``sha256=<hex HMAC-SHA256 of the body with the shared secret>``, verified like GitHub's
``X-Hub-Signature-256`` (:func:`verify`). Slack gets ``{"text": ...}`` with a link to the
dashboard. :func:`configured_senders` builds the receivers the settings name; the deliverer (the
watchdog) is the one process that needs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Protocol

import httpx

from flags.secret import Secret

if TYPE_CHECKING:
    from service.notify.outbox import Notification
    from service.settings import Settings

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "Sender",
    "SlackSender",
    "WebhookSender",
    "configured_senders",
    "sign",
    "verify",
]

EVENT_HEADER = "X-Switchyard-Event"
SIGNATURE_HEADER = "X-Switchyard-Signature-256"


def sign(secret: Secret, body: bytes) -> str:
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: Secret, body: bytes, header: str | None) -> bool:
    """Constant-time check of a ``X-Switchyard-Signature-256`` header over the raw body."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class Sender(Protocol):
    name: str

    async def send(self, event: Notification) -> str | None: ...


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], seconds: float
) -> str | None:
    try:
        response = await http.post(url, content=body, headers=headers, timeout=seconds)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"
    return None if response.is_success else f"HTTP {response.status_code}"


class WebhookSender:
    def __init__(
        self, *, http: httpx.AsyncClient, url: str, secret: Secret, timeout: float = 5.0
    ) -> None:
        self.name = "webhook"
        self._http, self._url, self._secret, self._timeout = http, url, secret, timeout

    async def send(self, event: Notification) -> str | None:
        body = json.dumps(event.as_dict(), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event.id,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        return await _post(self._http, self._url, body, headers, self._timeout)


class SlackSender:
    def __init__(
        self, *, http: httpx.AsyncClient, url: str, dashboard_url: str, timeout: float = 5.0
    ) -> None:
        self.name = "slack"
        self._http, self._url, self._dashboard, self._timeout = http, url, dashboard_url, timeout

    async def send(self, event: Notification) -> str | None:
        text = f"{event.text} (by {event.actor}) <{self._dashboard}|dashboard>"
        body = json.dumps({"text": text}).encode()
        return await _post(
            self._http, self._url, body, {"Content-Type": "application/json"}, self._timeout
        )


def configured_senders(
    settings: Settings, http: httpx.AsyncClient, *, slack_url: str | None = None
) -> list[Sender]:
    """The receivers the settings configure: the generic webhook (URL and secret) and Slack
    (``SWITCHYARD_SLACK_WEBHOOK_URL``, or ``slack_url``: the watchdog's ``--alert-url``)."""
    senders: list[Sender] = []
    if settings.notify_webhook_url and settings.notify_webhook_secret:
        senders.append(
            WebhookSender(
                http=http, url=settings.notify_webhook_url, secret=settings.notify_webhook_secret
            )
        )
    slack = slack_url or settings.slack_webhook_url
    if slack:
        dashboard = f"{settings.service_url}/migration/dashboard"
        senders.append(SlackSender(http=http, url=slack, dashboard_url=dashboard))
    return senders
