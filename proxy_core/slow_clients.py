"""Drop clients that send a request too slowly (slowloris), head or body.

Heads: aiohttp (3.14) arms its keep-alive timer when a connection opens and after each
reply, and closes the connection when it fires while no complete request head has
arrived. So ``keepalive_timeout`` (passed as aiohttp's ``keepalive_timeout``) bounds both an
idle keep-alive connection and a head trickled byte by byte (tests/proxy_core/
test_slow_clients.py proves it). Bodies: handlers read them under ``body_timeout`` with
the helpers below. Idle connections cost a socket and no task, so many of them do not
starve real requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from .errors import BadRequest, ClientTooSlow
from .state import REQUEST_BODY, STATE

_UNDECODABLE = "the request body could not be decoded as its Content-Encoding ({}) says"


async def read_body(request: web.Request) -> bytes:
    """The whole body (under client_max_size), or ClientTooSlow past body_timeout."""
    settings = request.app[STATE].settings
    seconds = settings.body_timeout
    try:
        if request.content.is_eof():
            # Already buffered (the usual case: a small body arrives with its head): taken
            # at once, with no timer to arm and cancel and none of read()'s loop (a few
            # microseconds of every request; nothing reads the body a second time).
            raw = request.content.read_nowait()
            if len(raw) > settings.max_body_size:  # as read() would (chunked bodies)
                raise web.HTTPRequestEntityTooLarge(settings.max_body_size, len(raw))
        else:
            async with asyncio.timeout(seconds):
                raw = await request.read()
    except TimeoutError:
        raise ClientTooSlow(f"the request body did not arrive within {seconds:g} s") from None
    except (HttpProcessingError, RequestPayloadError):  # a Content-Encoding that does not decode
        raise BadRequest(_UNDECODABLE.format(request.headers.get("Content-Encoding"))) from None
    if settings.log_bodies:  # prompts are private: kept for the log line only when asked
        request[REQUEST_BODY] = raw
    return raw


async def iter_body(request: web.Request, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
    """A streamed upload; each chunk must arrive within body_timeout."""
    seconds = request.app[STATE].settings.body_timeout
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await request.content.read(chunk_size)
        except TimeoutError:
            raise ClientTooSlow(f"the upload stalled for {seconds:g} s") from None
        except (HttpProcessingError, RequestPayloadError):
            raise BadRequest(_UNDECODABLE.format(request.headers.get("Content-Encoding"))) from None
        if not chunk:
            return
        yield chunk
