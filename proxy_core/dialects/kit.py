"""What every translated dialect (OpenAI, Anthropic Messages, OpenAI Responses) does the
same way: read a JSON body, run the native request through the shared generation path
(cache, coalescing, metrics, cancellation), then either write the native stream as the
dialect's server-sent events (THE stream loop: one, with the dialect's framing as a
parameter) or fold it into one answer.

A dialect provides the request mapping, an event mapper (native chunk -> events) and a
builder for the whole answer; the fold of a native stream is ``ndjson.merge_chunks``,
the same one the native routes use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

from aiohttp import web

from ..errors import BadRequest, ReplyError, UpstreamError, UpstreamMalformed, reading_reply
from ..generation import TRUNCATED_HEADER, Reply, observe_final, open_reply
from ..ndjson import (
    LineSplitter,
    NestedTooDeep,
    dumps,
    iter_lines,
    loads,
    merge_chunks,
    native_error_message,
    object_or_none,
)
from ..slow_clients import read_body
from ..state import (
    REQUEST_CACHE,
    REQUEST_MODEL,
    REQUEST_TTFB,
    STATE,
    client_gone,
    note_tokens,
    prepare_stream,
)

Event = tuple[str | None, dict[str, Any]]  # (SSE event name or None, data)


class EventMapper(Protocol):
    def feed(self, native: dict[str, Any]) -> list[Event]: ...

    def error(self, status: int, message: str) -> list[Event]: ...


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return json_object(await read_body(request))


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or BadRequest saying what is wrong with it."""
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        body = loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("the request body is not valid UTF-8") from None
    except NestedTooDeep:
        raise BadRequest("the request body is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def sse(event: str | None, data: dict[str, Any]) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + dumps(data) + b"\n\n"


async def native_lines(reply: Reply, max_line: int) -> AsyncIterator[dict[str, Any]]:
    """The native chunks of a reply (stored or live) as objects; unparsable lines skipped."""
    whole = _whole_objects(reply, max_line)
    if whole is not None:
        for native in whole:
            yield native
        return
    assert reply.chunks is not None
    async for line in iter_lines(reply.chunks, max_line):  # relayed as each line arrives
        obj = object_or_none(line)
        if obj is not None:
            yield obj


async def collect_objects(reply: Reply, max_line: int) -> list[dict[str, Any]]:
    """All native chunks of a reply; a reply already whole (a hit, or one read whole) is
    parsed without an async generator (each costs the loop's generator bookkeeping)."""
    whole = _whole_objects(reply, max_line)
    if whole is not None:
        return whole
    return [obj async for obj in native_lines(reply, max_line)]


def _whole_objects(reply: Reply, max_line: int) -> list[dict[str, Any]] | None:
    if reply.entry is not None:
        return [loads(line) for line in reply.entry.lines]
    if reply.body is not None:
        parsed = (object_or_none(line) for line in LineSplitter(max_line).feed(reply.body + b"\n"))
        return [obj for obj in parsed if obj is not None]
    return None


async def generate(
    request: web.Request,
    native: dict[str, Any],
    stream: bool,
    mapper: EventMapper,
    whole: Callable[[dict[str, Any]], dict[str, Any]],
    finished: Callable[[dict[str, Any]], None] | None = None,
    framing: Framing | None = None,
) -> web.StreamResponse:
    """Run ``native`` (a chat request) and answer as events (named ones unless another
    ``framing`` is given) or as ``whole(merged)``; ``finished(merged)`` is told the whole
    answer once it is complete (either way)."""
    state = request.app[STATE]
    model = str(native.get("model") or "")
    request[REQUEST_MODEL] = model
    async with open_reply(state, "chat", dumps(native), native, request.headers) as reply:
        note_reply(request, reply)
        await raise_for_status(reply)
        if stream:
            framing = framing or NAMED_EVENTS
            return await stream_events(request, reply, mapper, model, framing, finished)
        chunks, truncated = await whole_chunks(request, reply, model)
    with reading_reply("Ollama"):
        merged = merge_chunks(chunks)
        answer = whole(merged)
    if finished is not None:
        finished(merged)
    headers = {"X-Cache": reply.cache}
    if truncated is not None:
        headers[TRUNCATED_HEADER] = truncated
    return web.Response(body=dumps(answer), content_type="application/json", headers=headers)


async def raise_for_status(reply: Reply) -> None:
    """The engine's own error status, passed on with its message (ReplyError)."""
    if reply.status == 200:
        return
    body = b"".join([c async for c in reply.chunks]) if reply.chunks is not None else b""
    raise ReplyError(reply.status, native_error_message(reply.status, body))


async def whole_chunks(
    request: web.Request, reply: Reply, model: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The whole native answer, accounted, and X-Context-Truncated's value when its prompt
    was cut; an error line or an answer that stopped short is an error."""
    state = request.app[STATE]
    chunks = await collect_objects(reply, state.settings.max_line_bytes)
    for chunk in chunks:
        if "error" in chunk:
            raise ReplyError(500, str(chunk["error"]))
    if not chunks or not chunks[-1].get("done"):
        raise UpstreamMalformed("Ollama ended the reply before it was complete")
    note_tokens(request, chunks[-1])
    return chunks, observe_final(state, reply, model, chunks[-1])


def note_reply(request: web.Request, reply: Reply) -> None:
    """What the metrics middleware reports of a generation: cache result, time to
    Ollama's first byte (only when Ollama was asked, not for a hit)."""
    request[REQUEST_CACHE] = reply.cache
    if reply.chunks is not None:
        request.app[STATE].metrics.upstream_first_byte(request.path, reply.ttfb)
        request[REQUEST_TTFB] = reply.ttfb


async def open_event_stream(
    request: web.Request, reply: Reply, content_type: str = "text/event-stream"
) -> web.StreamResponse:
    """Send the head of a streamed reply: server-sent events (every SSE dialect's), or
    Gemini's JSON array."""
    response = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "X-Cache": reply.cache,
        }
    )
    await prepare_stream(request, response)
    return response


@dataclasses.dataclass(frozen=True, slots=True)
class Framing:
    """How a dialect writes an event on the wire, what ends a complete stream, what
    closes any stream, complete or not (a JSON array's bracket), and its content type."""

    encode: Callable[[Event], bytes]
    epilogue: bytes = b""
    close: Callable[[], bytes] | None = None
    content_type: str = "text/event-stream"


NAMED_EVENTS = Framing(lambda event: sse(*event))  # Anthropic, Responses: event + data
DATA_ONLY = Framing(lambda event: sse(None, event[1]), b"data: [DONE]\n\n")  # OpenAI


async def stream_events(
    request: web.Request,
    reply: Reply,
    mapper: EventMapper,
    model: str,
    framing: Framing,
    finished: Callable[[dict[str, Any]], None] | None = None,
) -> web.StreamResponse:
    """THE stream loop: the native stream as the dialect's events, as each line arrives.
    An error (a line, or the engine failing mid-stream) is told as the dialect's error
    event and ends it; a stream that stops short is told so; only a complete stream gets
    the framing's epilogue."""
    state = request.app[STATE]
    response = await open_event_stream(request, reply, framing.content_type)
    seen: list[dict[str, Any]] = []  # kept only when someone wants the whole answer

    async def write(events: Iterable[Event]) -> None:
        for event in events:
            await response.write(framing.encode(event))

    try:
        ended = told = False
        try:
            async for native in native_lines(reply, state.settings.max_line_bytes):
                if finished is not None:
                    seen.append(native)
                if "error" in native:
                    await write(mapper.error(500, str(native["error"])))
                    told = True
                    break
                with reading_reply("Ollama"):
                    events = mapper.feed(native)
                await write(events)
                if native.get("done"):
                    ended = True
                    note_tokens(request, native)
                    observe_final(state, reply, model, native)
                    if finished is not None:
                        finished(merge_chunks(seen))
        except UpstreamError as exc:
            state.metrics.upstream_error(type(exc).__name__)
            await write(mapper.error(exc.status, str(exc)))
            told = True
        if ended and not told:
            if framing.epilogue:
                await response.write(framing.epilogue)
        elif not told:
            await write(mapper.error(502, "Ollama ended the stream before the reply was complete"))
        if framing.close is not None:
            await response.write(framing.close())
        await response.write_eof()
    except ConnectionResetError:
        client_gone(request)
    return response
