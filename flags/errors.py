"""Errors raised when talking to Unleash's admin API."""

from __future__ import annotations

__all__ = ["UnleashApiError", "UnleashAuthError", "UnleashError", "UnleashUnreachable"]


class UnleashError(RuntimeError):
    """Base of every Unleash admin API failure."""


class UnleashUnreachable(UnleashError):
    """Unleash did not answer (refused, timed out, DNS)."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"Unleash at {url} is unreachable: {cause}")
        self.url = url


class UnleashAuthError(UnleashError):
    """Unleash refused the token (401/403)."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(
            f"Unleash at {url} refused the admin token (HTTP {status}): check UNLEASH_ADMIN_TOKEN"
        )
        self.status = status


class UnleashApiError(UnleashError):
    """Unleash answered with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"Unleash {method} {path} answered {status}: {body[:500]}")
        self.status = status
        self.path = path
