from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standin import APP_ID, INSTALLATION_ID, app_key, running_standin

TOKENS = f"/app/installations/{INSTALLATION_ID}/access_tokens"


def _jwt(*, key: str | None = None, iss: str = APP_ID, lifetime: int = 540) -> str:
    now = int(time.time()) - 60
    payload = {"iat": now, "exp": now + lifetime, "iss": iss}
    return jwt.encode(payload, key or app_key().private_pem, algorithm="RS256")


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def test_a_valid_app_jwt_gets_an_installation_token_with_its_expiry() -> None:
    async with running_standin() as (_, api):
        answer = await api.post(TOKENS, headers={"Authorization": f"Bearer {_jwt()}"})
        assert answer.status_code == 201
        body = answer.json()
        assert body["token"].startswith("ghs_")
        assert body["expires_at"].endswith("Z")
        assert "X-RateLimit-Limit" in answer.headers


async def test_jwts_github_would_refuse_are_refused() -> None:
    async with running_standin() as (_, api):
        for token in (
            _jwt(key=_other_key()),
            _jwt(iss="999"),
            _jwt(lifetime=-30),
            _jwt(lifetime=3600),
        ):
            answer = await api.post(TOKENS, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401


async def test_an_unknown_installation_is_404() -> None:
    async with running_standin() as (_, api):
        answer = await api.post(
            "/app/installations/5/access_tokens", headers={"Authorization": f"Bearer {_jwt()}"}
        )
        assert answer.status_code == 404
