"""HMAC-SHA256 body signatures: GitHub's ``X-Hub-Signature-256`` and our own callbacks.

A signature header is ``sha256=<64 lowercase hex digits>``, the HMAC-SHA256 of the raw body
bytes under the shared secret. It is checked on the bytes, before any parsing, and compared in
constant time (:func:`hmac.compare_digest`). ``sha1=`` (GitHub's old ``X-Hub-Signature``) and
every other scheme are refused. An empty secret refuses everything, so a missing configuration
never means "accept unsigned".
"""

from __future__ import annotations

import hashlib
import hmac
import string

from flags.secret import Secret
from service.errors import SignatureError

__all__ = ["GITHUB_SIGNATURE_HEADER", "SIGNATURE_PREFIX", "sign", "verify_signature"]

GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
_DIGEST_HEX_LENGTH = 64
_HEX = frozenset(string.hexdigits)


def sign(secret: Secret, body: bytes) -> str:
    """The header value that signs ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    *,
    secret: Secret,
    body: bytes,
    header: str | None,
    header_name: str = GITHUB_SIGNATURE_HEADER,
    delivery_id: str | None = None,
) -> None:
    """Return if ``header`` signs ``body`` under ``secret``; raise :class:`SignatureError` if not.

    ``header_name`` only names the header in the error message.
    """
    if not header:
        raise SignatureError(f"{header_name} is missing", delivery_id=delivery_id)
    if not header.startswith(SIGNATURE_PREFIX):
        scheme = header.partition("=")[0][:16]
        raise SignatureError(
            f"{header_name} must use {SIGNATURE_PREFIX!r}, not {scheme!r}", delivery_id=delivery_id
        )
    given = header.removeprefix(SIGNATURE_PREFIX)
    if len(given) != _DIGEST_HEX_LENGTH or not _HEX.issuperset(given):
        raise SignatureError(f"{header_name} is not a hex SHA-256 digest", delivery_id=delivery_id)
    if not secret.reveal():
        raise SignatureError(
            f"no secret is configured for {header_name}; refusing", delivery_id=delivery_id
        )
    expected = sign(secret, body).removeprefix(SIGNATURE_PREFIX)
    if not hmac.compare_digest(expected, given.lower()):
        raise SignatureError(f"{header_name} does not match the body", delivery_id=delivery_id)
