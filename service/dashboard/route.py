"""``/migration/dashboard``: the on-call page, its live panels, login, logout and actions.

=====================================================  =========================================
``GET  /migration/dashboard?window=1h|1d|7d``          the whole page (server-rendered HTML)
``GET  /migration/dashboard/panels?window=...``        the live panels alone; the page's script
                                                       fetches them every few seconds
``POST /migration/dashboard/login``                    ``actor``, ``token``: opens a session
``POST /migration/dashboard/logout``                   ends the session (CSRF token needed)
``POST /migration/dashboard/actions/{action}``         ``mode``, ``rollout``, ``rollback``,
                                                       ``leave-rollback`` (see
                                                       :mod:`service.dashboard.actions`)
``GET  /migration/static/...``                         the page's own CSS, script and icon
=====================================================  =========================================

Who may act is :mod:`service.dashboard.auth`'s business. An action from the page answers with a
redirect back to it (the result shown once at the top); one with a bearer token answers JSON:
200 done, 400 malformed, 409 refused by the transition table, 502 Unleash failed.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flags.errors import UnleashError
from flags.model import KILL_SWITCH_FLAG
from flags.transitions import TransitionRefused
from service.dashboard.actions import ACTIONS, describe, perform, read_form
from service.dashboard.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    DashboardAuth,
)
from service.dashboard.plan_panel import PLAN_ACTIONS, perform_plan_action, plan_card
from service.dashboard.throttle import LoginThrottle
from service.dashboard.trends import read_trends
from service.dashboard.view import SECURITY_HEADERS, STATIC_DIR, TEMPLATES, WINDOWS, view_model
from service.errors import (
    ActionInvalid,
    AuthRefused,
    NotProvisioned,
    SettingsError,
    SwitchyardError,
    Unauthenticated,
)
from service.escape import escape
from service.migration.control import MigrationControl
from service.runtime import Runtime
from service.status.snapshot import collect_status

__all__ = ["DASHBOARD_PATH", "ROUTES"]

_log = logging.getLogger("switchyard.dashboard")
DASHBOARD_PATH = "/migration/dashboard"
_REFRESH_SECONDS = 5


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _auth(runtime: Runtime) -> DashboardAuth:
    return DashboardAuth(
        admin_token=runtime.settings.admin_token,
        redis=runtime.redis,
        prefix=runtime.prefix,
        allowed_origins=[runtime.settings.service_url],
    )


def _window(request: Request) -> str | None:
    window = request.query_params.get("window", "1d")
    return window if window in WINDOWS else None


def _html(template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    body = TEMPLATES.get_template(template).render(context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


async def _panels_context(runtime: Runtime, window: str) -> dict[str, Any]:
    status = await collect_status(runtime, window=window)
    trends = await read_trends(runtime.redis, prefix=runtime.prefix, window=window)
    settings = runtime.settings
    return view_model(
        status,
        trends,
        unleash_url=settings.unleash_url,
        project=settings.unleash_project,
        window=window,
    )


async def _page(
    request: Request, *, login_error: str | None = None, status_code: int = 200
) -> Response:
    runtime = _runtime(request)
    window = _window(request)
    if window is None:
        return HTMLResponse("window must be 1h, 1d or 7d", 400, headers=SECURITY_HEADERS)
    auth = _auth(runtime)
    session = await auth.session(request)
    context = await _panels_context(runtime, window)
    context |= {
        "actions_enabled": auth.enabled,
        "unleash_writable": runtime.settings.unleash_admin_token is not None,
        "session": session,
        "flash": await auth.pop_flash(session) if session is not None else None,
        "login_error": login_error,
        "refresh_seconds": _REFRESH_SECONDS,
        "plan": await plan_card(runtime),
    }
    return _html("dashboard.html", context, status_code)


def _redis_down(runtime: Runtime, error: RedisError) -> Response:
    _log.warning("dashboard: Redis unreachable: %s", error)
    settings = runtime.settings
    context = {
        "title": "Redis unreachable",
        "status_code": 503,
        "message": f"The dashboard cannot read its data: {type(error).__name__}. The flags "
        "still route from Unleash; in an emergency, turn the kill switch on in the Unleash UI.",
        "link": f"{settings.unleash_url}/projects/{settings.unleash_project}/features/"
        f"{KILL_SWITCH_FLAG}",
    }
    return _html("refused.html", context, 503)


async def dashboard(request: Request) -> Response:
    try:
        return await _page(request)
    except RedisError as error:
        return _redis_down(_runtime(request), error)


async def panels(request: Request) -> Response:
    window = _window(request)
    if window is None:
        return HTMLResponse("window must be 1h, 1d or 7d", 400, headers=SECURITY_HEADERS)
    try:
        return _html("_panels.html", await _panels_context(_runtime(request), window))
    except RedisError as error:
        return _redis_down(_runtime(request), error)


def _refusal(request: Request, status_code: int, message: str) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        context = {"status_code": status_code, "message": message}
        return _html("refused.html", context, status_code)
    return JSONResponse({"error": message}, status_code=status_code, headers=SECURITY_HEADERS)


def _back(request: Request) -> RedirectResponse:
    window = request.query_params.get("window")
    suffix = f"?window={window}" if window in WINDOWS else ""
    return RedirectResponse(f"{DASHBOARD_PATH}{suffix}", status_code=303)


async def login(request: Request) -> Response:
    runtime = _runtime(request)
    auth = _auth(runtime)
    try:
        form = await read_form(request)
    except SwitchyardError as error:
        return _refusal(request, error.status_code, error.message)
    if not auth.enabled:
        return _refusal(request, 403, "read-only: SWITCHYARD_ADMIN_TOKEN is not configured")
    if not auth.same_origin(request):
        return _refusal(request, 403, "cross-origin request refused")
    client = request.client.host if request.client else "?"
    throttle = LoginThrottle(runtime.redis, prefix=runtime.prefix)
    wait = await throttle.retry_after(client)
    if wait is not None:
        refused = _refusal(request, 429, f"too many failed logins: try again in {wait} s")
        refused.headers["Retry-After"] = str(wait)
        return refused
    actor = " ".join(form.get("actor", "").split())[:64]
    if not actor:
        return await _page(
            request, login_error="Give your name for the audit trail.", status_code=400
        )
    opened = await auth.login(form.get("token", ""), actor)
    if opened is None:
        await throttle.failed(client)
        _log.warning("dashboard login refused (wrong token) from %s", client)
        return await _page(request, login_error="Wrong admin token.", status_code=401)
    _log.info("dashboard login: %s", escape(actor))
    response = _back(request)
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
    auth = _auth(_runtime(request))
    try:
        form = await read_form(request)
        caller = await auth.authorize(request, form)
    except Unauthenticated:
        caller = None  # no live session: only the stale cookie to clear
    except SwitchyardError as error:
        return _refusal(request, error.status_code, error.message)
    if caller is not None and caller.session is not None:
        await auth.logout(caller.session)
        _log.info("dashboard logout: %s", escape(caller.session.actor))
    response = _back(request)
    response.delete_cookie(SESSION_COOKIE, path="/migration", httponly=True, samesite="strict")
    return response


async def action(request: Request) -> Response:
    runtime = _runtime(request)
    name = request.path_params["action"]
    if name not in ACTIONS:
        return _refusal(request, 404, f"unknown action {name!r}")
    auth = _auth(runtime)
    try:
        form = await read_form(request)
        caller = await auth.authorize(request, form)
    except AuthRefused as refused:
        _log.warning("dashboard action %s refused: %s", name, escape(refused.message))
        return _refusal(request, refused.status_code, refused.message)
    except SwitchyardError as error:
        return _refusal(request, error.status_code, error.message)
    kind, status_code, result = "ok", 200, None
    try:
        control = MigrationControl(
            admin=runtime.admin(), redis=runtime.redis, prefix=runtime.prefix
        )
        result = await perform(control, name, form, actor=caller.actor)
        # The page shows the flags this process routes with: fetch them now rather than when
        # the broadcast's refetch happens to finish, so the page after the action is current.
        await runtime.provider.refresh()
        text = describe(name, result)
    except ActionInvalid as invalid:
        kind, status_code, text = "refused", 400, f"Refused: {invalid}"
    except TransitionRefused as refused:
        kind, status_code, text = "refused", 409, f"Refused: {refused}"
    except (NotProvisioned, SettingsError) as error:
        kind, status_code, text = "error", 409, f"Cannot change the flags: {error}"
    except (UnleashError, RedisError) as error:
        kind, status_code, text = "error", 502, f"Failed: {error}"
    _log.info("dashboard action %s by %s: %s", name, escape(caller.actor.name), escape(text))
    if caller.session is None:
        body = result.as_dict() if result is not None else {"error": text}
        return JSONResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
    await auth.set_flash(caller.session, kind, text)
    return _back(request)


async def plan_action(request: Request) -> Response:
    """``POST /migration/dashboard/plan/{approve|pause|resume|abort}``: same login and CSRF."""
    runtime, name = _runtime(request), request.path_params["action"]
    if name not in PLAN_ACTIONS:
        return _refusal(request, 404, f"unknown plan action {name!r}")
    try:
        form = await read_form(request)
        caller = await _auth(runtime).authorize(request, form)
    except SwitchyardError as error:
        return _refusal(request, error.status_code, error.message)
    try:
        kind, status_code = "ok", 200
        text = await perform_plan_action(runtime, name, form, actor=caller.actor)
    except SwitchyardError as refused:  # the plan's 409 and 403, NotProvisioned
        kind, status_code, text = "refused", refused.status_code, f"Refused: {refused.message}"
    except TransitionRefused as refused:
        kind, status_code, text = "refused", 409, f"Refused: {refused}"
    _log.info("dashboard plan %s by %s: %s", name, caller.actor.name, text)
    if caller.session is None:
        return JSONResponse({"result": text}, status_code=status_code, headers=SECURITY_HEADERS)
    await _auth(runtime).set_flash(caller.session, kind, text)
    return _back(request)


ROUTES: list[BaseRoute] = [
    Route(DASHBOARD_PATH, dashboard),
    Route(f"{DASHBOARD_PATH}/panels", panels),
    Route(f"{DASHBOARD_PATH}/login", login, methods=["POST"]),
    Route(f"{DASHBOARD_PATH}/logout", logout, methods=["POST"]),
    Route(f"{DASHBOARD_PATH}/actions/{{action}}", action, methods=["POST"]),
    Route(f"{DASHBOARD_PATH}/plan/{{action}}", plan_action, methods=["POST"]),
    Mount("/migration/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
