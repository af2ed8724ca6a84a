"""``switchyard`` subcommands run as child processes, each logging to its own file.

Used by ``switchyard demo`` to run the service, worker, watchdog and simulated agents side by
side. Every child is stopped on the way out, also after an error or Ctrl-C: SIGTERM first, then
SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from service.errors import ChildExited

__all__ = [
    "Child",
    "ChildExited",
    "ChildProcesses",
    "free_port",
    "stop_process",
    "switchyard_executable",
]


def switchyard_executable() -> str:
    """The ``switchyard`` script of this interpreter's environment (or the one on PATH)."""
    beside = Path(sys.executable).parent / "switchyard"
    if beside.exists():
        return str(beside)
    found = shutil.which("switchyard")
    if found is None:
        raise FileNotFoundError("the switchyard command is not installed in this environment")
    return found


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def stop_process(process: asyncio.subprocess.Process, *, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace_seconds``; reaped either way."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_running(self) -> None:
        if self.process.returncode is not None:
            raise ChildExited(
                f"{self.name} exited with code {self.process.returncode}; "
                f"last lines of {self.log}:\n{self.tail()}"
            )


class ChildProcesses:
    """An async context manager owning the children it starts."""

    def __init__(self, *, env: Mapping[str, str], log_dir: Path, grace_seconds: float = 10.0):
        self._env = dict(env)
        self._grace = grace_seconds
        self.log_dir = log_dir
        self.children: list[Child] = []

    async def __aenter__(self) -> ChildProcesses:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop_all()

    async def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Child:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                switchyard_executable(),
                *args,
                env={**self._env, **(env or {})},
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the demo, not them
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    async def wait_ready(
        self, child: Child, url: str, http: httpx.AsyncClient, *, within: float = 60.0
    ) -> None:
        """Poll ``url`` until it answers 200 while ``child`` keeps running."""
        async with asyncio.timeout(within):
            while True:
                child.check_running()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url, timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.2)

    def check_all(self) -> None:
        for child in self.children:
            child.check_running()

    async def stop_all(self) -> None:
        await asyncio.gather(
            *(stop_process(child.process, grace_seconds=self._grace) for child in self.children)
        )
