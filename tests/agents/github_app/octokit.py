"""Run ``@octokit/webhooks`` (``tests/node``, installed by ``make deps``) over deliveries."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["octokit_verify"]

_NODE_DIR = Path(__file__).resolve().parents[2] / "node"


async def octokit_verify(
    secret: str, deliveries: Sequence[tuple[str, Mapping[str, str]]]
) -> list[dict[str, Any]]:
    """``Webhooks({secret}).verifyAndReceive`` for each (body, headers): verified, id, name."""
    node = shutil.which("node")
    assert node is not None, "node is not installed (make deps)"
    assert (_NODE_DIR / "node_modules" / "@octokit" / "webhooks").is_dir(), (
        "tests/node/node_modules is missing: run `make deps`"
    )
    request = {
        "secret": secret,
        "deliveries": [{"body": body, "headers": dict(headers)} for body, headers in deliveries],
    }
    process = await asyncio.create_subprocess_exec(
        node,
        "verify.mjs",
        cwd=_NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(json.dumps(request).encode())
    assert process.returncode == 0, err.decode()
    results: list[dict[str, Any]] = json.loads(out)
    return results
