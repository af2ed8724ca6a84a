"""Run the stand-in under uvicorn (``switchyard github-standin``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import httpx
import uvicorn

from flags.secret import Secret
from service.devtools.github_standin.app import Standin, create_app
from service.github.api.hooks import HookRef

__all__ = ["serve_standin"]


async def serve_standin(
    *,
    host: str,
    port: int,
    hooks: Sequence[tuple[HookRef, str]],
    secret: Secret,
    tokens: Iterable[Secret] = (),
    app_id: str | None = None,
    app_public_key: str | None = None,
    installation_ids: Iterable[int] = (),
) -> None:
    """Serve until interrupted; each hook delivers to its URL, signed with ``secret``."""
    async with httpx.AsyncClient(timeout=10) as outbound:
        standin = Standin.build(
            http=outbound,
            app_id=app_id,
            app_public_key=app_public_key,
            installation_ids=installation_ids,
            tokens=tokens,
        )
        for ref, url in hooks:
            standin.deliveries.add_hook(ref, url=url, secret=secret, app_id=int(app_id or 0))
        config = uvicorn.Config(create_app(standin), host=host, port=port, log_level="info")
        await uvicorn.Server(config).serve()
