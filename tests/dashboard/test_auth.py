"""Dashboard auth: credentials and roles, signed session cookies, CSRF tokens, the Origin
check, bearer tokens and their throttle.

The credentials, the signer and the origin helper are pure; sessions and the throttle live in
the real Redis (integration).
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from starlette.requests import Request

from flags.secret import Secret
from flags.transitions import ActorKind
from service.dashboard.auth import (
    SESSION_COOKIE,
    AuthRefused,
    DashboardAuth,
    SessionSigner,
    origin_of,
)
from service.dashboard.credentials import Credentials, Identity
from service.dashboard.throttle import MAX_FAILURES
from service.errors import SettingsError
from service.plan.users import Role, User, Users, token_hash

TOKEN = Secret("the-admin-token-0123456789")
VIEWER = Secret("the-viewer-token-0123456789")
SERVICE = "http://127.0.0.1:8080"
PEOPLE = Users(
    (
        User("alice", Role.OPERATOR, token_hash("alice-token")),
        User("bob", Role.APPROVER, token_hash("bob-token")),
        User("vic", Role.VIEWER, token_hash("vic-token")),
    )
)
CREDENTIALS = Credentials(admin_token=TOKEN, viewer_token=VIEWER, users=PEOPLE)


def _request(
    headers: dict[str, str] | None = None,
    cookie: str | None = None,
    host: str = "127.0.0.1:8080",
) -> Request:
    raw = {key.lower(): value for key, value in (headers or {}).items()}
    if cookie is not None:
        raw["cookie"] = f"{SESSION_COOKIE}={cookie}"
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "server": ("127.0.0.1", 8080),
            "path": "/migration/dashboard/actions/mode",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in raw.items()]
            + [(b"host", host.encode())],
        }
    )


def test_each_token_names_its_identity_and_role() -> None:
    assert CREDENTIALS.identify(TOKEN.reveal()) == Identity("admin", Role.OPERATOR, shared=True)
    assert CREDENTIALS.identify(VIEWER.reveal()) == Identity("viewer", Role.VIEWER, shared=True)
    assert CREDENTIALS.identify("alice-token") == Identity("alice", Role.OPERATOR)
    assert CREDENTIALS.identify("bob-token") == Identity("bob", Role.APPROVER)
    for unknown in ("", "alice", "alice-token ", TOKEN.reveal()[:-1], token_hash("bob-token")):
        assert CREDENTIALS.identify(unknown) is None


def test_who_may_act_and_who_may_approve() -> None:
    may = {
        token: (identity.may_act, identity.may_approve)
        for token in (TOKEN.reveal(), VIEWER.reveal(), "alice-token", "bob-token", "vic-token")
        if (identity := CREDENTIALS.identify(token)) is not None
    }
    assert list(may.values()) == [
        (True, False),  # the shared admin token acts, never approves
        (False, False),  # the viewer token reads
        (True, False),  # an operator acts
        (True, True),  # an approver approves
        (False, False),  # a viewer in the file reads
    ]


def test_a_person_cannot_take_a_shared_tokens_name() -> None:
    impostor = Users((User("admin", Role.APPROVER, token_hash("x")),))
    with pytest.raises(SettingsError, match="SWITCHYARD_USERS_FILE"):
        Credentials(admin_token=TOKEN, users=impostor)


def _session_key(credentials: Credentials) -> str:
    secret = credentials.session_secret()
    assert secret is not None
    return secret.reveal()


def test_sessions_are_keyed_on_every_credential() -> None:
    assert Credentials().session_secret() is None and not Credentials().configured
    keys = {
        _session_key(CREDENTIALS),
        _session_key(Credentials(admin_token=TOKEN, viewer_token=Secret("new"), users=PEOPLE)),
        _session_key(Credentials(admin_token=TOKEN, viewer_token=VIEWER, users=Users(()))),
    }
    assert len(keys) == 3  # a new token or users file voids every session
    assert not any(TOKEN.reveal() in key or VIEWER.reveal() in key for key in keys)


def test_cookie_carries_a_signature_not_the_token() -> None:
    signer = SessionSigner(TOKEN)
    cookie = signer.cookie_value("abc")
    assert TOKEN.reveal() not in cookie
    assert signer.session_id(cookie) == "abc"


@pytest.mark.parametrize("forged", ["abc", "abc.", ".sig", "abd.{sig}", "abc.{sig}0", ""])
def test_forged_or_tampered_cookies_are_rejected(forged: str) -> None:
    signer = SessionSigner(TOKEN)
    signature = signer.cookie_value("abc").rpartition(".")[2]
    assert signer.session_id(forged.format(sig=signature)) is None


def test_a_new_admin_token_voids_old_cookies_and_csrf_tokens() -> None:
    old, new = SessionSigner(TOKEN), SessionSigner(Secret("rotated"))
    assert new.session_id(old.cookie_value("abc")) is None
    assert not new.csrf_matches("abc", old.csrf_token("abc"))


def test_csrf_token_is_bound_to_its_session() -> None:
    signer = SessionSigner(TOKEN)
    assert signer.csrf_matches("abc", signer.csrf_token("abc"))
    assert not signer.csrf_matches("abd", signer.csrf_token("abc"))
    assert not signer.csrf_matches("abc", "")


def test_origin_of() -> None:
    assert origin_of("HTTP://Example.org:8080/path?q=1") == "http://example.org:8080"
    assert origin_of("null") is None
    assert origin_of("") is None


@pytest.fixture
def auth(redis_client: Redis, prefix: str) -> DashboardAuth:
    return DashboardAuth(
        credentials=CREDENTIALS, redis=redis_client, prefix=prefix, allowed_origins=[SERVICE]
    )


@pytest.mark.integration
async def test_login_needs_a_known_token_and_names_its_owner(auth: DashboardAuth) -> None:
    assert await auth.login("wrong") is None
    assert await auth.login("") is None
    opened = await auth.login("alice-token")
    assert opened is not None
    session, cookie = opened
    found = await auth.session(_request(cookie=cookie))
    assert found is not None and found.identity == Identity("alice", Role.OPERATOR)
    assert found.csrf_token == session.csrf_token
    viewer = await auth.login(VIEWER.reveal())
    assert viewer is not None
    found = await auth.session(_request(cookie=viewer[1]))
    assert found is not None and found.identity == Identity("viewer", Role.VIEWER, shared=True)


@pytest.mark.integration
async def test_a_viewer_reads_but_never_acts(auth: DashboardAuth) -> None:
    bearer = {"Authorization": f"Bearer {VIEWER.reveal()}"}
    identity, session = await auth.reader(_request(bearer))
    assert (identity.name, session) == ("viewer", None)
    with pytest.raises(AuthRefused) as raised:
        await auth.authorize(_request(bearer), {})
    assert raised.value.status_code == 403
    opened = await auth.login("vic-token")
    assert opened is not None
    session, cookie = opened
    assert (await auth.reader(_request(cookie=cookie)))[0].name == "vic"
    with pytest.raises(AuthRefused) as raised:
        await auth.authorize(
            _request({"Origin": SERVICE}, cookie), {"csrf_token": session.csrf_token}
        )
    assert raised.value.status_code == 403


@pytest.mark.integration
async def test_no_credentials_no_reader(auth: DashboardAuth) -> None:
    for request in (_request(), _request({"Authorization": "Bearer nope"}), _request(cookie="x.y")):
        with pytest.raises(AuthRefused) as raised:
            await auth.reader(request)
        assert raised.value.status_code == 401
        assert raised.value.headers() == {"WWW-Authenticate": "Bearer"}


@pytest.mark.integration
async def test_wrong_bearers_are_throttled_and_counted(auth: DashboardAuth) -> None:
    wrong = _request({"Authorization": "Bearer guess"})
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthRefused) as raised:
            await auth.reader(wrong)
        assert raised.value.status_code == 401
    right = _request({"Authorization": f"Bearer {VIEWER.reveal()}"})
    with pytest.raises(AuthRefused) as raised:
        await auth.reader(right)  # even the right token waits: no oracle for guessing
    assert raised.value.status_code == 429
    assert 0 < int(raised.value.headers()["Retry-After"]) <= 60
    assert await auth.throttle.counts() == {"failed": MAX_FAILURES, "throttled": 1}


@pytest.mark.integration
async def test_session_caller_needs_origin_and_csrf(auth: DashboardAuth) -> None:
    opened = await auth.login("alice-token")
    assert opened is not None
    session, cookie = opened
    good = {"Origin": SERVICE}
    caller = await auth.authorize(_request(good, cookie), {"csrf_token": session.csrf_token})
    assert (caller.actor.name, caller.actor.kind, caller.actor.source) == (
        "alice",
        ActorKind.HUMAN,
        "dashboard",
    )
    header = {**good, "X-CSRF-Token": session.csrf_token}
    assert (await auth.authorize(_request(header, cookie), {})).session == caller.session
    refused = [
        (_request(good, None), {"csrf_token": session.csrf_token}, 401),
        (_request(good, cookie + "x"), {"csrf_token": session.csrf_token}, 401),
        (_request(good, cookie), {}, 403),
        (_request(good, cookie), {"csrf_token": _tampered(session.csrf_token)}, 403),
        (
            _request({"Origin": "http://evil.example"}, cookie),
            {"csrf_token": session.csrf_token},
            403,
        ),
        (_request({}, cookie), {"csrf_token": session.csrf_token}, 403),  # no Origin, no Referer
    ]
    for request, form, status in refused:
        with pytest.raises(AuthRefused) as raised:
            await auth.authorize(request, form)
        assert raised.value.status_code == status
    referer = {"Referer": f"{SERVICE}/migration/dashboard?window=1h"}
    assert await auth.authorize(_request(referer, cookie), {"csrf_token": session.csrf_token})


@pytest.mark.integration
async def test_logout_ends_the_session(auth: DashboardAuth) -> None:
    opened = await auth.login("alice-token")
    assert opened is not None
    session, cookie = opened
    await auth.logout(session)
    assert await auth.session(_request(cookie=cookie)) is None
    with pytest.raises(AuthRefused) as raised:
        await auth.authorize(
            _request({"Origin": SERVICE}, cookie), {"csrf_token": session.csrf_token}
        )
    assert raised.value.status_code == 401


@pytest.mark.integration
async def test_bearer_token(auth: DashboardAuth) -> None:
    caller = await auth.authorize(
        _request({"Authorization": f"Bearer {TOKEN.reveal()}"}), {"actor": "typed-name"}
    )  # the token names the caller: a typed name is ignored
    assert (caller.actor.name, caller.actor.source, caller.session) == ("admin", "api", None)
    for header in ("Bearer wrong", f"Basic {TOKEN.reveal()}", "Bearer"):
        with pytest.raises(AuthRefused) as raised:
            await auth.authorize(_request({"Authorization": header}), {})
        assert raised.value.status_code == 401


@pytest.mark.integration
async def test_without_credentials_nobody_gets_in(redis_client: Redis, prefix: str) -> None:
    auth = DashboardAuth(credentials=Credentials(), redis=redis_client, prefix=prefix)
    assert not auth.enabled
    assert await auth.login("") is None
    with pytest.raises(AuthRefused) as raised:
        await auth.authorize(_request({"Authorization": "Bearer "}), {})
    assert raised.value.status_code == 403
    with pytest.raises(AuthRefused) as raised:
        await auth.reader(_request())
    assert raised.value.status_code == 401


@pytest.mark.integration
async def test_flash_is_shown_once(auth: DashboardAuth) -> None:
    opened = await auth.login(TOKEN.reveal())
    assert opened is not None
    session = opened[0]
    await auth.set_flash(session, "ok", "done")
    assert await auth.pop_flash(session) == {"kind": "ok", "text": "done"}
    assert await auth.pop_flash(session) is None


def _tampered(token: str) -> str:
    """``token`` with its last character changed (never to itself)."""
    return token[:-1] + ("1" if token.endswith("0") else "0")


@pytest.mark.integration
async def test_the_origin_check_trusts_the_configured_url_not_the_host_header(
    auth: DashboardAuth,
) -> None:
    """A client that sets ``Host`` to its own site and sends that site as ``Origin`` (DNS
    rebinding, a proxy passing ``Host`` through) is still cross-origin."""
    spoofed = _request({"Origin": "http://evil.example"}, host="evil.example")
    own = _request({"Origin": SERVICE}, host="evil.example")
    assert not auth.same_origin(spoofed)
    assert auth.same_origin(own)
