"""What an entry of the event stream and of the dead-letter stream holds, and how its fields
read back (:mod:`service.pipeline.stream` writes them).

Entry fields: ``delivery_id``, ``event``, ``received_at`` (unix seconds), ``body`` (raw JSON);
a GitHub App's own delivery (``/webhooks/github/{system}``, deduplicated per hook) adds ``hook``
and ``headers`` (to forward, JSON). Dead letters add ``error``, ``system``, ``attempts``,
``failed_at``, and keep ``hook`` and ``headers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.typing import EncodableT, FieldT

__all__ = ["DeadLetter", "Rows", "StreamEntry", "dead_letter", "entry", "rows"]


@dataclass(frozen=True, slots=True)
class StreamEntry:
    entry_id: str
    delivery_id: str
    event: str
    received_at: float
    body: bytes
    deliveries: int = 1  # how many times the group has handed this entry out
    hook: str | None = None  # the system whose App hook it came from (None: Switchyard's own)
    headers: tuple[tuple[str, str], ...] = ()  # GitHub's headers, forwarded to the App

    def hook_fields(self) -> dict[FieldT, EncodableT]:
        """The entry's ``hook`` and ``headers`` fields (none for Switchyard's own hook)."""
        if self.hook is None:
            return {}
        return {"hook": self.hook, "headers": json.dumps([list(pair) for pair in self.headers])}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dead_id: str
    delivery_id: str
    event: str
    body: bytes
    system: str
    error: str
    attempts: int
    failed_at: float
    hook: str | None = None


Rows = list[tuple[str, dict[str, str]]]


def rows(raw: Any) -> Rows:
    """redis-py types stream replies loosely; with decode_responses they are str pairs."""
    return [
        (str(entry_id), {str(k): str(v) for k, v in (fields or {}).items()})
        for entry_id, fields in raw or []
    ]


def _headers(fields: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in json.loads(fields.get("headers", "[]")))


def entry(entry_id: str, fields: dict[str, str], deliveries: int = 1) -> StreamEntry:
    """The event stream's entry ``entry_id`` from its fields."""
    return StreamEntry(
        entry_id=entry_id,
        delivery_id=fields["delivery_id"],
        event=fields["event"],
        received_at=float(fields["received_at"]),
        body=fields["body"].encode(),
        deliveries=deliveries,
        hook=fields.get("hook"),
        headers=_headers(fields),
    )


def dead_letter(dead_id: str, fields: dict[str, str]) -> DeadLetter:
    """The dead-letter stream's entry ``dead_id`` from its fields."""
    return DeadLetter(
        dead_id=dead_id,
        delivery_id=fields["delivery_id"],
        event=fields["event"],
        body=fields["body"].encode(),
        system=fields["system"],
        error=fields["error"],
        attempts=int(fields["attempts"]),
        failed_at=float(fields["failed_at"]),
        hook=fields.get("hook"),
    )
