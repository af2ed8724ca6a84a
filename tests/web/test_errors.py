"""The one exception tree and the one handler table that turns it into answers."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import service
from flags.errors import UnleashUnreachable
from flags.model import Issue
from flags.transitions import TransitionRefused
from service import errors
from service.errors import Overloaded, SignatureError, SwitchyardError
from service.web.errors import EXCEPTION_HANDLERS


def _service_modules() -> list[Any]:
    names = [m.name for m in pkgutil.walk_packages(service.__path__, "service.")]
    return [importlib.import_module(name) for name in names]


def test_every_exception_the_service_defines_is_in_the_one_tree() -> None:
    outside = sorted(
        f"{module.__name__}.{name}"
        for module in _service_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
        and not issubclass(value, SwitchyardError)
    )
    assert outside == []


def test_every_error_status_is_an_http_error_status() -> None:
    tree = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, SwitchyardError)
    ]
    assert len(tree) >= 20
    assert all(400 <= cls.status_code < 600 for cls in tree)
    assert errors.Unauthenticated.status_code == 401
    assert errors.Forbidden.status_code == 403
    assert issubclass(errors.Forbidden, errors.AuthRefused)
    assert errors.ActionInvalid.status_code == 400


async def _answers(*raising: BaseException) -> list[httpx.Response]:
    def route(index: int, error: BaseException) -> Route:
        async def endpoint(request: Request) -> Response:
            raise error

        return Route(f"/{index}", endpoint)

    app = Starlette(
        routes=[route(i, error) for i, error in enumerate(raising)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return [await client.get(f"/{i}") for i in range(len(raising))]


def _json(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    payload: dict[str, Any] = response.json()
    return payload


async def test_unexpected_error_is_a_bare_500_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="switchyard.web"):
        exploded, refused, down = await _answers(
            RuntimeError("database password is hunter2"),
            SignatureError("X-Hub-Signature-256 is missing", delivery_id="d-7"),
            RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        )
    assert _json(exploded, 500) == {"error": "internal error"}
    assert _json(down, 503) == {"error": "storage unavailable"}  # try again later
    assert "hunter2" not in exploded.text
    assert "RuntimeError" in caplog.text
    assert _json(refused, 401) == {
        "error": "X-Hub-Signature-256 is missing",
        "delivery_id": "d-7",
    }


async def test_the_table_maps_the_tree_and_the_flags_errors() -> None:
    busy, fenced, transition, unleash, lock = await _answers(
        Overloaded("too many large bodies at once", retry_after=2),
        errors.Fenced(Issue("acme/app", 3), "job-1"),
        TransitionRefused("already in emergency rollback"),
        UnleashUnreachable("http://unleash", "refused"),
        errors.LockTimeout(Issue("acme/app", 4), 0.5),
    )
    assert _json(busy, 503) == {"error": "too many large bodies at once"}
    assert busy.headers["retry-after"] == "2"
    assert _json(fenced, 409)["issue"] == "acme/app#3"
    assert _json(transition, 409) == {"error": "already in emergency rollback"}
    assert _json(unleash, 502)["error"].startswith("Unleash failed")
    assert _json(lock, 503)["issue"] == "acme/app#4"


async def test_log_lines_escape_what_came_from_outside(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchyard.web"):
        [answer] = await _answers(errors.PayloadError("bad name 'a\nb\x00c'"))
    assert answer.status_code == 400
    [record] = [r for r in caplog.records if r.name == "switchyard.web"]
    line = record.getMessage()
    assert "\n" not in line and "\x00" not in line
    assert "a\\x0ab\\x00c" in line
