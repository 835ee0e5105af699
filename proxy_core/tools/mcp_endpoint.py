"""``/mcp``: the built-in tools over MCP's Streamable HTTP transport (the official SDK).

Coding agents that run their own loop (Claude Code, Copilot, Cline, Continue, Zed) call
the same sandboxed tools, with the same policy, prompts and audit, as ``agent/<model>``.
The SDK's session manager is an ASGI application; :func:`handle` bridges one aiohttp
request to it. The proxy's guard has already checked Host and Origin (DNS rebinding) and
the access token, which ``/mcp`` always requires, even on loopback; the SDK's own
rebinding check is therefore off (it would only repeat ours, with a narrower host list).
Stateless JSON mode: each POST is one JSON-RPC exchange, nothing is kept between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any

from aiohttp import web
from mcp import types
from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from ..clients import recognise
from .engine import ToolEngine

PATH = "/mcp"


def build_server(engine: ToolEngine, version: str) -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tools = [
            types.Tool(
                name=spec["function"]["name"],
                description=spec["function"]["description"],
                input_schema=spec["function"]["parameters"],
            )
            for spec in engine.specs
        ]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        request = getattr(ctx, "request", None)
        headers = request.headers if request is not None else {}
        result = await engine.call(
            params.name, params.arguments or {}, origin="mcp", client=recognise(headers)
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.text)], is_error=not result.ok
        )

    return Server(
        "ollama-tray-proxy",
        version=version,
        instructions="Workspace tools: list, read and write files, run allowed programs.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class McpEndpoint:
    def __init__(self, engine: ToolEngine, version: str) -> None:
        self.manager = StreamableHTTPSessionManager(
            build_server(engine, version),
            stateless=True,
            json_response=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The SDK's session manager runs in a task of its own: its anyio task group must
        be entered and left by the same task, and start and stop are called by others."""
        ready = asyncio.Event()

        async def run() -> None:
            async with self.manager.run():
                ready.set()
                await self._stopping.wait()

        self._task = asyncio.create_task(run(), name="mcp-session-manager")
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if self._task.done():
            self._task.result()  # it failed to start: raise why

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def handle(
        self, request: web.Request, body: bytes, head: Mapping[str, str]
    ) -> web.StreamResponse:
        """One HTTP exchange through the SDK's ASGI application; ``head``: headers the
        reply's head carries besides the SDK's."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": f"{request.version.major}.{request.version.minor}",
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": request.raw_path.split("?", 1)[0].encode(),
            "query_string": request.query_string.encode(),
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.raw_headers],
            "client": _peer(request),
            "server": None,
        }
        delivered = False
        gone = asyncio.Event()  # set when the exchange is over (ASGI's http.disconnect)
        response: web.StreamResponse | None = None

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal response
            if message["type"] == "http.response.start":
                response = web.StreamResponse(status=message["status"])
                for name, value in message.get("headers", ()):
                    response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
                for name, value in head.items():  # CORS (mcp_route.py)
                    response.headers.setdefault(name, value)
                await response.prepare(request)
            elif message["type"] == "http.response.body" and response is not None:
                await response.write(message.get("body", b""))
                if not message.get("more_body", False):
                    await response.write_eof()

        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            gone.set()
        if response is None:
            return web.Response(status=500, text="the MCP server gave no answer")
        return response


def _peer(request: web.Request) -> tuple[str, int] | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return None
