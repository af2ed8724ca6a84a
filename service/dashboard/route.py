"""``/migration/dashboard``: the on-call page, its live panels, login, logout and actions.

=====================================================  =========================================
``GET  /migration/dashboard?window=1h|1d|7d``          the whole page (server-rendered HTML)
``GET  /migration/dashboard/panels?window=...``        the live panels alone; the page's script
                                                       fetches them every few seconds
``GET  /migration/dashboard/login``                    the login form
``POST /migration/dashboard/login``                    ``token``: opens a session
``POST /migration/dashboard/logout``                   ends the session (CSRF token needed)
``POST /migration/dashboard/actions/{action}``         ``mode``, ``rollout``, ``rollback``,
                                                       ``leave-rollback`` (see
                                                       :mod:`service.dashboard.actions`)
``POST /migration/dashboard/plan/{action}``            ``approve``, ``pause``, ``resume``,
                                                       ``abort`` (:mod:`.plan_panel`)
``GET  /migration/static/...``                         the page's own CSS, script and icon
=====================================================  =========================================

Every one of them but the login and the static files needs a login
(:mod:`service.dashboard.auth`): a page without one redirects to the login form, the panels
answer 401. Viewers read; operators, approvers and the admin token act (a viewer's action: 403).
An action from the page answers with a redirect back to it (the result shown once at the top);
one with a bearer token answers JSON: 200 done, 400 malformed, 409 refused by the transition
table, 502 Unleash failed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flags.errors import UnleashError
from flags.model import KILL_SWITCH_FLAG
from flags.transitions import TransitionRefused
from service.dashboard import login as login_route
from service.dashboard.actions import ACTIONS, describe, perform, read_form
from service.dashboard.auth import DashboardAuth
from service.dashboard.plan_panel import PLAN_ACTIONS, perform_plan_action, plan_card
from service.dashboard.replies import (
    DASHBOARD_PATH,
    back,
    dashboard_auth,
    html,
    refusal,
    runtime_of,
    to_login,
)
from service.dashboard.trends import read_trends
from service.dashboard.view import SECURITY_HEADERS, STATIC_DIR, WINDOWS, view_model
from service.errors import (
    ActionInvalid,
    AuthRefused,
    NotProvisioned,
    SettingsError,
    SwitchyardError,
)
from service.escape import escape
from service.migration.control import MigrationControl
from service.runtime import Runtime
from service.status.snapshot import collect_status

__all__ = ["ROUTES"]

_log = logging.getLogger("switchyard.dashboard")
_REFRESH_SECONDS = 5


def _window(request: Request) -> str | None:
    window = request.query_params.get("window", "1d")
    return window if window in WINDOWS else None


async def _panels_context(runtime: Runtime, window: str) -> dict[str, Any]:
    status, trends = await asyncio.gather(  # both in flight at once
        collect_status(runtime, window=window),
        read_trends(runtime.redis, prefix=runtime.prefix, window=window),
    )
    settings = runtime.settings
    return view_model(
        status,
        trends,
        unleash_url=settings.unleash_url,
        project=settings.unleash_project,
        window=window,
    )


async def _page(request: Request, auth: DashboardAuth) -> Response:
    runtime = runtime_of(request)
    identity, session = await auth.reader(request)
    window = _window(request)
    if window is None:
        return HTMLResponse("window must be 1h, 1d or 7d", 400, headers=SECURITY_HEADERS)
    context = await _panels_context(runtime, window)
    context |= {
        "identity": identity,
        "unleash_writable": runtime.settings.unleash_admin_token is not None,
        "session": session,
        "flash": await auth.pop_flash(session) if session is not None else None,
        "refresh_seconds": _REFRESH_SECONDS,
        "plan": await plan_card(runtime),
    }
    return html("dashboard.html", context)


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
    return html("refused.html", context, 503)


async def dashboard(request: Request) -> Response:
    auth = dashboard_auth(request)
    try:
        return await _page(request, auth)
    except AuthRefused as refused:
        if refused.status_code == 401 and "authorization" not in request.headers:
            return to_login(request)  # a browser without a session: to the login form
        return refusal(request, refused.status_code, refused.message, refused.headers())
    except RedisError as error:
        return _redis_down(runtime_of(request), error)


async def panels(request: Request) -> Response:
    try:
        await dashboard_auth(request).reader(request)
        window = _window(request)
        if window is None:
            return HTMLResponse("window must be 1h, 1d or 7d", 400, headers=SECURITY_HEADERS)
        return html("_panels.html", await _panels_context(runtime_of(request), window))
    except AuthRefused as refused:
        return refusal(request, refused.status_code, refused.message, refused.headers())
    except RedisError as error:
        return _redis_down(runtime_of(request), error)


async def action(request: Request) -> Response:
    runtime = runtime_of(request)
    name = request.path_params["action"]
    if name not in ACTIONS:
        return refusal(request, 404, f"unknown action {name!r}")
    auth = dashboard_auth(request)
    try:
        form = await read_form(request)
        caller = await auth.authorize(request, form)
    except AuthRefused as refused:
        _log.warning("dashboard action %s refused: %s", name, escape(refused.message))
        return refusal(request, refused.status_code, refused.message, refused.headers())
    except SwitchyardError as error:
        return refusal(request, error.status_code, error.message)
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
    return back(request)


async def plan_action(request: Request) -> Response:
    """``POST /migration/dashboard/plan/{approve|pause|resume|abort}``: same login and CSRF."""
    runtime, name = runtime_of(request), request.path_params["action"]
    if name not in PLAN_ACTIONS:
        return refusal(request, 404, f"unknown plan action {name!r}")
    auth = dashboard_auth(request)
    try:
        form = await read_form(request)
        caller = await auth.authorize(request, form)
    except SwitchyardError as error:
        return refusal(request, error.status_code, error.message, error.headers())
    try:
        kind, status_code = "ok", 200
        text = await perform_plan_action(
            runtime, name, form, caller=caller.identity, source=caller.actor.source
        )
    except SwitchyardError as refused:  # the plan's 409 and 403, NotProvisioned
        kind, status_code, text = "refused", refused.status_code, f"Refused: {refused.message}"
    except TransitionRefused as refused:
        kind, status_code, text = "refused", 409, f"Refused: {refused}"
    _log.info("dashboard plan %s by %s: %s", name, escape(caller.actor.name), escape(text))
    if caller.session is None:
        return JSONResponse({"result": text}, status_code=status_code, headers=SECURITY_HEADERS)
    await auth.set_flash(caller.session, kind, text)
    return back(request)


ROUTES: list[BaseRoute] = [
    Route(DASHBOARD_PATH, dashboard),
    Route(f"{DASHBOARD_PATH}/panels", panels),
    *login_route.ROUTES,
    Route(f"{DASHBOARD_PATH}/actions/{{action}}", action, methods=["POST"]),
    Route(f"{DASHBOARD_PATH}/plan/{{action}}", plan_action, methods=["POST"]),
    Mount("/migration/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
