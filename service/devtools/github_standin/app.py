"""The stand-in's parts, put together: :class:`Standin` (state) and :func:`create_app`.

Each concern is its own module and route list: App authentication (:mod:`.auth`), rate limits
(:mod:`.ratelimit`, applied by :mod:`.guard`), hook deliveries (:mod:`.deliveries`,
:mod:`.deliveries_api`) and the test controls (:mod:`.control`). Issues, labels, assignees and
comments are :mod:`.issues`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from flags.secret import Secret
from service.devtools.github_standin.auth import StandinAuth
from service.devtools.github_standin.control import control_routes
from service.devtools.github_standin.deliveries import DeliveryStore
from service.devtools.github_standin.deliveries_api import delivery_routes
from service.devtools.github_standin.guard import guarded
from service.devtools.github_standin.issues import IssueStore, issue_routes
from service.devtools.github_standin.ratelimit import LimitSettings, StandinLimits

__all__ = ["Standin", "create_app"]


@dataclass
class Standin:
    """Everything the stand-in knows; tests reach in here to set the scene and to look."""

    auth: StandinAuth
    limits: StandinLimits
    deliveries: DeliveryStore
    issues: IssueStore = field(default_factory=IssueStore)

    @classmethod
    def build(
        cls,
        *,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        app_id: str | None = None,
        app_public_key: str | None = None,
        apps: Mapping[str, str] | None = None,
        installation_ids: Iterable[int] = (),
        tokens: Iterable[Secret] = (),
        limits: LimitSettings | None = None,
    ) -> Standin:
        return cls(
            auth=StandinAuth(
                clock=clock,
                app_id=app_id,
                app_public_key=app_public_key,
                apps=apps,
                installation_ids=installation_ids,
                tokens=tokens,
            ),
            limits=StandinLimits(clock=clock, settings=limits),
            deliveries=DeliveryStore(http=http, clock=clock),
        )


def create_app(standin: Standin) -> Starlette:
    auth, limits = standin.auth, standin.limits
    routes = [
        Route(
            "/app/installations/{installation_id}/access_tokens",
            guarded(auth, limits, auth.access_tokens, app=True),
            methods=["POST"],
        ),
        *delivery_routes(standin.deliveries, auth, limits),
        *issue_routes(standin.issues, auth, limits),
        *control_routes(standin.deliveries, limits),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin
    return app
