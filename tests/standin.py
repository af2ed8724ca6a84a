"""The GitHub stand-in in-process for tests: an App key pair, a fake clock, a client on it.

``running_standin()`` yields the stand-in's state and an ``httpx.AsyncClient`` that reaches its
API through ASGI (base URL :data:`API_URL`); deliveries it sends go out over ``outbound`` (real
HTTP by default, to the real service in the integration tests). :class:`FakeTime` is a clock
whose ``sleep`` only moves it forward, so rate-limit waits cost nothing and are observable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.devtools.github_standin import LimitSettings, Standin, create_app
from service.github.api import AppCredentials, GitHubClient, RateLimitPolicy, TokenCredentials

__all__ = [
    "API_URL",
    "APP_ID",
    "INSTALLATION_ID",
    "TOKEN",
    "AppKey",
    "FakeTime",
    "app_credentials",
    "app_key",
    "github_client",
    "running_standin",
    "serve_standin_http",
    "token_credentials",
]

API_URL = "http://github.standin"
APP_ID = "4242"
INSTALLATION_ID = 77
TOKEN = "ghp_standin_test_token"


@dataclass(frozen=True)
class AppKey:
    private_pem: str
    public_pem: str


@functools.cache
def app_key(name: str = "switchyard") -> AppKey:
    """An RSA key pair for the App called ``name`` (one per name, made once per session)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return AppKey(private.decode(), public.decode())


def app_credentials() -> AppCredentials:
    return AppCredentials(
        app_id=APP_ID, private_key=Secret(app_key().private_pem), installation_id=INSTALLATION_ID
    )


def token_credentials() -> TokenCredentials:
    return TokenCredentials(token=Secret(TOKEN))


@dataclass
class FakeTime:
    """A wall clock that starts now and moves only when someone sleeps (or ``advance``)."""

    now: float = field(default_factory=time.time)
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@contextlib.asynccontextmanager
async def running_standin(
    *,
    clock: FakeTime | None = None,
    limits: LimitSettings | None = None,
    outbound: httpx.AsyncClient | None = None,
    tokens: Iterable[Secret] = (Secret(TOKEN),),
    apps: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[Standin, httpx.AsyncClient]]:
    """The stand-in knowing Switchyard's App (:data:`APP_ID`) and ``apps`` (id -> public key)."""
    async with contextlib.AsyncExitStack() as stack:
        if outbound is None:
            outbound = await stack.enter_async_context(httpx.AsyncClient(timeout=5))
        standin = Standin.build(
            http=outbound,
            clock=clock or time.time,
            app_id=APP_ID,
            app_public_key=app_key().public_pem,
            apps=apps,
            installation_ids={INSTALLATION_ID},
            tokens=tokens,
            limits=limits,
        )
        transport = httpx.ASGITransport(app=create_app(standin))
        api = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=API_URL)
        )
        yield standin, api


def github_client(
    api: httpx.AsyncClient,
    credentials: AppCredentials | TokenCredentials | None,
    *,
    clock: FakeTime | None = None,
    policy: RateLimitPolicy | None = None,
) -> GitHubClient:
    """A client of the stand-in; with ``clock``, its waits go through the fake clock."""
    if clock is None:
        return GitHubClient(http=api, credentials=credentials, base_url=API_URL, policy=policy)
    return GitHubClient(
        http=api,
        credentials=credentials,
        base_url=API_URL,
        policy=policy,
        sleep=clock.sleep,
        clock=clock,
    )


@contextlib.asynccontextmanager
async def serve_standin_http(standin: Standin) -> AsyncIterator[str]:
    """The stand-in under a real uvicorn on a free loopback port, for processes; its URL."""
    port = free_port()
    config = uvicorn.Config(create_app(standin), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError(f"the stand-in did not start on port {port}")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
