"""The app's one exception handler table: every error that reaches Starlette, as a JSON answer.

=============================================  ====  =========================================
:class:`~service.errors.SwitchyardError`       its   ``{"error": message, **context}``, plus
                                               own   the error's headers (``Retry-After``)
:class:`flags.transitions.TransitionRefused`   409   the transition table's reason
:class:`flags.errors.UnleashError`             502   Unleash failed us
Starlette's ``HTTPException``                  its   404 and 405 of the router, say
a Redis failure                                503   ``{"error": "storage unavailable"}``: try
                                                     again later (one warning line, no traceback)
anything else                                  500   ``{"error": "internal error"}``
=============================================  ====  =========================================

Starlette re-raises the last kind after answering, so the server logs the traceback; the
caller never sees one. Every log line escapes what came from outside (the path, the message)
with :func:`service.escape.escape`.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from flags.errors import UnleashError
from flags.transitions import TransitionRefused
from service.errors import SwitchyardError
from service.escape import escape

__all__ = ["EXCEPTION_HANDLERS"]

_log = logging.getLogger("switchyard.web")


def _where(request: Request) -> str:
    return f"{escape(request.method, limit=16)} {escape(request.url.path)}"


async def _switchyard_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, SwitchyardError):  # pragma: no cover - the table routes by type
        raise exc
    context = exc.context()
    level = logging.WARNING if exc.status_code >= 500 else logging.INFO
    _log.log(
        level, "%s -> %d: %s %s", _where(request), exc.status_code, escape(exc.message), context
    )
    return JSONResponse(
        {"error": exc.message, **context}, status_code=exc.status_code, headers=exc.headers()
    )


async def _refused(request: Request, exc: Exception) -> Response:
    _log.info("%s -> 409: %s", _where(request), escape(exc))
    return JSONResponse({"error": str(exc)}, status_code=409)


async def _unleash_failed(request: Request, exc: Exception) -> Response:
    _log.warning("%s -> 502: %s", _where(request), escape(exc))
    return JSONResponse({"error": f"Unleash failed: {exc}"}, status_code=502)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - the table routes by type
        raise exc
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    _log.warning("%s -> 503: Redis: %s", _where(request), escape(repr(exc)))
    return JSONResponse({"error": "storage unavailable"}, status_code=503)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises ``exc`` after this answer; the server logs it with its traceback.
    _log.error("%s -> 500: %s", _where(request), type(exc).__name__)
    return JSONResponse({"error": "internal error"}, status_code=500)


EXCEPTION_HANDLERS: dict[Any, ExceptionHandler] = {
    SwitchyardError: _switchyard_error,
    TransitionRefused: _refused,
    UnleashError: _unleash_failed,
    HTTPException: _http_error,
    RedisError: _storage_unavailable,
    Exception: _internal_error,
}
