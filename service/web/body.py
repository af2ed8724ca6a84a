"""The one capped body reader every endpoint that takes a body uses.

:func:`read_body` returns the raw bytes of a request body, never holding more than ``limit``
bytes of it:

* a ``Content-Length`` that is not a plain decimal number is refused (400); one over the limit
  is refused before a byte is read (413);
* a body without one (chunked) is read chunk by chunk and cut off as soon as it passes the
  limit (413);
* a body that is *large* (over :data:`LARGE_BODY_BYTES`, declared or as it grows) needs one of
  the app's :class:`LargeBodies` slots while it is read and handled. When every slot is taken
  the request is answered 503 with ``Retry-After`` at once, before its body is read: memory
  stays bounded by ``slots * limit`` plus the small bodies, whatever the clients send;
* a client that disconnects mid-body is a 400 (nothing was accepted).

Small bodies (completion callbacks, dashboard forms, most webhooks) never wait for a slot.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from service.errors import Overloaded, PayloadError, PayloadTooLarge

__all__ = ["LARGE_BODY_BYTES", "RETRY_AFTER_SECONDS", "LargeBodies", "large_bodies", "read_body"]

LARGE_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 2
_DECIMAL = re.compile(r"[0-9]{1,20}")


class LargeBodies:
    """How many large bodies one process reads at once (no waiting: a full house is a 503)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self.in_use = 0
        self.refused = 0

    def try_take(self) -> bool:
        if self.in_use >= self.slots:
            self.refused += 1
            return False
        self.in_use += 1
        return True

    def give_back(self) -> None:
        self.in_use -= 1


def large_bodies(request: Request) -> LargeBodies | None:
    """The app's slots (``app.state.large_bodies``), or None in an app without them."""
    found: LargeBodies | None = getattr(request.app.state, "large_bodies", None)
    return found


@contextlib.asynccontextmanager
async def read_body(
    request: Request, *, limit: int, delivery_id: str | None = None
) -> AsyncIterator[bytes]:
    """The whole body, capped; the slot of a large body is held until the block ends."""
    slots = large_bodies(request)
    holding = False
    try:
        declared = _declared_length(request, delivery_id)
        if declared is not None and declared > limit:
            raise PayloadTooLarge(
                f"Content-Length {declared} is over the limit of {limit} bytes",
                delivery_id=delivery_id,
            )
        if declared is not None and declared > LARGE_BODY_BYTES:
            holding = _take(slots, delivery_id)
        chunks: list[bytes] = []
        received = 0
        try:
            async with contextlib.aclosing(request.stream()) as stream:
                async for chunk in stream:
                    received += len(chunk)
                    if received > limit:
                        raise PayloadTooLarge(
                            f"body is over the limit of {limit} bytes", delivery_id=delivery_id
                        )
                    if received > LARGE_BODY_BYTES and not holding:
                        holding = _take(slots, delivery_id)
                    chunks.append(chunk)
        except ClientDisconnect:
            raise PayloadError(
                "the client disconnected before the body was complete", delivery_id=delivery_id
            ) from None
        yield b"".join(chunks)
    finally:
        if holding and slots is not None:
            slots.give_back()


def _declared_length(request: Request, delivery_id: str | None) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not _DECIMAL.fullmatch(declared.strip()):
        raise PayloadError(
            f"Content-Length is not a number: {declared[:40]!r}", delivery_id=delivery_id
        )
    return int(declared.strip())


def _take(slots: LargeBodies | None, delivery_id: str | None) -> bool:
    if slots is None:
        return False
    if not slots.try_take():
        raise Overloaded(
            f"{slots.slots} large bodies are being read already; try again shortly",
            retry_after=RETRY_AFTER_SECONDS,
            delivery_id=delivery_id,
        )
    return True
