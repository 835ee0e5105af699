"""The short path for the requests that make up the traffic (issue 28, item 3).

aiohttp's connection protocol parses a request, queues it for the connection's task,
starts a task per request, resolves the route through the router and wraps the
middlewares before the handler runs. For the generation routes (an exact method and path,
one complete request in one read, nothing else queued or running on the connection)
``FrontHandler`` skips that bookkeeping: the same parser (aiohttp's), the same
``web.Request``, the same boundary, guard and handler, called from one task; a whole
reply is written in one step with aiohttp's header rules and serializer (whole_reply.py),
any other by aiohttp's own response writing. Everything else (a query string,
``Expect``, a body still arriving, a pipelined queue, an upgrade, HTTP/1.0, any other
route) takes aiohttp's own path unchanged, so behaviour is identical and only the cost
differs (docs/PERFORMANCE.md has the figures).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import __version__ as aiohttp_version
from aiohttp import web, web_protocol
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_writer import StreamWriter
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from .whole_reply import RESPONSE_INTERNALS, write_whole, writes_whole

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FrontRoute = tuple[Handler, UrlMappingMatchInfo]
FRONT_ROUTES = web.AppKey("front_routes", dict)
log = logging.getLogger(__name__)


class FrontHandler(RequestHandler):
    """aiohttp's ``RequestHandler`` with the short path in ``data_received``."""

    __slots__ = ("_front_task", "_front_pending", "_front_paused", "_front_server")

    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._front_task: asyncio.Task[None] | None = None
        self._front_pending = b""  # what arrived while a request was being answered
        self._front_paused = False
        assert isinstance(manager, FrontServer)
        self._front_server = manager

    def data_received(self, data: bytes) -> None:
        if self._front_task is not None:  # one request at a time: the next waits its turn
            self._front_pending += data
            if len(self._front_pending) > self._read_bufsize and self.transport is not None:
                self.transport.pause_reading()  # a client pipelining a flood waits
                self._front_paused = True
            return
        if (
            self._request_in_progress
            or self._messages
            or self._payload_parser is not None
            or self._upgraded
            or self._force_close
            or self._close
            or self._parser is None
        ):
            super().data_received(data)
            return
        try:
            messages, upgraded, tail = self._parser.feed_data(data)
        except HttpProcessingError as exc:  # answered 400 by aiohttp, as it would have
            error = web_protocol._ErrInfo(status=400, exc=exc, message=exc.message)
            self._queue([(error, EMPTY_PAYLOAD)], False, b"")
            return
        if len(messages) == 1 and not upgraded:
            message, payload = messages[0]
            route = self._front_route(message, payload)
            if route is not None:
                self._request_count += 1
                self._parser.message_consumed()
                self._serve(message, payload, route)
                return
        self._queue(messages, upgraded, tail)

    def _front_route(self, message: Any, payload: Any) -> FrontRoute | None:
        if message.version != HttpVersion11 or message.upgrade or not payload.is_eof():
            return None
        if message.compression is not None or "Expect" in message.headers:
            return None
        return self._front_server.front_routes.get((message.method, message.path))

    def _queue(self, messages: Any, upgraded: bool, tail: bytes) -> None:
        """What aiohttp's ``data_received`` does with parsed messages: queue them for the
        connection's task."""
        for message in messages:
            self._request_count += 1
            self._messages.append(message)
        waiter = self._waiter
        if messages and waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not self._buffer_paused and len(self._messages) >= self._max_msg_queue_size:
            self._pause_reading_for_buffer()
        self._upgraded = upgraded
        if upgraded and tail:
            self._message_tail = tail

    def _serve(self, message: Any, payload: Any, route: FrontRoute) -> None:
        handler, match_info = route
        assert self._manager is not None and self._request_factory is not None
        self._manager.requests_count += 1
        self._front_server.front_served += 1
        writer = StreamWriter(self, self._loop)
        request = self._request_factory(
            message,
            payload,
            self,
            writer,
            self._task_handler,  # type: ignore[arg-type]
        )
        assert isinstance(request, web.Request)
        request._match_info = match_info
        self._request_in_progress = True
        self._front_task = self._loop.create_task(self._respond(request, handler))

    async def _respond(self, request: web.Request, handler: Handler) -> None:
        keep_alive = False
        try:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                response = self.handle_error(request, 500, exc)
            keep_alive = await self._write(request, response)
        except (asyncio.CancelledError, ConnectionError):
            keep_alive = False
        except Exception as exc:
            # A reply that cannot be written (a header with a line break): as aiohttp
            # does, log it and close the connection.
            self.log_exception("Unhandled exception", exc_info=exc)
            keep_alive = False
        finally:
            request._finish()
            self._request_in_progress = False
            self._front_task = None
            if self._handler_waiter is not None:
                self._handler_waiter.set_result(None)
        self._after(keep_alive)

    async def _write(self, request: web.Request, response: web.StreamResponse) -> bool:
        """Send the reply; returns whether the connection stays open."""
        if self._front_server.writes_whole and writes_whole(request, response):
            keep_alive = write_whole(request, response)  # type: ignore[arg-type]
            if self._paused:  # the client reads slower than we write: wait for it
                await self._drain_helper()
            return keep_alive
        if not response.prepared:
            await response.prepare(request)
        await response.write_eof()
        return bool(response.keep_alive)

    def _after(self, keep_alive: bool) -> None:
        """Keep the connection (and read what arrived meanwhile) or close it."""
        if not keep_alive or self._close or self._force_close or self.transport is None:
            self.force_close()
            return
        self._next_keepalive_close_time = self._loop.time() + self._keepalive_timeout
        if self._keepalive_handle is None and self._keepalive_timeout > 0:
            self._keepalive_handle = self._loop.call_at(
                self._next_keepalive_close_time, self._process_keepalive
            )
        pending, self._front_pending = self._front_pending, b""
        if self._front_paused:
            self._front_paused = False
            self.transport.resume_reading()
        if pending:
            self.data_received(pending)

    def _process_keepalive(self) -> None:
        if self._front_task is not None:  # busy: re-armed when the reply is done
            self._keepalive_handle = None
            return
        super()._process_keepalive()

    def connection_lost(self, exc: BaseException | None) -> None:
        cancel = self._manager is not None and self._manager.handler_cancellation
        super().connection_lost(exc)
        if cancel and self._front_task is not None:
            self._front_task.cancel()


class FrontServer(web.Server):
    """aiohttp's server, making ``FrontHandler`` connections."""

    front_routes: Mapping[tuple[str, str], FrontRoute] = {}
    front_served = 0  # requests answered on the short path (tests and benchmarks read it)
    writes_whole = False  # whole replies written in one step (whole_reply.py)

    def __call__(self) -> RequestHandler:
        return FrontHandler(self, loop=self._loop, **self._kwargs)


# What the short path reads, sets and calls of aiohttp's internals (checked with 3.14).
_HANDLER_INTERNALS = (
    *("_messages", "_parser", "_payload_parser", "_request_in_progress", "_upgraded"),
    *("_force_close", "_close", "_handler_waiter", "_keepalive_handle", "_keepalive_timeout"),
    *("_next_keepalive_close_time", "_read_bufsize", "_request_factory", "_task_handler"),
    *("_request_count", "_waiter", "_buffer_paused", "_max_msg_queue_size", "_message_tail"),
    *("_manager", "_loop", "_pause_reading_for_buffer", "_process_keepalive", "handle_error"),
    *("force_close", "log_exception", "_paused", "_drain_helper"),
)


def front_supported(server: web.Server) -> bool:
    """Whether this aiohttp has the internals the short path relies on. Another version
    may not: then every request takes aiohttp's own path (slower, never wrong)."""
    return (
        all(hasattr(RequestHandler, name) for name in _HANDLER_INTERNALS)
        and all(hasattr(web.Request, name) for name in ("_match_info", "_finish"))
        and all(hasattr(web.Response(), name) for name in RESPONSE_INTERNALS)
        and hasattr(web_protocol, "_ErrInfo")
        and hasattr(server, "_kwargs")
    )


class FrontRunner(web.AppRunner):
    """``web.AppRunner`` whose server takes the short path for ``app[FRONT_ROUTES]``."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        if not front_supported(server):
            log.warning(
                "aiohttp %s: its request handler changed; the server's short path is off "
                "(requests are served as before, at some more CPU each)",
                aiohttp_version,
            )
            return server
        server.__class__ = FrontServer  # same object, one method more: aiohttp built it
        server.front_routes = self.app[FRONT_ROUTES]  # type: ignore[attr-defined]
        # A prepare signal must see each reply: then aiohttp writes them.
        server.writes_whole = not self.app.on_response_prepare  # type: ignore[attr-defined]
        return server
