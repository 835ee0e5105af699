"""A lean keep-alive connection pool for whole upstream replies, on httptools' parser.

Why: a proxied request that is not a stream spent about a quarter of its CPU in aiohttp's
client (request object, payload writer, response object, stream reader, per-request
timer). Here one request is one pre-rendered head written with the body, one parser feed
per packet, and one future (docs/PERFORMANCE.md has the before and after). Streams stay
on aiohttp's client, which relays chunks as they come.

What production needs and this pool does:
- a pool limit: at most ``limit`` connections; past it a request waits its turn (FIFO);
- a per-read timeout without a timer per request: one sweep, re-armed only while
  requests are in flight, fails a request whose connection has been silent too long
  (granularity: a quarter of the timeout, at most a second);
- a pooled connection found dead before any byte of its reply arrived (Ollama restarted
  and closed it) is retried once on a new connection; never after a byte arrived;
- ``Connection: close`` (and HTTP/1.0) honoured: such a connection is not reused;
- a cancelled request closes its connection (Ollama sees the disconnect and stops);
- duplicate response headers kept (a multidict);
- whatever the upstream sends, memory stays bounded: a reply that is not small and framed
  by Content-Length is relayed as it arrives, reading paused while the client lags.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Iterable

from yarl import URL

from ..credentials import redact_url
from ..errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .connection import Connection, Dead, PoolReply

IDLE_SECONDS = 30.0  # an idle connection older than this is closed instead of reused


class LeanPool:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        limit: int,
        default_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        url = URL(base_url)
        self.base_url = base_url
        self.shown_url = redact_url(base_url)  # for messages that reach clients and logs
        self._host = url.raw_host or "localhost"
        self._port = url.port or 80
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._host_line = f"Host: {url.host_port_subcomponent}\r\n"
        self._default = "".join(f"{name}: {value}\r\n" for name, value in default_headers)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limit = limit
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()
        self._opening = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._tick = min(1.0, read_timeout / 4)
        self.loop = asyncio.get_running_loop()
        self.now = self.loop.time

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> PoolReply:
        """Send one request and return the whole reply. Errors are UpstreamError."""
        data = self._render(method, target, headers, body)
        fresh = False
        while True:
            conn, reused = await self._acquire(fresh)
            reply = conn.send(data)
            try:
                return await reply  # a whole reply's connection is back in the pool already
            except Dead as exc:
                self._lost(conn)
                if reused and not exc.replied and not fresh:
                    fresh = True  # the pooled socket had died; once more on a new one
                    self._drop_idle()
                    continue
                raise self.mapped(exc) from None
            except TimeoutError as exc:
                self._lost(conn)
                raise self.mapped(exc) from None
            except BaseException:
                if conn.waiter is reply:  # still ours: cancelled mid-request
                    conn.close()  # Ollama sees the disconnect and stops
                    self._lost(conn)
                raise

    def mapped(self, exc: BaseException) -> UpstreamError:
        if isinstance(exc, TimeoutError):
            return UpstreamTimeout(f"Ollama at {self.shown_url} did not answer in time")
        return UpstreamUnavailable(f"Ollama at {self.shown_url} {exc}")

    def _lost(self, conn: Connection) -> None:
        if conn in self._busy:  # (connection_lost may have released it already)
            self._busy.discard(conn)
            self._wake()

    def _render(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes | None
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_line, self._default]
        count = 1 + self._default.count("\n")
        for name, value in headers:
            lines.append(f"{name}: {value}\r\n")
            count += 1
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n")
            count += 1
        lines.append("\r\n")
        head = "".join(lines)
        # A CR or LF inside a name, value or target would split the request (smuggling).
        if head.count("\n") != count + 2 or head.count("\r") != count + 2:
            raise UpstreamError("refusing to send a header or path containing a line break")
        data = head.encode("utf-8", "surrogateescape")
        return data + body if body else data

    async def _acquire(self, fresh: bool) -> tuple[Connection, bool]:
        while True:
            if not fresh:
                conn = self._take_idle()
                if conn is not None:
                    self._hold(conn)
                    return conn, True
            if len(self._busy) + len(self._idle) + self._opening < self.limit:
                conn = await self._connect()
                self._hold(conn)
                return conn, False
            if fresh and self._idle:
                self._idle.pop(0).close()  # make room for the new connection
                continue
            waiter = self.loop.create_future()
            self._queue.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.cancelled():
                    self._wake()  # pass the turn on
                raise

    def _take_idle(self) -> Connection | None:
        cutoff = self.now() - IDLE_SECONDS
        while self._idle:
            conn = self._idle.pop()  # most recently used: warmest, least likely stale
            if conn.open and conn.last_active >= cutoff:
                return conn
            conn.close()
        return None

    async def _connect(self) -> Connection:
        self._opening += 1
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: Connection(self),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                ),
                self.connect_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"Ollama at {self.shown_url} did not answer in time") from None
        except OSError as exc:
            raise UpstreamUnavailable(
                f"Ollama is not reachable at {self.shown_url}: {exc}"
            ) from None
        finally:
            self._opening -= 1
            self._wake()
        return conn

    def _hold(self, conn: Connection) -> None:
        self._busy.add(conn)
        if self._sweep is None:
            self._sweep = self.loop.call_later(self._tick, self._check_reads)

    def _check_reads(self) -> None:
        self._sweep = None
        limit = self.now() - self.read_timeout
        for conn in list(self._busy):
            if conn.expecting and conn.last_active < limit:
                conn.timed_out()
        if self._busy:
            self._sweep = self.loop.call_later(self._tick, self._check_reads)

    def put_back(self, conn: Connection) -> None:
        self._busy.discard(conn)
        self._idle.append(conn)
        self._wake()

    def forget(self, conn: Connection) -> None:
        """A closed connection leaves the pool (a relayed reply may have held it)."""
        if conn in self._idle:
            self._idle.remove(conn)
        if conn in self._busy:
            self._busy.discard(conn)
            self._wake()

    def _drop_idle(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    def _wake(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._drop_idle()
        for conn in list(self._busy):
            conn.close()

    @property
    def connections(self) -> int:
        return len(self._busy) + len(self._idle)
