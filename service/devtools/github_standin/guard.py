"""Every GitHub route of the stand-in passes here: who is calling, and may they, now?

:func:`guarded` wraps a handler: no or a bad credential is 401 (``Requires authentication`` /
``Bad credentials``); an App JWT where an installation or token is needed, or the reverse, is
403 or 401 the way GitHub answers; then the caller's rate limit is counted
(:mod:`~service.devtools.github_standin.ratelimit`), and its headers go on every answer. The
handler finds the caller in ``request.state.identity`` (which App, for ``/app/hook/...``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from service.devtools.github_standin.auth import StandinAuth
from service.devtools.github_standin.errors import github_error
from service.devtools.github_standin.ratelimit import StandinLimits

__all__ = ["Handler", "guarded"]

Handler = Callable[[Request], Awaitable[Response]]


def guarded(auth: StandinAuth, limits: StandinLimits, handler: Handler, *, app: bool) -> Handler:
    """``handler`` behind GitHub's authentication (``app``: the App JWT only) and rate limits."""

    async def endpoint(request: Request) -> Response:
        if "authorization" not in request.headers:
            return github_error(401, "Requires authentication")
        identity = auth.identify(request)
        if identity is None:
            return github_error(401, "Bad credentials")
        if app and identity.kind != "app":
            return github_error(
                401, "A JSON web token could not be decoded"
            )  # GitHub's answer to a token on /app/...
        if not app and identity.kind == "app":
            return github_error(403, "Resource not accessible by integration")
        refusal, headers = limits.check(identity.bucket)
        if refusal is not None:
            return refusal
        request.state.identity = identity
        response = await handler(request)
        response.headers.update(headers)
        return response

    return endpoint
