"""Servers that stand for one layer of the proxy each, for ``bench_layers.py``: what a
request costs with only the socket work, with aiohttp's request and response objects on
the proxy's short path, and with the upstream exchange through the proxy's pool. Each
answers ``POST /api/chat`` and nothing else; not a test double.

    python -m tests.perf.layer_servers bare PORT
    python -m tests.perf.layer_servers front PORT
    python -m tests.perf.layer_servers front-pool PORT UPSTREAM_URL
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import cast

import httptools
import uvloop
from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from proxy_core.engines.pool import LeanPool
from proxy_core.front import FRONT_ROUTES, FrontRunner
from proxy_core.ndjson import loads

from .fast_upstream import MODEL

ANSWER = json.dumps(
    {"model": MODEL, "message": {"role": "assistant", "content": "hi"}, "done": True}
).encode()
JSON = "application/json; charset=utf-8"
_REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
    JSON.encode(),
    len(ANSWER),
    ANSWER,
)


class BareProtocol(asyncio.Protocol):
    """httptools and the transport, nothing else: the floor of a Python server here."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        loads(b"".join(self.body))
        self.body = []
        self.transport.write(_REPLY)


async def _serve_bare(port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(BareProtocol, "127.0.0.1", port, backlog=1024)
    await asyncio.Event().wait()


async def _serve_front(port: int, upstream: str | None) -> None:
    pool = None if upstream is None else LeanPool(
        upstream, connect_timeout=5, read_timeout=60, limit=64
    )  # fmt: skip

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        loads(raw)
        if pool is None:
            return web.Response(body=ANSWER, content_type="application/json")
        got = await pool.request("POST", "/api/chat", [("Content-Type", JSON)], raw)
        return web.Response(body=got.body, status=got.status, headers={"Content-Type": JSON})

    app = web.Application()
    route = app.router.add_post("/api/chat", handle)
    match_info = UrlMappingMatchInfo({}, route)
    match_info.add_app(app)
    match_info.freeze()
    app[FRONT_ROUTES] = {("POST", "/api/chat"): (handle, match_info)}
    runner = FrontRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    mode, port = argv[0], int(argv[1])
    if mode == "bare":
        uvloop.run(_serve_bare(port))
    elif mode == "front":
        uvloop.run(_serve_front(port, None))
    elif mode == "front-pool":
        uvloop.run(_serve_front(port, argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}: bare, front or front-pool")


if __name__ == "__main__":
    main(sys.argv[1:])
