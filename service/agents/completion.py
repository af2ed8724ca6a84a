"""The completion callback an agent system sends when a job is done.

``POST /agents/{system}/completions`` with a JSON body::

    {"job_id": str, "issue_number": int, "success": bool, "duration_seconds": number,
     "dry_run": bool, "pr_number": int | null (optional), "output_digest": str | null (optional)}

signed like a GitHub webhook (``sha256=<hex>`` in the header ``X-Switchyard-Signature``) over
``<system>\n<raw body>`` under that system's own secret (``SWITCHYARD_<SYSTEM>_AGENT_SECRET``):
the signature covers the system and the job id (in the body), so one system cannot report the
other's jobs. Without a per-system secret, the shared ``SWITCHYARD_AGENT_SECRET`` is still
accepted (over the same message, or the old body-only signature), with a deprecation warning.
Whether a job was acting or shadow is the job record's word, never the report's ``dry_run``.

Everything is bounded before it is recorded (else 400, naming the field): ``duration_seconds``
in 0 .. :data:`MAX_DURATION_SECONDS` (7 days), ``issue_number`` and ``pr_number`` in
1 .. :data:`MAX_NUMBER` (GitHub's numbers are 32-bit), ``job_id`` and ``output_digest`` at most
:data:`MAX_TEXT` printable ASCII characters; the body is parsed by
:func:`~service.json_input.load_json` (depth, huge integers, NaN, duplicate keys refused).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from flags.model import System
from flags.secret import Secret
from service.errors import PayloadError, SignatureError
from service.github.names import MAX_NUMBER
from service.github.signature import sign, verify_signature
from service.json_input import load_json

__all__ = [
    "COMPLETION_SIGNATURE_HEADER",
    "MAX_DURATION_SECONDS",
    "MAX_NUMBER",
    "MAX_TEXT",
    "Completion",
    "completion_message",
    "parse_completion",
    "sign_completion",
    "verify_completion",
]

COMPLETION_SIGNATURE_HEADER = "X-Switchyard-Signature"
MAX_DURATION_SECONDS = 7 * 24 * 3600.0
MAX_TEXT = 200
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class Completion:
    """The outcome of one job. ``pr_number`` is set when the system opened a pull request;
    ``output_digest`` summarises the output so a shadow run can be compared with the acting one."""

    job_id: str
    issue_number: int
    success: bool
    duration_seconds: float
    dry_run: bool
    pr_number: int | None = None
    output_digest: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        """The callback body (sign exactly these bytes)."""
        return json.dumps(self.as_payload(), separators=(",", ":")).encode()


def parse_completion(body: bytes) -> Completion:
    """Parse a callback body; raise :class:`PayloadError` naming the bad field."""
    data = load_json(body, what="completion")
    if not isinstance(data, dict):
        raise PayloadError("completion is not a JSON object")
    job_id, success, dry_run = data.get("job_id"), data.get("success"), data.get("dry_run")
    duration, digest = data.get("duration_seconds"), data.get("output_digest")
    if not isinstance(job_id, str) or not _text(job_id):
        raise PayloadError(f"completion.job_id must be 1-{MAX_TEXT} printable ASCII characters")
    if not isinstance(success, bool) or not isinstance(dry_run, bool):
        raise PayloadError("completion.success and completion.dry_run must be true or false")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not math.isfinite(duration)
        or not 0 <= duration <= MAX_DURATION_SECONDS
    ):
        raise PayloadError(
            f"completion.duration_seconds must be a number 0..{MAX_DURATION_SECONDS:g}"
        )
    if digest is not None and not (isinstance(digest, str) and _text(digest)):
        raise PayloadError(
            f"completion.output_digest must be null or 1-{MAX_TEXT} printable ASCII characters"
        )
    pr_number = data.get("pr_number")
    return Completion(
        job_id=job_id,
        issue_number=_positive(data.get("issue_number"), "issue_number"),
        success=success,
        duration_seconds=float(duration),
        dry_run=dry_run,
        pr_number=None if pr_number is None else _positive(pr_number, "pr_number"),
        output_digest=digest,
    )


def completion_message(system: System, body: bytes) -> bytes:
    """What a completion signature covers: the reporting system, then the raw body."""
    return f"{system.value}\n".encode() + body


def sign_completion(secret: Secret, body: bytes, *, system: System | None = None) -> str:
    """The ``X-Switchyard-Signature`` value for ``body`` sent by ``system`` (None: the old
    body-only signature, still accepted under the deprecated shared secret)."""
    return sign(secret, body if system is None else completion_message(system, body))


def verify_completion(
    *, system: System, own: Secret | None, shared: Secret | None, body: bytes, header: str | None
) -> bool:
    """Return whether the deprecated shared secret was used; raise
    :class:`~service.errors.SignatureError` unless ``header`` signs this system's callback.

    With ``own`` (the system's secret) only that is accepted; else the shared secret, over the
    system and body or (old senders) the body alone."""
    message = completion_message(system, body)
    check = COMPLETION_SIGNATURE_HEADER
    if own is not None:
        verify_signature(secret=own, body=message, header=header, header_name=check)
        return False
    if shared is None:
        raise SignatureError(f"no callback secret is configured for {system}; refusing")
    try:
        verify_signature(secret=shared, body=message, header=header, header_name=check)
    except SignatureError:
        verify_signature(secret=shared, body=body, header=header, header_name=check)
    return True


def _positive(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_NUMBER:
        raise PayloadError(f"completion.{key} must be a whole number 1..{MAX_NUMBER}")
    return value


def _text(value: str) -> bool:
    return len(value) <= MAX_TEXT and _PRINTABLE.fullmatch(value) is not None
