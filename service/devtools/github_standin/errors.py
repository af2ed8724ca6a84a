"""GitHub's error answers, as its REST API shapes them: ``{"message", "documentation_url"}``."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

__all__ = ["DOCS", "github_error"]

DOCS = "https://docs.github.com/rest"


def github_error(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, "status": str(status)},
        status_code=status,
        headers=dict(headers or {}),
    )
