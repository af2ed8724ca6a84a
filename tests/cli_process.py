"""Run the installed ``switchyard`` command as a real process and capture what it printed."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SWITCHYARD", "CliResult", "run_cli"]

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}: {self.stderr or self.stdout}"
        return json.loads(self.stdout)


async def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60) -> CliResult:  # noqa: ASYNC109
    proc = await asyncio.create_subprocess_exec(
        SWITCHYARD,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return CliResult(int(proc.returncode or 0), out.decode(), err.decode())
