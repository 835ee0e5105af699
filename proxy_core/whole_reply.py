"""A whole reply written in one step, as aiohttp's ``prepare`` + ``write_eof`` would.

A ``web.Response`` whose body is already bytes (every generation reply, every cache hit,
every error) goes out through aiohttp's chain of a dozen awaited calls: prepare, _start,
_prepare_headers, the prepare hook, _write_headers, write_eof twice, the writer's
write_eof, drain. ``write_whole`` produces the same bytes synchronously: the same header
rules (Content-Length, Content-Type's default, Date, Server, Connection) and aiohttp's own
serializer, which also refuses control characters in headers. Anything unusual (a
streamed or compressed body, cookies, a status without a body, a prepare signal) is left
to aiohttp. tests/proxy_core/test_whole_reply.py compares the bytes with aiohttp's for each shape.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.helpers import must_be_empty_body, rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11
from aiohttp.http_writer import _serialize_headers

# Above this a body goes beside the head (writelines), not copied into one buffer:
# aiohttp's own threshold (http_writer.MIN_PAYLOAD_FOR_WRITELINES).
_COPY_LIMIT = 2048

# What write_whole reads and sets of a response (checked against aiohttp by front.py).
RESPONSE_INTERNALS = (
    *("_body", "_compression", "_chunked", "_cookies", "_keep_alive"),
    *("_eof_sent", "_body_length", "_must_be_empty_body", "_status", "_reason", "_headers"),
)


def writes_whole(request: web.Request, response: web.StreamResponse) -> bool:
    """Whether ``write_whole`` can send this reply exactly as aiohttp would."""
    return (
        type(response) is web.Response
        and type(response._body) is bytes
        and not response.prepared
        and not response._compression
        and not response._chunked
        and not response._cookies
        and request.version == HttpVersion11
        and hdrs.CONTENT_LENGTH not in response._headers
        and not must_be_empty_body(request.method, response._status)
    )


def write_whole(request: web.Request, response: web.Response) -> bool:
    """Write the reply (head and body) to the request's transport; returns whether the
    connection stays open. Raises ``ConnectionResetError`` when the client left, and
    ``ValueError`` on a control character in a header (as aiohttp does)."""
    body: bytes = response._body  # type: ignore[assignment]  # writes_whole checked it
    keep_alive = response._keep_alive
    if keep_alive is None:
        keep_alive = request.keep_alive
    headers = response._headers
    headers[hdrs.CONTENT_LENGTH] = str(len(body))
    if body:
        headers.setdefault(hdrs.CONTENT_TYPE, "application/octet-stream")
    if hdrs.DATE not in headers:
        headers[hdrs.DATE] = rfc822_formatted_time()
    headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
    if not keep_alive and hdrs.CONNECTION not in headers:
        headers[hdrs.CONNECTION] = "close"
    head = _serialize_headers(f"HTTP/1.1 {response._status} {response._reason}", headers)
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("Cannot write to closing transport")
    if len(body) < _COPY_LIMIT:
        transport.write(head + body)
    else:
        transport.writelines((head, body))
    response._keep_alive = keep_alive
    response._must_be_empty_body = False
    response._eof_sent = True
    response._body_length = len(head) + len(body)
    return keep_alive
