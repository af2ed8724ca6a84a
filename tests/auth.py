"""Credentials for tests that read the dashboard or ``/migration/status`` (both need a login)."""

from __future__ import annotations

from service.settings import Settings

__all__ = ["admin_bearer", "viewer_bearer"]


def viewer_bearer(settings: Settings) -> dict[str, str]:
    """``Authorization`` for a reader: the stack's ``SWITCHYARD_VIEWER_TOKEN``."""
    token = settings.viewer_token
    assert token is not None, "the stack's .stack/env must carry SWITCHYARD_VIEWER_TOKEN"
    return {"Authorization": f"Bearer {token.reveal()}"}


def admin_bearer(settings: Settings) -> dict[str, str]:
    """``Authorization`` with the shared admin token (acts as ``admin``, never approves)."""
    token = settings.admin_token
    assert token is not None, "the stack's .stack/env must carry SWITCHYARD_ADMIN_TOKEN"
    return {"Authorization": f"Bearer {token.reveal()}"}
