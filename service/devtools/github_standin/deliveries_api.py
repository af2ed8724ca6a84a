"""GitHub's hook deliveries endpoints, as documented, over :mod:`.deliveries`.

====================================================================  ==========================
``GET  /repos/{owner}/{repo}/hooks/{hook_id}/deliveries``              200 list, token
``GET  /orgs/{org}/hooks/{hook_id}/deliveries``                        200 list, token
``GET  /app/hook/deliveries``                                          200 list, App JWT
``POST .../deliveries/{delivery_id}/attempts`` (each of the three)    202 ``{}``; 404; 422 spam
====================================================================  ==========================

``/app/hook/...`` is the hook of the App whose JWT calls it (each App has its own webhook: its
deliveries, its redeliveries, its rate limit); an App without a hook here gets 404.

Lists take ``per_page`` (default 30, at most 100), ``cursor`` and ``redelivery`` (true/false);
they are newest first, and the next page is named in the ``Link`` header
(``<...?per_page=30&cursor=v1_90000000012>; rel="next"``). A bad parameter is 400.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.devtools.github_standin.auth import Identity, StandinAuth
from service.devtools.github_standin.deliveries import DeliveryStore, Spammed, UnknownDelivery
from service.devtools.github_standin.errors import github_error
from service.devtools.github_standin.guard import guarded
from service.devtools.github_standin.ratelimit import StandinLimits
from service.github.api.hooks import parse_hook

__all__ = ["delivery_routes"]

_REPO = "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries"
_ORG = "/orgs/{org}/hooks/{hook_id}/deliveries"
_APP = "/app/hook/deliveries"
_CURSOR = "v1_"


def _spec(request: Request, store: DeliveryStore) -> str | None:
    params = request.path_params
    if "repo" in params:
        raw = f"repos/{params['owner']}/{params['repo']}/hooks/{params['hook_id']}"
    elif "org" in params:
        raw = f"orgs/{params['org']}/hooks/{params['hook_id']}"
    else:
        identity: Identity = request.state.identity
        return store.app_hooks.get(identity.app_id or "")
    try:
        return parse_hook(raw).spec
    except ValueError:
        return None


def delivery_routes(store: DeliveryStore, auth: StandinAuth, limits: StandinLimits) -> list[Route]:
    async def list_deliveries(request: Request) -> Response:
        spec = _spec(request, store)
        if spec is None or spec not in store.hooks:
            return github_error(404, "Not Found")
        query = request.query_params
        per_page_raw = query.get("per_page", "30")
        cursor = query.get("cursor")
        redelivery_raw = query.get("redelivery")
        if not per_page_raw.isdigit() or int(per_page_raw) < 1:
            return github_error(400, "per_page must be a positive number")
        if cursor is not None and not (
            cursor.startswith(_CURSOR) and cursor[len(_CURSOR) :].isdigit()
        ):
            return github_error(400, "cursor is not valid")
        if redelivery_raw not in {None, "true", "false"}:
            return github_error(400, "redelivery must be true or false")
        per_page = min(int(per_page_raw), 100)
        items, more = store.page(
            spec,
            before_id=int(cursor[len(_CURSOR) :]) if cursor else None,
            per_page=per_page,
            redelivery=None if redelivery_raw is None else redelivery_raw == "true",
        )
        headers: dict[str, str] = {}
        if more is not None:
            kept = {k: v for k, v in query.items() if k != "cursor"}
            kept["per_page"] = str(per_page)
            next_url = request.url.include_query_params(**kept, cursor=f"{_CURSOR}{more}")
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse([a.as_json() for a in items], headers=headers)

    async def redeliver(request: Request) -> Response:
        spec = _spec(request, store)
        raw_id = request.path_params["delivery_id"]
        if spec is None or spec not in store.hooks or not raw_id.isdigit():
            return github_error(404, "Not Found")
        try:
            await store.redeliver(spec, int(raw_id))
        except UnknownDelivery:
            return github_error(404, "Not Found")
        except Spammed:
            return JSONResponse(
                {
                    "message": "Validation Failed",
                    "errors": ["the endpoint has been spammed"],
                    "documentation_url": "https://docs.github.com/rest",
                },
                status_code=422,
            )
        return JSONResponse({}, status_code=202)

    routes: list[Route] = []
    for path in (_REPO, _ORG, _APP):
        app = path == _APP
        routes.append(Route(path, guarded(auth, limits, list_deliveries, app=app)))
        routes.append(
            Route(
                f"{path}/{{delivery_id}}/attempts",
                guarded(auth, limits, redeliver, app=app),
                methods=["POST"],
            )
        )
    return routes
