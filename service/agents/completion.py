"""The completion callback an agent system sends when a job is done.

``POST /agents/{system}/completions`` with a JSON body::

    {"job_id": str, "issue_number": int, "success": bool, "duration_seconds": number,
     "dry_run": bool, "pr_number": int | null (optional), "output_digest": str | null (optional)}

signed like a GitHub webhook (HMAC-SHA256 of the raw body, ``sha256=<hex>``) but in the header
``X-Switchyard-Signature``, under the secret Switchyard shares with the agent systems.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from flags.secret import Secret
from service.errors import PayloadError
from service.github.signature import sign, verify_signature

__all__ = [
    "COMPLETION_SIGNATURE_HEADER",
    "Completion",
    "parse_completion",
    "sign_completion",
    "verify_completion",
]

COMPLETION_SIGNATURE_HEADER = "X-Switchyard-Signature"


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
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"completion is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise PayloadError("completion is not a JSON object")
    job_id, success, dry_run = data.get("job_id"), data.get("success"), data.get("dry_run")
    duration, digest = data.get("duration_seconds"), data.get("output_digest")
    if not isinstance(job_id, str) or not job_id:
        raise PayloadError("completion.job_id is missing or not a non-empty string")
    if not isinstance(success, bool) or not isinstance(dry_run, bool):
        raise PayloadError("completion.success and completion.dry_run must be true or false")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not math.isfinite(duration)
        or duration < 0
    ):
        raise PayloadError("completion.duration_seconds must be a non-negative number")
    if digest is not None and not isinstance(digest, str):
        raise PayloadError("completion.output_digest must be a string or null")
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


def sign_completion(secret: Secret, body: bytes) -> str:
    """The ``X-Switchyard-Signature`` value for ``body``."""
    return sign(secret, body)


def verify_completion(secret: Secret, body: bytes, header: str | None) -> None:
    """Raise :class:`~service.errors.SignatureError` unless ``header`` signs ``body``."""
    verify_signature(
        secret=secret, body=body, header=header, header_name=COMPLETION_SIGNATURE_HEADER
    )


def _positive(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadError(f"completion.{key} must be a positive integer")
    return value
