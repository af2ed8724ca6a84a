"""How the dashboard's routes answer: pages, refusals, redirects, and the auth of the app.

A refusal is a small HTML page when the caller asked for HTML (a browser's form post), else
``{"error": ...}`` JSON; both carry the error's own headers (``WWW-Authenticate``,
``Retry-After``) and the page's security headers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from service.dashboard.auth import DashboardAuth
from service.dashboard.credentials import Credentials
from service.dashboard.view import SECURITY_HEADERS, TEMPLATES, WINDOWS
from service.runtime import Runtime

__all__ = ["DASHBOARD_PATH", "back", "dashboard_auth", "html", "refusal", "runtime_of", "to_login"]

DASHBOARD_PATH = "/migration/dashboard"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def dashboard_auth(request: Request) -> DashboardAuth:
    """The auth of this app: its credentials (read once, by ``create_app``) over its Redis."""
    runtime = runtime_of(request)
    credentials: Credentials = request.app.state.credentials
    return DashboardAuth(
        credentials=credentials,
        redis=runtime.redis,
        prefix=runtime.prefix,
        allowed_origins=[runtime.settings.service_url],
    )


def html(template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    body = TEMPLATES.get_template(template).render(context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def refusal(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        context = {"status_code": status_code, "message": message}
        answer = html("refused.html", context, status_code)
        answer.headers.update(headers or {})
        return answer
    extra = {**SECURITY_HEADERS, **(headers or {})}
    return JSONResponse({"error": message}, status_code=status_code, headers=extra)


def _suffix(request: Request) -> str:
    window = request.query_params.get("window")
    return f"?window={window}" if window in WINDOWS else ""


def back(request: Request) -> RedirectResponse:
    """Back to the dashboard (the same window)."""
    return RedirectResponse(f"{DASHBOARD_PATH}{_suffix(request)}", status_code=303)


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{DASHBOARD_PATH}/login{_suffix(request)}", status_code=303)
