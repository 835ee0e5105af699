"""The ``/mcp`` route, kept apart from the MCP SDK: the SDK (and what it imports) is
loaded only when the tools are on (service.py), not by every proxy."""

from __future__ import annotations

from aiohttp import web

from ..access import add_cors
from ..slow_clients import read_body
from ..state import STATE


async def route(request: web.Request) -> web.StreamResponse:
    """``/mcp`` (any method): 404, as any unknown path, while the tools are off."""
    state = request.app[STATE]
    if state.mcp is None:
        return web.Response(status=404, text="404 page not found", content_type="text/plain")
    body = await read_body(request) if request.body_exists else b""
    head: dict[str, str] = {}
    add_cors(state.policy, request.headers.get("Origin"), head)  # the head leaves in handle
    return await state.mcp.handle(request, body, head)
