"""One upstream socket of the lean pool (engines/pool.py), on httptools' parser, and the
reply it hands back: whole when small and framed by Content-Length, else relayed as it
arrives with reading paused while the client lags (memory stays bounded)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import httptools
from multidict import CIMultiDict

from ..errors import UpstreamError

WHOLE_LIMIT = 1 << 20  # a reply framed by Content-Length up to this size is read whole
_HIGH_WATER = 256 << 10  # a relayed reply pauses reading past this much unread data


class Owner(Protocol):
    """What a connection needs from its pool (the pool is its only owner)."""

    loop: asyncio.AbstractEventLoop

    def now(self) -> float: ...
    def mapped(self, exc: BaseException) -> UpstreamError: ...
    def forget(self, conn: Connection) -> None: ...
    def put_back(self, conn: Connection) -> None: ...


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


class Dead(Exception):
    """The connection failed; ``replied`` tells whether any byte of the reply arrived."""

    def __init__(self, replied: bool, reason: str) -> None:
        super().__init__(reason)
        self.replied = replied


class _Relay:
    """The body of a reply that is not read whole, handed over as it arrives."""

    def __init__(self, conn: Connection) -> None:
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


class Connection(asyncio.Protocol):
    """One upstream socket; one request at a time; httptools calls the ``on_*`` hooks."""

    def __init__(self, pool: Owner) -> None:
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
            self._fail(Dead(True, "switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(Dead(True, f"sent a malformed reply ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.pool.forget(self)
        if self.expecting:
            if self.headers_done and not self._framed():
                self.on_message_complete()  # a close-delimited body ends at EOF
            else:
                self._fail(Dead(self.replied, "closed the connection"))

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
