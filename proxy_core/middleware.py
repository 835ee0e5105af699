"""One boundary for every request: the guard's checks, errors (in the dialect of the
route) and per-request metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from .access import add_cors
from .dialects.base import error_response
from .errors import BadRequest, ProxyError, UpstreamError
from .guard import refusal, send_continue
from .state import (
    CLIENT_GONE,
    REQUEST_BODY,
    REQUEST_CACHE,
    REQUEST_MODEL,
    REQUEST_REFUSED_BY,
    REQUEST_TOKENS,
    REQUEST_TTFB,
    STATE,
    ProxyState,
)

log = logging.getLogger(__name__)
LOGGED_BODY = 4096  # bytes of a request body in the debug log (log_bodies setting)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_label(request: web.Request) -> str:
    """A bounded label: the route pattern, never the client's raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    metrics = state.metrics
    started = time.perf_counter()
    metrics.request_started()
    status = 500
    reply_headers: Mapping[str, str] = {}
    response: web.StreamResponse | None
    try:
        response = refusal(request, state.policy)  # the guard (guard.py)
        if response is None:
            if "Expect" in request.headers:
                await send_continue(request)
            response = await handler(request)
        status = 499 if request.get(CLIENT_GONE) else response.status
        reply_headers = response.headers
    except BadRequest as exc:
        status = 400
        response = error_response(request, 400, str(exc), exc.param)
    except UpstreamError as exc:
        status = exc.status
        metrics.upstream_error(type(exc).__name__)
        response = error_response(request, exc.status, str(exc))
    except ProxyError as exc:
        status = exc.status
        response = error_response(request, exc.status, str(exc), exc.param, exc.code)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ollama-tray-proxy"'
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        response = _http_error(request, exc)
    except (asyncio.CancelledError, ConnectionError):
        status = 499  # the client went away; nothing to answer
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, _route_label(request))
        response = error_response(request, 500, "internal proxy error")
    finally:
        _record(request, state, status, time.perf_counter() - started, reply_headers)
    if not response.prepared and request.writer.output_size:
        # A stream's head is out: an error reply now would land inside its body. Cut the
        # connection instead, as aiohttp does (the client sees an unfinished reply).
        raise ConnectionResetError("the reply had begun; its stream is cut")
    origin = request.headers.get("Origin")
    if origin is not None and not response.prepared:  # a stream's went with its head
        add_cors(state.policy, origin, response.headers)
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (404, 405, 413...) in the route's dialect."""
    if exc.status == 413:
        request[REQUEST_REFUSED_BY] = "max_body_size"
        limit = request.app[STATE].settings.max_body_size
        message = f"request body is larger than the limit of {limit} bytes"
    else:
        message = exc.reason
    response = error_response(request, exc.status, message)
    for name in ("Allow",):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def _record(
    request: web.Request,
    state: ProxyState,
    status: int,
    elapsed: float,
    reply_headers: Mapping[str, str],
) -> None:
    """One request into the metrics, the inspector and (at debug level) the log."""
    cache = request.get(REQUEST_CACHE, "NONE")
    model = request.get(REQUEST_MODEL)
    route = _route_label(request)
    state.metrics.request_finished(route, request.method, status, cache, elapsed, model)
    if state.requests.enabled:  # the inspector: references only (observe/requests_log)
        state.requests.add(
            (
                time.time(),
                route,
                request.method,
                request.path,
                model,
                status,
                cache,
                elapsed,
                request.get(REQUEST_TTFB),
                request.get(REQUEST_TOKENS),
                request.headers,
                reply_headers,
                request.get(REQUEST_BODY) if state.settings.log_bodies else None,
            )
        )
    if log.isEnabledFor(logging.DEBUG):
        _log_request(request, route, status, cache, elapsed)


def _log_request(request: web.Request, route: str, status: int, cache: str, elapsed: float) -> None:
    ttfb = request.get(REQUEST_TTFB)
    refused_by = request.get(REQUEST_REFUSED_BY)
    # The real path (never the query, which may carry secrets), printable.
    path = request.path.encode("unicode_escape").decode("ascii")[:200]
    log.debug(
        "request %s %s route=%s model=%s status=%s cache=%s duration_ms=%.2f ttfb_ms=%s%s",
        request.method,
        path,
        route,
        request.get(REQUEST_MODEL),
        status,
        cache,
        elapsed * 1000,
        "-" if ttfb is None else f"{ttfb * 1000:.2f}",
        f" refused_by={refused_by}" if refused_by else "",
    )
    body = request.get(REQUEST_BODY)
    if body is not None:  # only with the log_bodies setting
        log.debug("request body %s %r", path, body[:LOGGED_BODY])
