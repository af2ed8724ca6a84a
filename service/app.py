"""The Starlette application: ``create_app(settings)`` and its lifespan.

Routes: ``/healthz`` (alive), ``/readyz`` (Redis and flags usable), ``/health/summary`` (what
anyone may see, :mod:`service.web.health_summary`), ``/unleash/events``
(Unleash's webhook addon: refetch flags now, tell every process), ``/webhooks/github``
(:mod:`service.web.webhooks`), ``/webhooks/github/{system}`` (a GitHub App's own hook,
:mod:`service.web.app_webhooks`), ``/agents/{system}/completions``
(:mod:`service.web.completions`), ``/migration/status`` and ``/metrics``
(:mod:`service.web.status`), ``/migration/dashboard`` (:mod:`service.dashboard.route`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.errors import UnleashError
from flags.provision import EVENTS_SECRET_HEADER
from service.dashboard import route as dashboard_route
from service.dashboard.credentials import Credentials
from service.health.monitor import monitor_for
from service.migration.control import MigrationControl
from service.migration.override_sync import sync_overrides
from service.migration.propagation import publish_flag_change
from service.migration.unleash_events import import_unleash_events
from service.pipeline.trim import trim_periodically
from service.runtime import Runtime, open_runtime
from service.settings import Settings
from service.web import app_webhooks as app_webhook_route
from service.web import completions as completion_route
from service.web import health_summary as health_summary_route
from service.web import status as status_route
from service.web import webhooks as webhook_route
from service.web.body import LargeBodies
from service.web.errors import EXCEPTION_HANDLERS
from service.web.intake_errors import IntakeErrorCounter

__all__ = ["create_app"]

_log = logging.getLogger("switchyard.app")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    checks: dict[str, object] = {"flags": runtime.provider.freshness()}
    try:
        checks["redis"] = bool(await runtime.redis.ping())
    except RedisError as error:
        checks["redis"] = f"down: {type(error).__name__}"
    problems = runtime.provider.problems()
    checks["flag_config"] = (
        "invalid: " + "; ".join(problem.describe() for problem in problems) if problems else "ok"
    )
    ready = checks["redis"] is True and checks["flags"] in ("ready", "stale") and not problems
    return JSONResponse(
        {"ready": ready, "checks": checks, "flag_fetches": runtime.provider.stats.as_dict()},
        status_code=200 if ready else 503,
    )


async def unleash_events(request: Request) -> JSONResponse:
    """Unleash's webhook addon: a flag changed. Only ever triggers idempotent work."""
    runtime = _runtime(request)
    secret = runtime.settings.require_unleash_events_secret()
    if not secret.matches(request.headers.get(EVENTS_SECRET_HEADER, "")):
        return JSONResponse({"error": "missing or wrong shared secret"}, status_code=401)
    request.app.state.unleash_notifications += 1
    _log.info("flag change notification from Unleash; refetching")
    fresh = await runtime.provider.refresh()
    with contextlib.suppress(RedisError):
        await publish_flag_change(runtime.redis, prefix=runtime.prefix, source="unleash-addon")
    _schedule_import(request.app, runtime)
    return JSONResponse({"refetched": fresh}, status_code=202)


def _schedule_import(app: Starlette, runtime: Runtime) -> None:
    """Pull the change into the audit trail in the background (one import at a time)."""
    running: asyncio.Task[int] | None = getattr(app.state, "import_task", None)
    if running is not None and not running.done():
        return
    if runtime.settings.unleash_admin_token is None:
        return

    async def run() -> int:
        try:
            return await import_unleash_events(
                runtime.admin(), runtime.redis, prefix=runtime.prefix
            )
        except (UnleashError, RedisError) as error:
            _log.warning("could not import Unleash events: %s", error)
            return 0

    app.state.import_task = asyncio.create_task(run(), name="switchyard-import-unleash-events")


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> Starlette:
    """The service. Without ``runtime`` the lifespan opens one from ``settings`` and closes it;
    with one (tests: in-process against the real Redis) the app uses it from the start, also
    when no lifespan runs (httpx's ``ASGITransport``), and leaves closing it to the caller."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as resources:
            if runtime is None:
                app.state.runtime = await resources.enter_async_context(
                    open_runtime(settings, role="service")
                )
            stop = asyncio.Event()
            running: Runtime = app.state.runtime
            health = monitor_for(running)  # one prober across processes: under a lease
            with contextlib.suppress(Exception):  # status reads its results: have one at once
                await health.tick()
            monitor = asyncio.create_task(health.run(stop), name="health-monitor")
            background = [monitor]
            trimming = trim_periodically(
                running.redis,
                prefix=running.prefix,
                retention_seconds=settings.stream_retention_seconds,
                stop=stop,
            )
            background.append(asyncio.create_task(trimming, name="event-stream-trim"))
            if settings.unleash_admin_token is not None:
                control = MigrationControl(
                    admin=running.admin(), redis=running.redis, prefix=running.prefix
                )
                holder = f"{settings.instance}-service"
                background.append(
                    asyncio.create_task(
                        sync_overrides(control, holder=holder, stop=stop), name="override-sync"
                    )
                )
            yield
            stop.set()
            await asyncio.gather(*background)
            task: asyncio.Task[int] | None = getattr(app.state, "import_task", None)
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)

    intake_errors: Counter[int] = Counter()
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *health_summary_route.ROUTES,
            Route("/unleash/events", unleash_events, methods=["POST"]),
            *webhook_route.ROUTES,
            *app_webhook_route.ROUTES,
            *completion_route.ROUTES,
            *status_route.ROUTES,
            *dashboard_route.ROUTES,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(IntakeErrorCounter, counts=intake_errors)],
        lifespan=lifespan,
    )
    app.state.intake_errors = intake_errors
    app.state.credentials = Credentials.from_settings(  # the users file is read once, here
        admin_token=settings.admin_token,
        viewer_token=settings.viewer_token,
        users_file=settings.users_file,
    )
    app.state.unleash_notifications = 0
    app.state.large_bodies = LargeBodies(settings.max_large_bodies)
    if runtime is not None:
        app.state.runtime = runtime
    return app
