"""Forwarding a delivery to a GitHub App: GitHub's request, byte for byte, re-signed.

The forwarded request is the raw body as GitHub sent it, with the headers GitHub sent (every
``X-GitHub-*`` header: event, delivery id, hook id, installation target id and type; and
``Content-Type``), ``X-Hub-Signature-256`` (and GitHub's older ``X-Hub-Signature``, SHA-1)
computed over the raw body with the App's own secret, and a ``User-Agent`` naming Switchyard.
Since the App's secret is the one GitHub signed with, the signatures are the ones GitHub sent:
the App's own verification accepts the request unchanged.

One call is one attempt; retrying and dead-lettering are the gate's. The App's answer is sorted
like an agent's (:mod:`service.agents.http_agent`): 2xx taken; 5xx, 408, 429, a timeout or a
failed connection retryable (:class:`~service.errors.AgentRetryable`); any other status refused
(:class:`~service.errors.AgentRejected`, carrying the App's status and the start of its answer).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import httpx

from flags.model import Issue, System
from flags.secret import Secret
from service.agents.sansio import RETRYABLE_STATUSES
from service.errors import AgentError, AgentRejected, AgentRetryable
from service.github.signature import GITHUB_SIGNATURE_HEADER, sign

__all__ = ["USER_AGENT", "WebhookForwarder", "forwarded_headers"]

USER_AGENT = "Switchyard-Gate (forwarding GitHub-Hookshot)"
_SHA1_HEADER = "X-Hub-Signature"


def forwarded_headers(
    *, headers: Iterable[tuple[str, str]], body: bytes, secret: Secret
) -> dict[str, str]:
    """The headers of the forwarded request (names as GitHub spells them)."""
    out = {name: value for name, value in headers if name.lower() != "user-agent"}
    out["User-Agent"] = USER_AGENT
    out[GITHUB_SIGNATURE_HEADER] = sign(secret, body)
    sha1 = hmac.new(secret.reveal().encode(), body, hashlib.sha1).hexdigest()
    out[_SHA1_HEADER] = f"sha1={sha1}"
    return out


class WebhookForwarder:
    """Posts deliveries to Apps over an injected :class:`httpx.AsyncClient`."""

    def __init__(self, *, http: httpx.AsyncClient, timeout: float = 10.0) -> None:
        self._http = http
        self._timeout = timeout

    async def forward(
        self,
        *,
        system: System,
        url: str,
        secret: Secret,
        body: bytes,
        headers: Iterable[tuple[str, str]],
        delivery_id: str,
        issue: Issue | None = None,
    ) -> None:
        """One attempt; returns when the App answered 2xx, raises an AgentError otherwise."""
        sent = forwarded_headers(headers=headers, body=body, secret=secret)
        try:
            response = await self._http.post(url, content=body, headers=sent, timeout=self._timeout)
        except httpx.TimeoutException as error:
            cause = f"timed out after {self._timeout:g} s ({type(error).__name__})"
            raise AgentRetryable(
                f"{system} App webhook: {cause}",
                system=system,
                delivery_id=delivery_id,
                issue=issue,
            ) from error
        except httpx.TransportError as error:
            raise AgentRetryable(
                f"{system} App webhook unreachable ({type(error).__name__}: {error})",
                system=system,
                delivery_id=delivery_id,
                issue=issue,
            ) from error
        if response.is_success:
            return
        status = response.status_code
        retryable = status >= httpx.codes.INTERNAL_SERVER_ERROR or status in RETRYABLE_STATUSES
        kind: type[AgentError] = AgentRetryable if retryable else AgentRejected
        raise kind(
            f"{system} App webhook answered {status}: {response.text[:300]!r}",
            system=system,
            agent_status=status,
            delivery_id=delivery_id,
            issue=issue,
        )
