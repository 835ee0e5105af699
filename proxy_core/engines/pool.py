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
from collections.abc import AsyncIterator, Iterable

import httptools
from multidict import CIMultiDict
from yarl import URL

from ..credentials import redact_url
from ..errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

IDLE_SECONDS = 30.0  # an idle connection older than this is closed instead of reused
WHOLE_LIMIT = 1 << 20  # a reply framed by Content-Length up to this size is read whole
_HIGH_WATER = 256 << 10  # a relayed reply pauses reading past this much unread data


class PoolReply:
    """A reply: ``body`` when it was small and framed by Content-Length (the common case:
    Ollama's ``stream: false`` answers), else ``chunks`` relaying it as it arrives (an
    upstream that streams anyway, or a large answer): memory stays bounded either way.
    ``release()`` must be called when a relayed reply is abandoned."""

    __slots__ = ("status", "headers", "body", "_relay")

    def __init__(
        self, status: int, headers: CIMultiDict[str], body: bytes | None, relay: _Relay | None
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._relay = relay

    @property
    def length(self) -> int | None:
        return len(self.body) if self.body is not None else None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            yield self.body
            return
        assert self._relay is not None
        async for chunk in self._relay.chunks():
            yield chunk

    async def read(self) -> bytes:
        if self.body is not None:
            return self.body
        return b"".join([chunk async for chunk in self.chunks()])

    def release(self) -> None:
        if self._relay is not None:
            self._relay.abandon()


class _Dead(Exception):
    """The connection failed; ``replied`` tells whether any byte of the reply arrived."""

    def __init__(self, replied: bool, reason: str) -> None:
        super().__init__(reason)
        self.replied = replied


class _Relay:
    """The body of a reply that is not read whole, handed over as it arrives."""

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.parts: list[bytes] = []
        self.size = 0
        self.ended = False
        self.error: BaseException | None = None
        self.wakeup: asyncio.Future[None] | None = None
        self.paused = False

    def feed(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size > _HIGH_WATER and not self.paused and self.conn.transport is not None:
            self.paused = True  # a slow reader holds Ollama back, not the proxy's memory
            self.conn.transport.pause_reading()
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        self.ended = True
        self.error = error
        self._wake()

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                if self.parts:
                    data = b"".join(self.parts)
                    self.parts, self.size = [], 0
                    if self.paused and self.conn.transport is not None:
                        self.paused = False
                        self.conn.transport.resume_reading()
                    yield data
                    continue
                if self.error is not None:
                    raise self.conn.pool.mapped(self.error)
                if self.ended:
                    return
                self.wakeup = self.conn.pool.loop.create_future()
                await self.wakeup
        finally:
            self.abandon()

    def abandon(self) -> None:
        if not self.ended:
            self.ended = True
            self.conn.close()  # mid-reply: Ollama sees the disconnect and stops


class _Connection(asyncio.Protocol):
    """One upstream socket; one request at a time; httptools calls the ``on_*`` hooks."""

    def __init__(self, pool: LeanPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[PoolReply] | None = None
        self.relay: _Relay | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.replied = False
        self.headers_done = False
        self.open = False
        self.last_active = 0.0

    @property
    def expecting(self) -> bool:
        """A reply (or the rest of one) is due: the read timeout applies."""
        return self.waiter is not None or (self.relay is not None and not self.relay.ended)

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        self.last_active = self.pool.now()
        if not self.expecting:  # bytes while idle: the connection is out of step
            self.close()
            return
        self.replied = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(_Dead(True, "switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(_Dead(True, f"sent a malformed reply ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.pool.forget(self)
        if self.expecting:
            if self.headers_done and not self._framed():
                self.on_message_complete()  # a close-delimited body ends at EOF
            else:
                self._fail(_Dead(self.replied, "closed the connection"))

    # -- httptools hooks --
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        self.headers_done = True
        status = self.parser.get_status_code()
        if status < 200:
            return
        length = self._content_length()
        if length is not None and length <= WHOLE_LIMIT:
            return  # read whole: resolved at the end of the message
        # Chunked, close-delimited or large: relay it as it arrives.
        self.relay = _Relay(self)
        self._resolve(PoolReply(status, CIMultiDict(self.headers), None, self.relay))

    def on_body(self, body: bytes) -> None:
        if self.relay is not None:
            self.relay.feed(body)
            return
        self.size += len(body)
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx (e.g. 100 Continue): the real reply follows
            self.headers, self.body, self.size, self.headers_done = [], [], 0, False
            return
        if self.relay is not None:
            self.relay.finish()
            self.relay = None
        else:
            headers = CIMultiDict(self.headers)
            self._resolve(PoolReply(status, headers, b"".join(self.body), None))
        if self.parser.should_keep_alive() and self.open:
            self.pool.put_back(self)
        else:
            self.close()

    # -- used by the pool --
    def send(self, data: bytes) -> asyncio.Future[PoolReply]:
        assert self.transport is not None
        self.parser = httptools.HttpResponseParser(self)
        self.headers, self.body, self.size, self.relay = [], [], 0, None
        self.replied = self.headers_done = False
        self.waiter = self.pool.loop.create_future()
        self.last_active = self.pool.now()
        self.transport.write(data)
        return self.waiter

    def _resolve(self, reply: PoolReply) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def _content_length(self) -> int | None:
        for name, value in self.headers:
            if name.lower() == "content-length":
                return int(value) if value.strip().isdigit() else None
            if name.lower() == "transfer-encoding":
                return None
        return None

    def _framed(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return "content-length" in names or "transfer-encoding" in names

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.relay is not None:
            relay, self.relay = self.relay, None
            if not relay.ended:
                relay.finish(exc)
        self.close()

    def timed_out(self) -> None:
        self._fail(TimeoutError())

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


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
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
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
            except _Dead as exc:
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

    def _lost(self, conn: _Connection) -> None:
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

    async def _acquire(self, fresh: bool) -> tuple[_Connection, bool]:
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

    def _take_idle(self) -> _Connection | None:
        cutoff = self.now() - IDLE_SECONDS
        while self._idle:
            conn = self._idle.pop()  # most recently used: warmest, least likely stale
            if conn.open and conn.last_active >= cutoff:
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        self._opening += 1
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: _Connection(self),
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

    def _hold(self, conn: _Connection) -> None:
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

    def put_back(self, conn: _Connection) -> None:
        self._busy.discard(conn)
        self._idle.append(conn)
        self._wake()

    def forget(self, conn: _Connection) -> None:
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
