"""Who Switchyard is to GitHub: a plain token, or a GitHub App and one of its installations.

A GitHub App authenticates in two steps (GitHub's "Authenticating as a GitHub App"):

1. a JWT signed RS256 with the App's private key (``iss`` = the App id, at most ten minutes
   long; gidgethub's :func:`~gidgethub.apps.get_jwt` backdates ``iat`` a minute for clock
   drift). It is enough for the ``/app/...`` endpoints, e.g. ``GET /app/hook/deliveries``;
2. ``POST /app/installations/{id}/access_tokens`` with that JWT gives an installation access
   token, valid for an hour (``expires_at``), for everything done on a repository.

:class:`InstallationTokenCache` keeps the installation token until ``refresh_margin`` seconds
before its ``expires_at`` (one fetch at a time, whatever the number of callers), and forgets it
when GitHub refuses it (a revoked token is renewed once by the client, then the 401 stands).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gidgethub.apps import get_jwt

from flags.secret import Secret
from service.errors import GitHubError

__all__ = [
    "AppCredentials",
    "Credentials",
    "InstallationToken",
    "InstallationTokenCache",
    "TokenCredentials",
    "app_jwt",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenCredentials:
    """A personal access token or any other bearer token."""

    token: Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class AppCredentials:
    """A GitHub App: its id, its PEM private key, and the installation to act as."""

    app_id: str
    private_key: Secret
    installation_id: int | None = None


Credentials = TokenCredentials | AppCredentials


def app_jwt(app: AppCredentials) -> str:
    """A fresh App JWT (RS256, ``iss`` = app id, ten minutes)."""
    return get_jwt(app_id=app.app_id, private_key=app.private_key.reveal())


@dataclass(frozen=True, slots=True)
class InstallationToken:
    token: Secret
    expires_at: float  # unix seconds


def _expiry(raw: object) -> float:
    if not isinstance(raw, str):
        raise GitHubError(f"installation token without expires_at: {raw!r:.60}")
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise GitHubError(f"installation token expires_at is not a time: {raw!r:.60}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


class InstallationTokenCache:
    """One installation's access token, fetched when missing or about to expire."""

    def __init__(self, *, clock: Callable[[], float], refresh_margin: float = 300.0) -> None:
        self._clock = clock
        self._margin = refresh_margin
        self._current: InstallationToken | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def current(self) -> InstallationToken | None:
        return self._current

    async def get(self, fetch: Callable[[], Awaitable[object]]) -> Secret:
        """The cached token, or a new one from ``fetch()`` (GitHub's JSON answer)."""
        async with self._lock:
            held = self._current
            if held is not None and self._clock() < held.expires_at - self._margin:
                return held.token
            answer = await fetch()
            self.fetches += 1
            if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
                raise GitHubError("GitHub's access_tokens answer has no token")
            self._current = InstallationToken(
                Secret(answer["token"]), _expiry(answer.get("expires_at"))
            )
            return self._current.token

    def invalidate(self, token: Secret) -> None:
        """Forget ``token`` (GitHub refused it); a newer token is kept."""
        if self._current is not None and self._current.token == token:
            self._current = None
