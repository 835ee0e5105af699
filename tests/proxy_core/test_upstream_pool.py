"""The lean upstream pool against raw sockets that misbehave the ways production upstreams
do: keep-alive and Connection: close, stale pooled sockets, silence, duplicate headers,
chunked and close-delimited bodies, cancellation, a full pool."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy_core.engines.pool import LeanPool
from proxy_core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.disconnects = 0

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[RawServer, str]]:
    raw = RawServer(handler)
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield raw, f"http://127.0.0.1:{port}"
        server.close()


def pool_for(url: str, **changes: float) -> LeanPool:
    options: dict[str, float] = {"connect_timeout": 2, "read_timeout": 5, "limit": 8}
    options.update(changes)
    return LeanPool(
        url,
        connect_timeout=options["connect_timeout"],
        read_timeout=options["read_timeout"],
        limit=int(options["limit"]),
    )


def serving(reply: bytes = OK, *, close_after: int | None = None) -> Callable[[RawServer], Handler]:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served = 0
            while await server.read_request(reader) is not None:
                writer.write(reply)
                await writer.drain()
                served += 1
                if close_after is not None and served >= close_after:
                    return

        return handler

    return make


@contextlib.asynccontextmanager
async def upstream(make: Callable[[RawServer], Handler]) -> AsyncIterator[tuple[RawServer, str]]:
    holder: dict[str, RawServer] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await make(holder["server"])(reader, writer)

    async with raw_server(handler) as (server, url):
        holder["server"] = server
        yield server, url


async def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given() -> None:
    async with upstream(serving()) as (server, url):
        pool = pool_for(url)
        for _ in range(3):
            reply = await pool.request(
                "POST", "/api/chat", [("Content-Type", "application/json")], b'{"a":1}'
            )
            assert (reply.status, reply.body) == (200, b"{}")
        pool.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Type: application/json\r\n" in first
    assert b"\r\nContent-Length: 7\r\n\r\n" in first and first.endswith(b'{"a":1}')


async def test_duplicate_response_headers_are_kept() -> None:
    reply = b"HTTP/1.1 200 OK\r\nX-Dup: one\r\nX-Dup: two\r\nContent-Length: 0\r\n\r\n"
    async with upstream(serving(reply)) as (_, url):
        pool = pool_for(url)
        got = await pool.request("GET", "/api/tags")
        pool.close()
    assert got.headers.getall("X-Dup") == ["one", "two"]


async def test_connection_close_is_honoured() -> None:
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    async with upstream(serving(reply, close_after=1)) as (server, url):
        pool = pool_for(url)
        for _ in range(3):
            assert (await pool.request("GET", "/api/ps")).body == b"{}"
        pool.close()
    assert server.connections == 3


async def test_a_pooled_connection_that_died_is_skipped() -> None:
    # The upstream closes each connection after one answer (a restart, an idle timeout):
    # the pool sees the close and opens a new connection instead of writing into it.
    async with upstream(serving(close_after=1)) as (server, url):
        pool = pool_for(url)
        assert (await pool.request("POST", "/api/chat", body=b"{}")).status == 200
        await asyncio.sleep(0.05)
        assert (await pool.request("POST", "/api/chat", body=b"{}")).status == 200
        pool.close()
    assert server.connections == 2 and len(server.requests) == 2


async def test_a_pooled_connection_found_dead_before_any_reply_byte_is_retried_once() -> None:
    # The first connection answers once, then takes the next request and hangs up without
    # a byte (what a stale keep-alive socket looks like from here): sent again, once, on
    # a new connection.
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            first = server.connections == 1
            while await server.read_request(reader) is not None:
                if first and len(server.requests) == 2:
                    return
                writer.write(OK)
                await writer.drain()

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url)
        assert (await pool.request("POST", "/api/chat", body=b"{}")).status == 200
        assert (await pool.request("POST", "/api/chat", body=b"{}")).status == 200
        pool.close()
    assert server.connections == 2 and len(server.requests) == 3


async def test_no_retry_once_a_byte_of_the_reply_arrived() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
            await writer.drain()

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url)
        with pytest.raises(UpstreamUnavailable, match="closed the connection"):
            await pool.request("POST", "/api/chat", body=b"{}")
        pool.close()
    assert len(server.requests) == 1  # sent once: a generation is never run twice


async def test_a_new_connection_that_dies_is_not_retried() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)  # then hang up without a word

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url)
        with pytest.raises(UpstreamUnavailable):
            await pool.request("POST", "/api/chat", body=b"{}")
        pool.close()
    assert len(server.requests) == 1


async def test_silence_past_the_read_timeout_fails_and_closes() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            await reader.read()  # never answers; returns when the proxy hangs up
            server.disconnects += 1

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url, read_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await pool.request("POST", "/api/chat", body=b"{}")
        assert time.monotonic() - started < 2
        for _ in range(50):
            if server.disconnects:
                break
            await asyncio.sleep(0.02)
        pool.close()
    assert server.disconnects == 1


async def test_bytes_trickling_in_keep_a_slow_reply_alive() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
            for byte in b"abcdef":  # each gap under the timeout, the whole well over it
                await asyncio.sleep(0.1)
                writer.write(bytes([byte]))
                await writer.drain()

        return handler

    async with upstream(make) as (_, url):
        pool = pool_for(url, read_timeout=0.3)
        assert (await pool.request("GET", "/api/tags")).body == b"abcdef"
        pool.close()


async def test_the_pool_limit_queues_requests_beyond_it() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await server.read_request(reader) is not None:
                await asyncio.sleep(0.05)
                writer.write(OK)

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url, limit=2)
        replies = await asyncio.gather(*(pool.request("GET", "/api/ps") for _ in range(7)))
        pool.close()
    assert all(reply.status == 200 for reply in replies)
    assert server.most_open == 2 and len(server.requests) == 7


async def test_cancelling_a_request_closes_its_connection() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            await reader.read()
            server.disconnects += 1

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url)
        task = asyncio.create_task(pool.request("POST", "/api/chat", body=b"{}"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):
            if server.disconnects:
                break
            await asyncio.sleep(0.02)
        assert server.disconnects == 1
        assert pool.connections == 0
        pool.close()


async def test_a_chunked_reply_is_relayed_as_it_arrives() -> None:
    release = asyncio.Event()

    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await server.read_request(reader) is not None:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n"
                )
                await writer.drain()
                await release.wait()
                writer.write(b"5\r\nlast\n\r\n0\r\n\r\n")
                await writer.drain()

        return handler

    async with upstream(make) as (server, url):
        pool = pool_for(url)
        reply = await pool.request("POST", "/api/generate", body=b"{}")
        assert reply.body is None
        chunks = reply.chunks()
        assert await asyncio.wait_for(chunks.__anext__(), 2) == b"first\n"
        release.set()
        assert [chunk async for chunk in chunks] == [b"last\n"]
        # Read to the end: the connection is reused.
        release.clear()
        release.set()
        again = await pool.request("POST", "/api/generate", body=b"{}")
        assert await again.read() == b"first\nlast\n"
        pool.close()
    assert server.connections == 1


async def test_a_close_delimited_body_ends_at_eof() -> None:
    def make(server: RawServer) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")

        return handler

    async with upstream(make) as (_, url):
        pool = pool_for(url)
        assert await (await pool.request("GET", "/api/x")).read() == b"all of it"
        pool.close()


async def test_100_continue_is_skipped() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    async with upstream(serving(reply)) as (_, url):
        pool = pool_for(url)
        got = await pool.request("POST", "/api/chat", body=b"{}")
        pool.close()
    assert (got.status, got.body) == (200, b"{}")


@pytest.mark.parametrize(
    "headers, target",
    [([("X-A", "1\r\nX-Injected: 1")], "/api/chat"), ([], "/api/chat HTTP/1.1\r\nX: y")],
)
async def test_a_line_break_in_a_header_or_target_is_refused(
    headers: list[tuple[str, str]], target: str
) -> None:
    async with upstream(serving()) as (server, url):
        pool = pool_for(url)
        with pytest.raises(UpstreamError, match="line break"):
            await pool.request("POST", target, headers, b"{}")
        pool.close()
    assert server.requests == []


async def test_nothing_listening_is_unavailable() -> None:
    async with upstream(serving()) as (_, url):
        pass  # closed again: the port is free
    pool = pool_for(url)
    with pytest.raises(UpstreamUnavailable, match="not reachable"):
        await pool.request("GET", "/api/version")
    pool.close()
