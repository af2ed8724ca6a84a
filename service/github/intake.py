"""Webhook intake as a pure function of (headers, raw body, secret): what to do with a delivery.

:func:`check_delivery` does no I/O. It checks, in this order, and raises the first failure:

1. the body is at most :data:`MAX_BODY_BYTES` (:class:`PayloadTooLarge`, 413);
2. ``X-Hub-Signature-256`` signs the raw bytes, compared in constant time, before anything
   is parsed (:class:`SignatureError`, 401);
3. ``Content-Type`` is ``application/json`` (:class:`UnsupportedMediaType`, 415);
4. ``X-GitHub-Event`` and ``X-GitHub-Delivery`` are present (:class:`PayloadError`, 400);
5. the body is a UTF-8 JSON object with what the event needs (:class:`PayloadError`, 400).

Steps 1-4 are :func:`verify_delivery`, shared with a GitHub App's own hook
(:mod:`service.agents.github_app.intake`). :func:`check_delivery` returns :class:`Accepted` for
the deliveries the worker acts on (routed ``issues``, closed pull requests, completed checks),
:class:`Ping` for GitHub's hello and :class:`Ignored` for everything else. The HTTP adapter is
:mod:`service.web.webhooks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flags.secret import Secret
from service.errors import PayloadError, PayloadTooLarge, UnsupportedMediaType
from service.github.events import (
    CheckCompleted,
    Ignored,
    IssueEvent,
    Ping,
    PullRequestClosed,
    parse_event,
)
from service.github.signature import GITHUB_SIGNATURE_HEADER, verify_signature

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "MAX_BODY_BYTES",
    "Accepted",
    "Verified",
    "check_delivery",
    "verify_delivery",
]

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
_JSON = "application/json"
# GitHub sends a GUID and a snake_case name; anything printable and short is taken as is.
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")


@dataclass(frozen=True, slots=True)
class Accepted:
    """A verified delivery the worker acts on: to be appended to the event stream."""

    delivery_id: str
    event: str
    parsed: IssueEvent | PullRequestClosed | CheckCompleted


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivery whose size, signature, content type and GitHub headers passed."""

    delivery_id: str
    event: str
    headers: Mapping[str, str]  # lower-cased names; the first of repeated headers counts
    content_type: str


def verify_delivery(*, headers: Mapping[str, str], body: bytes, secret: Secret) -> Verified:
    """Checks 1-4 of the module's list; raise a :class:`~service.errors.SwitchyardError` if
    refused. Header names are matched case-insensitively (the first of repeated headers counts).
    """
    given = _lowercase(headers)
    delivery_id = _token(given, DELIVERY_HEADER)  # unverified until the signature passes
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", delivery_id=delivery_id
        )
    verify_signature(
        secret=secret,
        body=body,
        header=given.get(GITHUB_SIGNATURE_HEADER.lower()),
        delivery_id=delivery_id,
    )
    content_type = given.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != _JSON:
        raise UnsupportedMediaType(
            f"Content-Type must be {_JSON}, not {content_type[:80]!r}", delivery_id=delivery_id
        )
    event = _token(given, EVENT_HEADER)
    if event is None:
        raise PayloadError(f"{EVENT_HEADER} is missing or malformed", delivery_id=delivery_id)
    if delivery_id is None:
        raise PayloadError(f"{DELIVERY_HEADER} is missing or malformed")
    return Verified(delivery_id=delivery_id, event=event, headers=given, content_type=content_type)


def check_delivery(
    *, headers: Mapping[str, str], body: bytes, secret: Secret
) -> Accepted | Ping | Ignored:
    """Check one delivery; raise a :class:`~service.errors.SwitchyardError` if it is refused."""
    verified = verify_delivery(headers=headers, body=body, secret=secret)
    delivery_id = verified.delivery_id
    try:
        body.decode("utf-8")  # json.loads would also take UTF-16 and UTF-32; the stream would not
    except UnicodeDecodeError as error:
        raise PayloadError(f"body is not UTF-8: {error}", delivery_id=delivery_id) from None
    parsed = parse_event(event=verified.event, delivery_id=delivery_id, body=body)
    if isinstance(parsed, Ping | Ignored):
        return parsed
    return Accepted(delivery_id=delivery_id, event=verified.event, parsed=parsed)


def _lowercase(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)
    return lowered


def _token(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower(), "").strip()
    return value if _TOKEN.fullmatch(value) else None
