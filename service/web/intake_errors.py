"""Counts the 5xx answers of the GitHub intake, in the process that gave them.

A 5xx on ``/webhooks/github`` means a delivery was not persisted, and GitHub does not redeliver
by itself. The count cannot live in Redis (a Redis outage is the usual cause), so each process
keeps its own and exposes it on ``/metrics`` as ``switchyard_intake_server_errors_total{code}``;
Prometheus sums the replicas. :class:`IntakeErrorCounter` is a pure ASGI middleware over a
``Counter`` the app keeps in ``app.state.intake_errors``: it looks at the status line of the
answer (or at an error escaping to Starlette's outermost 500 handler) and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["INTAKE_PATH_PREFIX", "IntakeErrorCounter", "intake_error_family"]

INTAKE_PATH_PREFIX = "/webhooks/"


class IntakeErrorCounter:
    """ASGI middleware: ``counts[status]`` for every 5xx answered under ``/webhooks/``."""

    def __init__(self, app: ASGIApp, *, counts: Counter[int]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(INTAKE_PATH_PREFIX):
            await self.app(scope, receive, send)
            return

        started = False

        async def counting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if int(message["status"]) >= 500:
                    self.counts[int(message["status"])] += 1
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            if not started:  # the outermost error middleware answers 500 for it
                self.counts[500] += 1
            raise


def intake_error_family(counts: Counter[int]) -> Iterator[CounterMetricFamily]:
    family = CounterMetricFamily(
        "switchyard_intake_server_errors",
        "5xx answers to GitHub deliveries by this process (not persisted)",
        labels=["code"],
    )
    for code in sorted(counts):
        family.add_metric([str(code)], counts[code])
    yield family
