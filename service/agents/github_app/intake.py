"""A GitHub App's delivery at ``POST /webhooks/github/{system}``: a pure function of (headers,
raw body, the App's secret).

:func:`check_app_delivery` checks what Switchyard's own hook checks, with the same
:func:`service.github.intake.verify_delivery` (size, ``X-Hub-Signature-256`` over the raw bytes
before anything is parsed, JSON content type, ``X-GitHub-Event`` and ``X-GitHub-Delivery``),
then a UTF-8 JSON object and what the gate needs to decide
(:func:`~service.agents.github_app.subject.subject_of`), and keeps the headers that are
forwarded to the App as GitHub sent them: every ``X-GitHub-*`` header (event, delivery, hook id,
installation target id and type, ...) and ``Content-Type``. Unlike Switchyard's own hook, every
event is taken (an App needs its ``installation`` and ``ping`` events too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flags.secret import Secret
from service.agents.github_app.subject import Subject, subject_of
from service.errors import PayloadError
from service.github.intake import verify_delivery
from service.json_input import load_json

__all__ = ["AppDelivery", "canonical_header", "check_app_delivery"]

_KEPT_PREFIX = "x-github-"
_MAX_KEPT = 32  # GitHub sends about six; more is not GitHub
_TOKEN_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F))


@dataclass(frozen=True, slots=True)
class AppDelivery:
    """A verified delivery for one App: what it is about and the headers to forward."""

    delivery_id: str
    event: str
    subject: Subject
    headers: tuple[tuple[str, str], ...]  # canonical name, value as received


def canonical_header(name: str) -> str:
    """GitHub's spelling of a header name: ``x-github-hook-id`` -> ``X-GitHub-Hook-ID``."""
    special = {"github": "GitHub", "id": "ID"}
    return "-".join(special.get(part, part.capitalize()) for part in name.lower().split("-"))


def check_app_delivery(*, headers: Mapping[str, str], body: bytes, secret: Secret) -> AppDelivery:
    """Check one App delivery; raise a :class:`~service.errors.SwitchyardError` if refused."""
    verified = verify_delivery(headers=headers, body=body, secret=secret)
    delivery_id, event, content_type = verified.delivery_id, verified.event, verified.content_type
    payload = load_json(body, delivery_id=delivery_id)
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object", delivery_id=delivery_id)
    kept = [
        (canonical_header(name), value)
        for name, value in verified.headers.items()
        if name.startswith(_KEPT_PREFIX) and _TOKEN_CHARS.issuperset(value.replace(" ", ""))
    ]
    if len(kept) > _MAX_KEPT:
        raise PayloadError(f"{len(kept)} X-GitHub-* headers", delivery_id=delivery_id)
    kept.append(("Content-Type", content_type))
    return AppDelivery(
        delivery_id=delivery_id,
        event=event,
        subject=subject_of(event=event, delivery_id=delivery_id, payload=payload),
        headers=tuple(sorted(kept)),
    )
