"""An HTTP load generator on asyncio: closed loop (max throughput) and open loop (fixed rate).

Two clients post the same signed delivery with a distinct ``X-GitHub-Delivery`` each time:

* ``raw`` (default): keep-alive HTTP/1.1 over an :class:`asyncio.Protocol`, a few microseconds
  of CPU per request. It only speaks what uvicorn answers here (a status line, headers, a
  ``Content-Length`` body), which is all a load generator needs.
* ``httpx``: :class:`httpx.AsyncClient`. It costs far more CPU per request than the servers
  measured here and its pool slows down as concurrency grows (about 1,400 requests/s at 4
  connections and 420 at 32 on the development machine, for the bare server and the real app
  alike), so with it the ceiling is the generator's. Kept as a cross-check.

Latencies are in seconds; in the open loop they count from when a request was *due*, so a
stalled server shows up as latency instead of silently lowering the offered rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import urlsplit

import httpx

__all__ = [
    "CLIENTS",
    "HttpxTarget",
    "LoadRun",
    "RawTarget",
    "Target",
    "closed_loop",
    "open_loop",
]

Headers = Callable[[str], Mapping[str, str]]  # delivery id -> request headers


class Target(Protocol):
    """Where the load goes: ``post`` answers the status code, or the error's name."""

    async def post(self, delivery_id: str) -> str: ...

    async def aclose(self) -> None: ...


@dataclass
class LoadRun:
    """What one run saw: latencies (s) of the counted requests and their outcomes."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        length = 0
        at = head.find(b"content-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(self._buffer) < end + 4 + length:
            return
        status = int(self._buffer[9:12])
        del self._buffer[: end + 4 + length]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionResetError("server closed the connection"))

    async def request(self, payload: bytes) -> int:
        if self._transport is None or self.closed:
            raise ConnectionResetError("connection closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(payload)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RawTarget:
    """Keep-alive HTTP/1.1 posts; connections are pooled and reused. ``post`` sends ``body``
    with ``headers(delivery_id)``; ``send`` sends anything."""

    def __init__(self, url: str, body: bytes = b"", headers: Headers | None = None) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._start = f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode()
        self._body = body
        self._headers = headers
        self._idle: deque[_Connection] = deque()
        self._all: list[_Connection] = []

    def _payload(self, headers: Mapping[str, str], body: bytes) -> bytes:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        length = f"Content-Length: {len(body)}\r\n\r\n"
        return b"".join((self._start, lines.encode(), length.encode(), body))

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self._host, self._port)
        self._all.append(connection)
        return connection

    async def send(self, headers: Mapping[str, str], body: bytes) -> str:
        try:
            connection = await self._connection()
            status = await connection.request(self._payload(headers, body))
        except OSError as error:
            return type(error).__name__
        self._idle.append(connection)
        return str(status)

    async def post(self, delivery_id: str) -> str:
        headers = self._headers(delivery_id) if self._headers is not None else {}
        return await self.send(headers, self._body)

    async def aclose(self) -> None:
        for connection in self._all:
            connection.close()
        self._idle.clear()
        self._all.clear()


class HttpxTarget:
    """The same posts through :class:`httpx.AsyncClient`."""

    def __init__(self, url: str, body: bytes, headers: Headers, *, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(10.0))
        self._url = url
        self._body = body
        self._headers = headers

    async def post(self, delivery_id: str) -> str:
        try:
            response = await self._http.post(
                self._url, content=self._body, headers=dict(self._headers(delivery_id))
            )
        except httpx.HTTPError as error:
            return type(error).__name__
        return str(response.status_code)

    async def aclose(self) -> None:
        await self._http.aclose()


CLIENTS = ("raw", "httpx")


def target(client: str, url: str, body: bytes, headers: Headers, *, connections: int) -> Target:
    if client == "httpx":
        return HttpxTarget(url, body, headers, connections=connections)
    return RawTarget(url, body, headers)


async def closed_loop(
    target: Target, *, concurrency: int, seconds: float, warmup: float
) -> LoadRun:
    """``concurrency`` clients post back to back. Requests that *finish* inside the measured
    window (after the warm-up) count; throughput is their number over the window."""
    run_id = uuid.uuid4().hex[:8]
    result = LoadRun(seconds=seconds)
    begin = time.perf_counter() + warmup
    end = begin + seconds

    async def user(index: int) -> None:
        sent = 0
        while (start := time.perf_counter()) < end:
            sent += 1
            status = await target.post(f"bench-{run_id}-{index}-{sent}")
            done = time.perf_counter()
            if begin <= done <= end:
                result.latencies.append(done - start)
                result.statuses[status] += 1

    await asyncio.gather(*(user(i) for i in range(concurrency)))
    return result


async def open_loop(target: Target, *, rate: float, seconds: float, warmup: float) -> LoadRun:
    """Request ``i`` is due at ``i / rate`` whatever the answers do; latency counts from
    then. The requests due during the warm-up do not count."""
    run_id = uuid.uuid4().hex[:8]
    result = LoadRun(seconds=seconds)
    total = int((warmup + seconds) * rate)
    first_counted = int(warmup * rate)

    async def one(index: int, due: float) -> None:
        status = await target.post(f"bench-{run_id}-{index}")
        if index >= first_counted:
            result.latencies.append(time.perf_counter() - due)
            result.statuses[status] += 1

    tasks: list[asyncio.Task[None]] = []
    origin = time.perf_counter() + 0.05
    try:
        for index in range(total):
            due = origin + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    return result
