"""Switchyard's GitHub REST client: gidgethub over the process's httpx client.

Why gidgethub: its sans-I/O core (``gidgethub.sansio``) already speaks GitHub's REST
conventions (Link-header pagination, rate-limit headers, the error tree by status), its httpx
adapter is a few lines over an injected :class:`httpx.AsyncClient` (so tests can point it at
the local stand-in or a ``MockTransport``), and since 6.0 it offers the two rate-limit hooks
:mod:`service.github.api.transport` fills. githubkit would bring generated models for the
whole API, which Switchyard does not need for the handful of endpoints it calls.

:class:`GitHubClient` adds what every caller needs on top:

* authentication per call: ``as_app=True`` for the App's own endpoints (``/app/...``, signed
  with the App JWT), otherwise the installation token (cached, see
  :mod:`service.github.api.auth`) or the configured plain token; a 401 on an installation
  token renews it once;
* one error tree (:mod:`service.errors`): ``GitHubRejected`` for a 4xx, ``GitHubRetryable``
  for 5xx or no answer, ``GitHubRateLimited`` when waiting did not end the limit.

Paths are relative to the configured API URL (``/repos/acme/app/hooks/1/deliveries``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import httpx
from gidgethub import BadRequest, GitHubBroken, GitHubException, HTTPException

from flags.secret import Secret
from service.errors import GitHubError, GitHubRejected, GitHubRetryable
from service.escape import escape
from service.github.api.auth import (
    AppCredentials,
    Credentials,
    InstallationTokenCache,
    TokenCredentials,
    app_jwt,
)
from service.github.api.ratelimit import RateLimitPolicy
from service.github.api.transport import RateLimitedTransport, Sleep

__all__ = ["DEFAULT_API_URL", "GitHubClient"]

DEFAULT_API_URL = "https://api.github.com"
_REQUESTER = "switchyard"
Params = Mapping[str, str | int]
_T = TypeVar("_T")


class _Auth(NamedTuple):
    jwt: str | None = None
    oauth_token: str | None = None


class GitHubClient:
    """GitHub's REST API as one identity (a token, or an App and its installation)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        credentials: Credentials | None,
        base_url: str = DEFAULT_API_URL,
        policy: RateLimitPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self.tokens = InstallationTokenCache(clock=clock)

        def transport() -> RateLimitedTransport:
            return RateLimitedTransport(
                http,
                base_url=self.base_url,
                requester=_REQUESTER,
                policy=policy or RateLimitPolicy(),
                sleep=sleep,
                clock=clock,
            )

        self._as_app = transport()  # the App JWT has its own quota
        self._as_installation = transport()

    @property
    def waited_seconds(self) -> float:
        """How long this client has waited for rate limits and GitHub's 5xx so far."""
        return self._as_app.waited_seconds + self._as_installation.waited_seconds

    async def get(self, path: str, *, params: Params | None = None, as_app: bool = False) -> Any:
        return await self._call(
            lambda gh, auth: gh.getitem(
                _url(path, params), jwt=auth.jwt, oauth_token=auth.oauth_token
            ),
            as_app,
        )

    async def post(
        self, path: str, *, data: Any = None, as_app: bool = False
    ) -> Any:  # data None -> an empty body, as GitHub's attempts endpoint wants
        body = b"" if data is None else data
        return await self._call(
            lambda gh, auth: gh.post(
                _url(path, None), data=body, jwt=auth.jwt, oauth_token=auth.oauth_token
            ),
            as_app,
        )

    async def patch(self, path: str, *, data: Any, as_app: bool = False) -> Any:
        return await self._call(
            lambda gh, auth: gh.patch(
                _url(path, None), data=data, jwt=auth.jwt, oauth_token=auth.oauth_token
            ),
            as_app,
        )

    async def put(self, path: str, *, data: Any = b"", as_app: bool = False) -> Any:
        return await self._call(
            lambda gh, auth: gh.put(
                _url(path, None), data=data, jwt=auth.jwt, oauth_token=auth.oauth_token
            ),
            as_app,
        )

    async def delete(self, path: str, *, data: Any = b"", as_app: bool = False) -> None:
        await self._call(
            lambda gh, auth: gh.delete(
                _url(path, None), data=data, jwt=auth.jwt, oauth_token=auth.oauth_token
            ),
            as_app,
        )

    async def iterate(
        self, path: str, *, params: Params | None = None, as_app: bool = False
    ) -> AsyncGenerator[Any, None]:
        """Every item of a listing, page by page along the ``Link: rel="next"`` header.

        Stop early by leaving the loop; no further page is fetched.
        """
        auth = await self._auth(as_app)
        gh = self._as_app if as_app else self._as_installation
        pages = gh.getiter(_url(path, params), None, jwt=auth.jwt, oauth_token=auth.oauth_token)
        async with contextlib.aclosing(pages):
            while True:
                try:
                    item = await _mapped(pages.__anext__())
                except StopAsyncIteration:
                    return
                yield item

    async def installation_token(self) -> Secret:
        """The installation's access token (App credentials), or the plain token."""
        credentials = self.credentials
        if isinstance(credentials, TokenCredentials):
            return credentials.token
        if not isinstance(credentials, AppCredentials):
            raise GitHubError("no GitHub credentials: set SWITCHYARD_GITHUB_TOKEN or an App")
        if credentials.installation_id is None:
            raise GitHubError("App credentials need SWITCHYARD_GITHUB_INSTALLATION_ID here")
        path = f"/app/installations/{credentials.installation_id}/access_tokens"
        return await self.tokens.get(lambda: self.post(path, as_app=True))

    async def _auth(self, as_app: bool) -> _Auth:
        if as_app:
            if not isinstance(self.credentials, AppCredentials):
                raise GitHubError("the App's endpoints need SWITCHYARD_GITHUB_APP_ID and its key")
            return _Auth(jwt=app_jwt(self.credentials))
        if self.credentials is None:
            return _Auth()
        return _Auth(oauth_token=(await self.installation_token()).reveal())

    async def _call(
        self, send: Callable[[RateLimitedTransport, _Auth], Awaitable[Any]], as_app: bool
    ) -> Any:
        gh = self._as_app if as_app else self._as_installation
        auth = await self._auth(as_app)
        try:
            return await _mapped(send(gh, auth))
        except GitHubRejected as error:
            renewable = isinstance(self.credentials, AppCredentials) and not as_app
            if error.github_status != 401 or not renewable:
                raise
            self.tokens.invalidate(Secret(auth.oauth_token or ""))  # revoked: renew once
            return await _mapped(send(gh, await self._auth(as_app)))


def _url(path: str, params: Params | None) -> str:
    if not params:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode(dict(params))}"


async def _mapped(request: Awaitable[_T]) -> _T:
    """``await request`` with gidgethub's and httpx's errors turned into Switchyard's."""
    try:
        return await request
    except GitHubBroken as error:
        raise GitHubRetryable(
            f"GitHub answered {int(error.status_code)}", github_status=int(error.status_code)
        ) from None
    except (BadRequest, HTTPException) as error:
        status = int(error.status_code)
        raise GitHubRejected(
            f"GitHub answered {status}: {escape(error)}", github_status=status
        ) from None
    except GitHubException as error:
        raise GitHubError(f"GitHub: {type(error).__name__}: {escape(error)}") from None
    except httpx.TransportError as error:
        raise GitHubRetryable(f"GitHub unreachable: {type(error).__name__}") from None
