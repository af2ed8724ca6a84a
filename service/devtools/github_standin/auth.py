"""Who is calling the stand-in: a GitHub App (JWT), one of its installations, or a token.

* An App JWT (``Authorization: Bearer <jwt>``) is verified as GitHub does: RS256 with the App's
  public key, ``iss`` = the App id, ``exp`` present and at most ten minutes ahead. Several Apps
  may be known (``apps``: id -> public key), each its own identity with its own rate limit.
* ``POST /app/installations/{id}/access_tokens`` (App JWT) answers 201 with a new
  ``ghs_...`` token and its ``expires_at``, an hour later by default; the stand-in refuses a
  token past its expiry or revoked (:meth:`StandinAuth.revoke`) with 401, as GitHub does.
* Plain tokens given at construction (a personal access token's stand-in) never expire.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flags.secret import Secret
from service.devtools.github_standin.errors import github_error

__all__ = ["Identity", "StandinAuth", "iso_time"]

_MAX_JWT_SECONDS = 600


def iso_time(moment: float) -> str:
    """GitHub's timestamp form: ``2026-12-01T12:00:00Z``."""
    when = datetime.datetime.fromtimestamp(int(moment), datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Identity:
    kind: Literal["app", "installation", "token"]
    bucket: str  # what its rate limit is counted under
    app_id: str | None = None  # the App, for an App JWT


class StandinAuth:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        app_id: str | None = None,
        app_public_key: str | None = None,
        apps: Mapping[str, str] | None = None,
        installation_ids: Iterable[int] = (),
        tokens: Iterable[Secret] = (),
        token_lifetime: float = 3600.0,
    ) -> None:
        self._clock = clock
        self.app_id = app_id  # the App whose installations get tokens
        self.apps = dict(apps or {})  # App id -> its public key (PEM)
        if app_id is not None and app_public_key is not None:
            self.apps[app_id] = app_public_key
        self.installation_ids = set(installation_ids)
        self._tokens = list(tokens)
        self._lifetime = token_lifetime
        self._issued: dict[str, tuple[int, float]] = {}  # token -> (installation, expires_at)
        self.issued_count = 0

    def revoke(self, token: str) -> None:
        self._issued.pop(token, None)

    def identify(self, request: Request) -> Identity | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() not in {"bearer", "token"} or not credential:
            return None
        if credential.count(".") == 2:
            return self._app(credential)
        held = self._issued.get(credential)
        if held is not None:
            installation, expires_at = held
            if self._clock() < expires_at:
                return Identity("installation", f"installation:{installation}")
            return None
        for index, token in enumerate(self._tokens):
            if token.matches(credential):
                return Identity("token", f"token:{index}")
        return None

    def _app(self, token: str) -> Identity | None:
        try:
            claimed = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return None
        app_id = str(claimed) if isinstance(claimed, str | int) else None
        public_key = self.apps.get(app_id) if app_id is not None else None
        if app_id is None or public_key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                issuer=app_id,
                options={"require": ["exp", "iat", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        if int(claims["exp"]) - int(claims["iat"]) > _MAX_JWT_SECONDS + 60:
            return None
        return Identity("app", f"app:{app_id}", app_id)

    async def access_tokens(self, request: Request) -> Response:
        """``POST /app/installations/{installation_id}/access_tokens`` (App JWT only)."""
        raw = request.path_params["installation_id"]
        if not raw.isdigit() or int(raw) not in self.installation_ids:
            return github_error(404, "Not Found")
        token = f"ghs_{secrets.token_urlsafe(27)}"
        expires_at = self._clock() + self._lifetime
        self._issued[token] = (int(raw), expires_at)
        self.issued_count += 1
        return JSONResponse(
            {
                "token": token,
                "expires_at": iso_time(expires_at),
                "permissions": {"issues": "write", "metadata": "read"},
                "repository_selection": "all",
            },
            status_code=201,
        )
