"""Who may read and who may act on the dashboard: credentials, signed session cookies, CSRF.

Every page, the panels and ``/migration/status`` need an :class:`Identity`
(:mod:`service.dashboard.credentials`: the viewer token, the admin token or a person's own
token). Two ways in:

* ``Authorization: Bearer <token>`` (scripts): no cookie, no CSRF token needed (a browser never
  adds this header by itself). A wrong bearer counts as a failed login: throttled per client
  (:mod:`service.dashboard.throttle`, then 429 with ``Retry-After``) and counted.
* the login form: a right token opens a session in Redis (``<prefix>:dashboard:session:<id>``,
  12 h: the name and role the token gave) and sets the cookie ``<id>.<signature>``, HttpOnly,
  SameSite=Strict, the signature an HMAC-SHA256 of the id under a key derived from every
  credential (no token is ever in the cookie; a new token or users file voids every session).
  Logging out deletes the session.

An action carried by the session cookie must also come from the dashboard's own origin
(``Origin``, else ``Referer``; neither means refused) and carry the session's CSRF token (an
HMAC of the session id, compared with :func:`hmac.compare_digest`) in the form field
``csrf_token`` or the header ``X-CSRF-Token``. Refusals: 401 (no or wrong credentials), 403
(a viewer acting, foreign origin, missing or wrong CSRF token), 429 (too many failures).
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
from service.dashboard.credentials import Credentials, Identity
from service.dashboard.throttle import LoginThrottle
from service.errors import AuthRefused, Forbidden, TooManyAttempts, Unauthenticated
from service.keys import Keys
from service.plan.users import Role

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
    "client_of",
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
    identity: Identity
    csrf_token: str
    expires_at: float

    @property
    def actor(self) -> str:
        return self.identity.name


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorised caller: who (the audit trail's actor), and the session (None: bearer)."""

    identity: Identity
    session: Session | None

    @property
    def actor(self) -> Actor:
        source = "dashboard" if self.session is not None else "api"
        return Actor(self.identity.name, ActorKind.HUMAN, source)


class SessionSigner:
    """Signs session ids and derives their CSRF tokens; pure, no I/O."""

    def __init__(self, key: Secret) -> None:
        self._key = hmac.new(key.reveal().encode(), _KEY_LABEL, hashlib.sha256).digest()

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


def client_of(request: Request) -> str:
    """The client's address as the service sees it (the throttle's key)."""
    return request.client.host if request.client else "?"


class DashboardAuth:
    def __init__(
        self,
        *,
        credentials: Credentials,
        redis: Redis,
        prefix: str,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self._credentials = credentials
        key = credentials.session_secret()
        self._signer = SessionSigner(key) if key is not None else None
        self._redis = redis
        self._prefix = prefix
        self._origins = {origin for url in allowed_origins if (origin := origin_of(url))}
        self.throttle = LoginThrottle(redis, prefix=prefix)

    @property
    def enabled(self) -> bool:
        """False when no credential is configured: nobody can read or act."""
        return self._signer is not None

    def _key(self, session_id: str) -> str:
        return Keys(self._prefix).dashboard_session(session_id)

    async def login(self, token: str) -> tuple[Session, str] | None:
        """A new session and its cookie value when ``token`` is known, else None."""
        identity = self._credentials.identify(token)
        if identity is None or self._signer is None:
            return None
        session_id = secrets.token_urlsafe(32)
        expires_at = time.time() + SESSION_SECONDS
        record: dict[FieldT, EncodableT] = {
            "actor": identity.name,
            "role": identity.role.value,
            "shared": "1" if identity.shared else "0",
            "expires_at": f"{expires_at:.3f}",
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(session_id), mapping=record)
            pipe.expire(self._key(session_id), SESSION_SECONDS)
            await pipe.execute()
        session = Session(session_id, identity, self._signer.csrf_token(session_id), expires_at)
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
        if "actor" not in record or record.get("role") not in {r.value for r in Role}:
            return None
        identity = Identity(
            str(record["actor"]), Role(str(record["role"])), shared=record.get("shared") == "1"
        )
        return Session(
            session_id,
            identity,
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

    async def bearer(self, request: Request) -> Identity | None:
        """The identity of the request's ``Authorization`` header; None when it has none.
        A wrong one is refused (401) and counted; a client with too many failures waits (429)
        before its token is even compared."""
        authorization = request.headers.get("authorization", "")
        if not authorization:
            return None
        client = client_of(request)
        wait = await self.throttle.retry_after(client)
        if wait is not None:
            raise TooManyAttempts(
                f"too many failed logins: try again in {wait} s", retry_after=wait
            )
        scheme, _, token = authorization.partition(" ")
        identity = self._credentials.identify(token.strip()) if scheme.lower() == "bearer" else None
        if identity is None:
            await self.throttle.failed(client)
            raise Unauthenticated("wrong or malformed bearer token")
        return identity

    async def reader(self, request: Request) -> tuple[Identity, Session | None]:
        """Who reads: a bearer token, else the session; :class:`AuthRefused` when neither."""
        if not self.enabled:
            raise Unauthenticated(
                "no credentials are configured: set SWITCHYARD_VIEWER_TOKEN, "
                "SWITCHYARD_ADMIN_TOKEN or SWITCHYARD_USERS_FILE"
            )
        identity = await self.bearer(request)
        if identity is not None:
            return identity, None
        session = await self.session(request)
        if session is None:
            raise Unauthenticated("log in, or send Authorization: Bearer <token>")
        return session.identity, session

    async def caller(self, request: Request, form: Mapping[str, Any]) -> Caller:
        """The caller of a POST: a bearer token, or a session from this origin with its CSRF
        token. Any role (logging out needs no more)."""
        if self._signer is None:
            raise Forbidden("no credentials are configured for this service")
        identity = await self.bearer(request)
        if identity is not None:
            return Caller(identity, None)
        session = await self.session(request)
        if session is None:
            raise Unauthenticated("not logged in (or the session expired)")
        if not self.same_origin(request):
            raise Forbidden("cross-origin request refused")
        candidate = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
        if not candidate or not self._signer.csrf_matches(session.session_id, candidate):
            raise Forbidden("missing or wrong CSRF token")
        return Caller(session.identity, session)

    async def authorize(self, request: Request, form: Mapping[str, Any]) -> Caller:
        """The caller of an action (operators, approvers, the admin token), or
        :class:`AuthRefused`: a viewer is refused with 403."""
        caller = await self.caller(request, form)
        if not caller.identity.may_act:
            raise Forbidden(f"{caller.identity.name} is a viewer: reading only")
        return caller
