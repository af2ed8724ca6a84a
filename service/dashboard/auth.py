"""Who may act on the dashboard: the admin token, signed session cookies, CSRF, Origin.

Actions need ``SWITCHYARD_ADMIN_TOKEN``; without it the dashboard is read-only. Two ways in:

* ``Authorization: Bearer <token>`` (scripts): the token is compared in constant time; no
  cookie, no CSRF token needed (a browser never adds this header by itself).
* the login form: the token and a name for the audit trail. A right token opens a session in
  Redis (``<prefix>:dashboard:session:<id>``, 12 h) and sets the cookie ``<id>.<signature>``,
  HttpOnly, SameSite=Strict, the signature an HMAC-SHA256 of the id under a key derived from the
  admin token (the token itself is never in the cookie; a new token voids every session).
  Logging out deletes the session.

A request carried by the session cookie must also come from the dashboard's own origin
(``Origin``, else ``Referer``; neither means refused) and carry the session's CSRF token (an
HMAC of the session id, compared with :func:`hmac.compare_digest`) in the form field
``csrf_token`` or the header ``X-CSRF-Token``. Refusals: 401 (no or wrong credentials), 403
(read-only, foreign origin, missing or wrong CSRF token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from starlette.requests import Request

from flags.secret import Secret
from flags.transitions import Actor, ActorKind
from service.errors import AuthRefused, Forbidden, Unauthenticated
from service.keys import Keys

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "AuthRefused",
    "Caller",
    "DashboardAuth",
    "Session",
    "SessionSigner",
    "origin_of",
]

SESSION_COOKIE = "switchyard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600
_KEY_LABEL = b"switchyard dashboard session v1"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    actor: str
    csrf_token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorised caller: the actor for the audit trail, and the session (None: bearer)."""

    actor: Actor
    session: Session | None


class SessionSigner:
    """Signs session ids and derives their CSRF tokens; pure, no I/O."""

    def __init__(self, admin_token: Secret) -> None:
        self._key = hmac.new(admin_token.reveal().encode(), _KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, purpose: str, session_id: str) -> str:
        message = f"{purpose}:{session_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def cookie_value(self, session_id: str) -> str:
        return f"{session_id}.{self._mac('session', session_id)}"

    def session_id(self, cookie: str) -> str | None:
        """The session id of a cookie whose signature is right, else None."""
        session_id, _, signature = cookie.rpartition(".")
        if not session_id or not signature:
            return None
        expected = self._mac("session", session_id)
        return session_id if hmac.compare_digest(expected, signature) else None

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf", session_id)

    def csrf_matches(self, session_id: str, candidate: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session_id).encode(), candidate.encode())


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased; None when it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class DashboardAuth:
    def __init__(
        self,
        *,
        admin_token: Secret | None,
        redis: Redis,
        prefix: str,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self._token = admin_token
        self._signer = SessionSigner(admin_token) if admin_token is not None else None
        self._redis = redis
        self._prefix = prefix
        self._origins = {origin for url in allowed_origins if (origin := origin_of(url))}

    @property
    def enabled(self) -> bool:
        """False when no admin token is configured: the dashboard is read-only."""
        return self._signer is not None

    def _key(self, session_id: str) -> str:
        return Keys(self._prefix).dashboard_session(session_id)

    async def login(self, token: str, actor: str) -> tuple[Session, str] | None:
        """A new session and its cookie value when ``token`` is the admin token, else None."""
        if self._token is None or self._signer is None or not self._token.matches(token):
            return None
        session_id = secrets.token_urlsafe(32)
        expires_at = time.time() + SESSION_SECONDS
        record: dict[FieldT, EncodableT] = {"actor": actor, "expires_at": f"{expires_at:.3f}"}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(session_id), mapping=record)
            pipe.expire(self._key(session_id), SESSION_SECONDS)
            await pipe.execute()
        session = Session(session_id, actor, self._signer.csrf_token(session_id), expires_at)
        return session, self._signer.cookie_value(session_id)

    async def session(self, request: Request) -> Session | None:
        """The request's live session, if its cookie is signed right and not logged out."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if self._signer is None or not cookie:
            return None
        session_id = self._signer.session_id(cookie)
        if session_id is None:
            return None
        record = await self._redis.hgetall(self._key(session_id))
        if "actor" not in record:
            return None
        return Session(
            session_id,
            str(record["actor"]),
            self._signer.csrf_token(session_id),
            float(record["expires_at"]),
        )

    async def logout(self, session: Session) -> None:
        await self._redis.delete(self._key(session.session_id))

    async def set_flash(self, session: Session, kind: str, text: str) -> None:
        """A message the next page view shows once (the result of an action)."""
        flash = json.dumps({"kind": kind, "text": text})
        key = self._key(session.session_id)
        if await self._redis.exists(key):  # never revive an expired session without its TTL
            await self._redis.hset(key, "flash", flash)

    async def pop_flash(self, session: Session) -> dict[str, str] | None:
        key = self._key(session.session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "flash")
            pipe.hdel(key, "flash")
            raw, _ = await pipe.execute()
        loaded: dict[str, str] | None = json.loads(raw) if raw else None
        return loaded

    def same_origin(self, request: Request) -> bool:
        """The request comes from a page of this service (``Origin``, else ``Referer``),
        compared with the configured origins (``SWITCHYARD_URL``), never the request's
        ``Host``: a client chooses its ``Host`` header."""
        claimed = request.headers.get("origin") or request.headers.get("referer") or ""
        origin = origin_of(claimed)
        return origin is not None and origin in self._origins

    async def authorize(self, request: Request, form: Mapping[str, Any]) -> Caller:
        """The caller of an action, or :class:`AuthRefused`."""
        if self._token is None or self._signer is None:
            raise Forbidden("read-only: SWITCHYARD_ADMIN_TOKEN is not configured")
        authorization = request.headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not self._token.matches(token.strip()):
                raise Unauthenticated("wrong or malformed bearer token")
            name = str(form.get("actor") or "api").strip()[:64] or "api"
            return Caller(Actor(name, ActorKind.HUMAN, "api"), None)
        session = await self.session(request)
        if session is None:
            raise Unauthenticated("not logged in (or the session expired)")
        if not self.same_origin(request):
            raise Forbidden("cross-origin request refused")
        candidate = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
        if not candidate or not self._signer.csrf_matches(session.session_id, candidate):
            raise Forbidden("missing or wrong CSRF token")
        return Caller(Actor(session.actor, ActorKind.HUMAN, "dashboard"), session)
