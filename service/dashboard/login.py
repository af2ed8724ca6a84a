"""Logging in and out of the dashboard: the form, the session cookie, the throttle.

``GET /migration/dashboard/login`` shows the form; ``POST`` with ``token`` (the viewer token,
the admin token or a person's own) opens a session named by the token, never by a typed name.
Failed logins are throttled per client and counted (:mod:`service.dashboard.throttle`); the
form must come from the service's own origin. ``POST /migration/dashboard/logout`` ends the
session (its CSRF token needed) and returns to the form.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from service.dashboard.actions import read_form
from service.dashboard.auth import SESSION_COOKIE, SESSION_SECONDS, DashboardAuth, client_of
from service.dashboard.replies import (
    DASHBOARD_PATH,
    back,
    dashboard_auth,
    html,
    refusal,
    to_login,
)
from service.dashboard.view import WINDOWS
from service.errors import AuthRefused, SwitchyardError
from service.escape import escape

__all__ = ["ROUTES"]

_log = logging.getLogger("switchyard.dashboard")


def _login_page(
    request: Request, auth: DashboardAuth, *, error: str | None = None, status_code: int = 200
) -> Response:
    window = request.query_params.get("window")
    context = {
        "enabled": auth.enabled,
        "login_error": error,
        "window": window if window in WINDOWS else "1d",
    }
    return html("login.html", context, status_code)


async def login_form(request: Request) -> Response:
    return _login_page(request, dashboard_auth(request))


async def login(request: Request) -> Response:
    auth = dashboard_auth(request)
    try:
        form = await read_form(request)
    except SwitchyardError as error:
        return refusal(request, error.status_code, error.message)
    if not auth.enabled:
        return _login_page(request, auth, error="No credentials are configured.", status_code=403)
    if not auth.same_origin(request):
        return refusal(request, 403, "cross-origin request refused")
    client = client_of(request)
    wait = await auth.throttle.retry_after(client)
    if wait is not None:
        return refusal(
            request,
            429,
            f"too many failed logins: try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    opened = await auth.login(form.get("token", ""))
    if opened is None:
        await auth.throttle.failed(client)
        _log.warning("dashboard login refused (unknown token) from %s", escape(client))
        return _login_page(request, auth, error="Unknown token.", status_code=401)
    session = opened[0]
    _log.info("dashboard login: %s (%s)", escape(session.actor), session.identity.role.value)
    response = back(request)
    response.set_cookie(
        SESSION_COOKIE,
        opened[1],
        max_age=SESSION_SECONDS,
        path="/migration",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    auth = dashboard_auth(request)
    try:
        form = await read_form(request)
        caller = await auth.caller(request, form)
    except AuthRefused as refused:
        if refused.status_code != 401:
            return refusal(request, refused.status_code, refused.message, refused.headers())
        caller = None  # no live session: only the stale cookie to clear
    except SwitchyardError as error:
        return refusal(request, error.status_code, error.message)
    if caller is not None and caller.session is not None:
        await auth.logout(caller.session)
        _log.info("dashboard logout: %s", escape(caller.session.actor))
    response = to_login(request)
    response.delete_cookie(SESSION_COOKIE, path="/migration", httponly=True, samesite="strict")
    return response


ROUTES: list[BaseRoute] = [
    Route(f"{DASHBOARD_PATH}/login", login_form, methods=["GET"]),
    Route(f"{DASHBOARD_PATH}/login", login, methods=["POST"]),
    Route(f"{DASHBOARD_PATH}/logout", logout, methods=["POST"]),
]
