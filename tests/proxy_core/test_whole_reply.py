"""whole_reply.py writes a whole reply itself: every shape must come out byte for byte as
aiohttp's own prepare + write_eof would write it (the Date aside), so an aiohttp that
changes its rules fails here instead of drifting apart in production."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from proxy_core import front, whole_reply
from proxy_core.front import FRONT_ROUTES, FrontRunner, FrontServer


def _closed() -> web.Response:
    response = web.Response(body=b'{"a":1}', content_type="application/json")
    response.force_close()
    return response


REPLIES: dict[str, Callable[[], web.Response]] = {
    "json": lambda: web.Response(body=b'{"a":1}', content_type="application/json"),
    "text": lambda: web.Response(text="h\u00e9llo"),
    "headers": lambda: web.Response(
        body=b'{"x":1}\n', headers={"X-Cache": "HIT", "Content-Type": "application/x-ndjson"}
    ),
    "empty": lambda: web.Response(body=b""),
    "error": lambda: web.Response(status=400, body=b'{"error":"bad"}'),
    "reason": lambda: web.Response(status=599, reason="Odd", body=b"x"),
    "large": lambda: web.Response(body=b"y" * 100_000, content_type="text/plain"),
    "huge": lambda: web.Response(body=b"z" * 8_000_000, content_type="text/plain"),
    "closed": _closed,
    "no-body": lambda: web.Response(),  # left to aiohttp
    "no-content": lambda: web.Response(status=204),  # left to aiohttp
}
WRITTEN_WHOLE = {"json", "text", "headers", "empty", "error", "reason", "large", "huge", "closed"}


async def _reply_handler(request: web.Request) -> web.Response:
    return REPLIES[request.match_info.route.resource.canonical.rsplit("/", 1)[1]]()  # type: ignore[union-attr]


async def _injecting_handler(request: web.Request) -> web.Response:
    return web.Response(body=b"x", headers={"X-Bad": "a\r\nInjected: 1"})


def _app() -> web.Application:
    app = web.Application()
    routes = {}
    for name in [*REPLIES, "inject"]:
        handler = _injecting_handler if name == "inject" else _reply_handler
        route = app.router.add_post(f"/case/{name}", handler)
        match_info = UrlMappingMatchInfo({}, route)
        match_info.add_app(app)
        match_info.freeze()
        routes[("POST", f"/case/{name}")] = (handler, match_info)
    app[FRONT_ROUTES] = routes
    return app


async def _serve(runner: web.AppRunner) -> tuple[str, int]:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner.addresses[0][:2]  # type: ignore[no-any-return]


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FrontRunner, tuple[str, int], tuple[str, int]]]:
    ours, aiohttps = FrontRunner(_app()), web.AppRunner(_app())
    try:
        yield ours, await _serve(ours), await _serve(aiohttps)
    finally:
        await ours.cleanup()
        await aiohttps.cleanup()


async def _raw(address: tuple[str, int], path: str, extra: str = "") -> bytes:
    """Everything the server sends for one request, until it closes or goes quiet."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n{extra}\r\n{{}}".encode()
    )
    received = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 0.5):
            received += chunk
    except TimeoutError:
        received += b"<open>"  # the connection was kept
    writer.close()
    return re.sub(rb"Date: [^\r]*", b"Date: -", received)


@pytest.mark.parametrize("name", list(REPLIES))
async def test_each_reply_is_the_same_bytes_as_aiohttp_writes(
    servers: tuple[FrontRunner, tuple[str, int], tuple[str, int]],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner, ours, aiohttps = servers
    assert runner.server is not None and isinstance(runner.server, FrontServer)
    assert runner.server.writes_whole
    written: list[web.Response] = []

    def spy(request: web.Request, response: web.Response) -> bool:
        written.append(response)
        return whole_reply.write_whole(request, response)

    monkeypatch.setattr(front, "write_whole", spy)
    mine, theirs = await _raw(ours, f"/case/{name}"), await _raw(aiohttps, f"/case/{name}")
    assert mine == theirs
    assert len(written) == (name in WRITTEN_WHOLE)
    assert mine.startswith(b"HTTP/1.1 ") and runner.server.front_served == 1
    assert mine.endswith(b"<open>") is (name != "closed")


async def test_a_client_asking_to_close_gets_the_same_close(
    servers: tuple[FrontRunner, tuple[str, int], tuple[str, int]],
) -> None:
    _, ours, aiohttps = servers
    mine = await _raw(ours, "/case/json", "Connection: close\r\n")
    assert mine == await _raw(aiohttps, "/case/json", "Connection: close\r\n")
    assert b"Connection: close" in mine and not mine.endswith(b"<open>")


async def test_a_header_with_a_line_break_is_never_written_and_the_connection_closes(
    servers: tuple[FrontRunner, tuple[str, int], tuple[str, int]],
) -> None:
    _, ours, aiohttps = servers
    assert await _raw(ours, "/case/inject") == await _raw(aiohttps, "/case/inject") == b""


async def test_a_prepare_signal_gets_every_reply_from_aiohttp() -> None:
    seen: list[int] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(response.status)

    app = _app()
    app.on_response_prepare.append(on_prepare)
    runner = FrontRunner(app)
    try:
        address = await _serve(runner)
        assert isinstance(runner.server, FrontServer) and not runner.server.writes_whole
        assert (await _raw(address, "/case/json")).startswith(b"HTTP/1.1 200 OK")
        assert seen == [200] and runner.server.front_served == 1
    finally:
        await runner.cleanup()


async def test_a_reply_larger_than_the_socket_buffers_waits_for_a_slow_reader(
    servers: tuple[FrontRunner, tuple[str, int], tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write fills the buffers and pauses the protocol: the short path waits for the
    reader (the drain), then keeps the connection for the next request."""
    runner, ours, _ = servers
    drained: list[bool] = []
    drain = front.FrontHandler._drain_helper

    async def counted(self: front.FrontHandler) -> None:
        drained.append(True)
        await drain(self)

    monkeypatch.setattr(front.FrontHandler, "_drain_helper", counted)
    reader, writer = await asyncio.open_connection(*ours)
    request = b"POST /case/large HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    writer.write(request.replace(b"/case/large", b"/case/huge"))
    await asyncio.sleep(0.3)  # a slow reader: nothing read while the reply is written
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 8000000" in head
    assert await asyncio.wait_for(reader.readexactly(8_000_000), 10) == b"z" * 8_000_000
    writer.write(request)  # the same connection, kept
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 100000" in head
    writer.close()
    assert runner.server is not None and isinstance(runner.server, FrontServer)
    assert runner.server.front_served == 2
    assert drained  # the writer waited for the reader instead of buffering 8 MB unasked
