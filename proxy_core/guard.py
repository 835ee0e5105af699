"""Who may talk to the proxy: Host (DNS rebinding), Origin (web pages) and CORS, the
access token, and the model-management routes, applied to each request (the rules as
data, and the token file, are access.py). docs/SECURITY.md explains each rule.

Checks run in this order, each answering in the route's dialect:
1. Host: ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port) plus the names in
   ``allowed_hosts``; beyond loopback with no ``allowed_hosts``, any name.
2. Origin: a browser request from an origin not on the allow-list gets 403; a preflight
   from an allowed one is answered here (it carries no token by design).
3. Token: when required (always on ``/mcp``, the tool server), ``Authorization: Bearer
   <token>``, ``x-api-key``/``x-goog-api-key: <token>`` or Google's ``?key=<token>``,
   compared in constant time.
4. Model management (pull, push, create, copy, delete, blobs): off unless allowed.
5. Size: a declared Content-Length over ``max_body_size`` is 413 before any body is read.
Only then does a client that sent ``Expect: 100-continue`` get its ``100 Continue``:
aiohttp would send it before any middleware runs (``deferred_expect`` stops that), inviting
a body that the checks above refuse anyway.
"""

from __future__ import annotations

from aiohttp import web

from .access import (
    ALLOWED_METHODS,
    MCP_PATH,
    PREFLIGHT_MAX_AGE,
    STREAMED_UPLOADS,
    Policy,
    cors_headers,
    is_management,
)
from .dialects.base import error_response
from .forwarding import upstream_path
from .state import REQUEST_REFUSED_BY


def refusal(request: web.Request, policy: Policy) -> web.Response | None:
    """The guard's answer when a rule refuses the request (or answers a preflight);
    ``None`` lets it through. Called by the error boundary (middleware.py) before the
    handler: a plain call, where a middleware of its own cost a coroutine per request."""
    path = request.path
    if not _hosts_allowed(request, policy):
        request[REQUEST_REFUSED_BY] = "host"
        return error_response(request, 403, "this Host is not allowed (DNS rebinding protection)")
    origin = request.headers.get("Origin")
    if origin is not None:
        if not policy.origin_allowed(origin):
            request[REQUEST_REFUSED_BY] = "origin"
            return error_response(request, 403, f"origin {origin!r} is not allowed")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            headers = cors_headers(origin)
            headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Authorization, Content-Type"
            )
            headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
            return web.Response(status=204, headers=headers)
    tools = path == MCP_PATH or path.startswith(MCP_PATH + "/")
    # The keys are read only where a token is checked: most requests (loopback, no token
    # required) skip the header and query lookups.
    if (policy.token_required or tools) and not policy.token_ok(
        request.headers.get("Authorization"), _api_key(request), always=tools
    ):
        request[REQUEST_REFUSED_BY] = "token"
        response = error_response(
            request, 401, "a valid access token is required: send Authorization: Bearer <token>"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="ollama-tray-proxy"'
        return response
    # Judged by the path the pass-through forwards: ``//api/delete`` reaches Ollama as
    # ``/api/delete`` (forwarding.upstream_path normalizes it).
    forwarded = upstream_path(request.rel_url.raw_path)
    if (
        forwarded is not None
        and is_management(forwarded)
        and not policy.settings.allow_model_management
    ):
        request[REQUEST_REFUSED_BY] = "model_management"
        return error_response(
            request,
            403,
            "model management (pull, push, create, copy, delete, blobs) is switched off in "
            "the proxy; use Ollama directly or set allow_model_management",
        )
    return _too_large(request, policy.settings.max_body_size, forwarded)


def _too_large(request: web.Request, limit: int, forwarded: str | None) -> web.Response | None:
    length = request.content_length
    if length is None or length <= limit:
        return None
    if forwarded is not None and forwarded.startswith(STREAMED_UPLOADS):
        return None
    request[REQUEST_REFUSED_BY] = "max_body_size"
    message = f"request body is larger than the limit of {limit} bytes"
    response = error_response(request, 413, message)
    response.force_close()  # the body is not read, so the connection cannot be reused
    return response


async def send_continue(request: web.Request) -> None:
    """``100 Continue`` for a client that waits for it, once the request passed the
    checks (``deferred_expect`` kept aiohttp from sending it earlier)."""
    if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0


async def deferred_expect(request: web.Request) -> None:
    """The routes' expect handler: refuse an unknown expectation, answer none yet (the
    guard sends ``100 Continue`` once the request passed its checks)."""
    expect = request.headers.get("Expect", "")
    if request.version >= (1, 1) and expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")


def _hosts_allowed(request: web.Request, policy: Policy) -> bool:
    """The Host header, and the host an absolute-form target (``POST http://name/api/chat``)
    names, which overrides Host (RFC 9112 §3.2.2; Ollama's Go server reads it so): both are
    judged. Origin-form targets (every client's) start with ``/`` and name no host."""
    if not policy.host_allowed(request.headers.get("Host")):
        return False
    if request.raw_path.startswith("/"):
        return True
    authority = request.url.raw_authority
    return not authority or policy.host_allowed(authority)


def _api_key(request: web.Request) -> str | None:
    """The token sent as a key: ``x-api-key`` (the Anthropic SDKs), ``x-goog-api-key``
    (Google's clients) or Google's ``?key=`` (read only when a query string is there)."""
    sent = request.headers
    key = sent.get("x-api-key") or sent.get("x-goog-api-key")
    if key is None and request.rel_url.raw_query_string:
        key = request.rel_url.query.get("key")
    return key
