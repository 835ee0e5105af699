"""NDJSON framing and the merge of a native stream into Ollama's non-stream reply."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from .errors import UpstreamMalformed


class LineTooLong(UpstreamMalformed):
    """A reply line longer than the proxy will hold (no newline in sight)."""


class NestedTooDeep(ValueError):
    """JSON nested past Python's recursion limit (``json`` raises RecursionError): a
    ValueError like any other JSON that cannot be read, so no caller misses it."""


class LineSplitter:
    """Cuts a byte stream into complete lines; network chunks may split a line anywhere.

    Linear in the bytes fed: the pieces of an unfinished line are kept in a list and
    joined once its newline arrives (appending to one bytes object each time was
    quadratic: a 120 MiB line took 16.7 s and stalled the loop). A line longer than
    ``max_line`` raises :class:`LineTooLong`."""

    __slots__ = ("_parts", "_size", "_max_line")

    def __init__(self, max_line: int | None = None) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._max_line = max_line

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            if chunk:
                self._parts.append(chunk)
                self._size += len(chunk)
                self._check()
            return []
        first, *lines, rest = chunk.split(b"\n")
        if self._parts:
            self._parts.append(first)
            first = b"".join(self._parts)
        lines.insert(0, first)
        self._parts = [rest] if rest else []
        self._size = len(rest)
        self._check()
        if self._max_line is not None and len(first) > self._max_line:
            raise LineTooLong(f"a reply line is longer than {self._max_line} bytes")
        return [line for line in lines if line.strip()]

    def _check(self) -> None:
        if self._max_line is not None and self._size > self._max_line:
            raise LineTooLong(f"a reply line is longer than {self._max_line} bytes")

    def tail(self) -> bytes:
        """Whatever followed the last newline (a final line without one)."""
        rest = b"".join(self._parts)
        self._parts = []
        self._size = 0
        return rest if rest.strip() else b""


async def iter_lines(
    chunks: AsyncIterator[bytes], max_line: int | None = None
) -> AsyncIterator[bytes]:
    splitter = LineSplitter(max_line)
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            yield line
    tail = splitter.tail()
    if tail:
        yield tail


def loads(raw: bytes | str) -> Any:
    """Parse JSON with orjson (several times faster than ``json``), falling back to
    ``json`` for what orjson refuses and Python accepts (a lone surrogate escape,
    nesting past orjson's limit of 1024), so the errors callers see are ``json``'s:
    ValueError (NestedTooDeep past Python's own depth) and UnicodeDecodeError. (orjson
    reads an integer past 64 bits as a float; Ollama, in Go, refuses one anyway.) What
    Python reads and JSON has not (NaN, Infinity, a number past a double) is refused as
    orjson and Go refuse it: translated, it would reach Ollama as null."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw, parse_constant=_finite, parse_float=_finite)
    except RecursionError:
        raise NestedTooDeep("the JSON is nested too deeply") from None


def _finite(text: str) -> float:
    """A number JSON has (NaN and Infinity come here too; 1e400 reads as infinite)."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not valid JSON: no number a double holds")
    return number


def object_or_none(line: bytes) -> dict[str, Any] | None:
    """A line parsed as a JSON object, or None (not JSON, not an object, not text)."""
    try:
        obj = loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def native_error_message(status: int, body: bytes) -> str:
    """What an Ollama error reply says: its ``error`` string, else its text."""
    parsed = object_or_none(body)
    if parsed is not None and isinstance(parsed.get("error"), str):
        return str(parsed["error"])
    return body.decode("utf-8", "replace").strip() or f"Ollama answered status {status}"


def dumps(obj: Any) -> bytes:
    """Compact JSON, as Ollama (Go) writes it (orjson, with ``json`` for what orjson
    cannot write: an integer past 64 bits, a lone surrogate).

    A string holding a lone UTF-16 surrogate (a client sent ``"\\ud800"``) cannot be
    UTF-8: it is written escaped instead, which Go decodes to U+FFFD exactly as Ollama
    would have decoded the client's own body."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        pass
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def merge_chunks(chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Turn a native stream into the single object Ollama returns with ``stream: false``:
    content and thinking joined, tool calls gathered, the final chunk's fields kept."""
    content: list[str] = []
    thinking: list[str] = []
    calls: list[Any] = []
    final: dict[str, Any] = {}
    chat = False
    for chunk in chunks:
        final = chunk
        message = chunk.get("message")
        if isinstance(message, dict):
            chat = True
            content.append(str(message.get("content") or ""))
            if message.get("thinking"):
                thinking.append(str(message["thinking"]))
            calls.extend(message.get("tool_calls") or [])
        else:
            content.append(str(chunk.get("response") or ""))
            if chunk.get("thinking"):
                thinking.append(str(chunk["thinking"]))
    out = dict(final)
    if chat:
        msg: dict[str, Any] = dict(final.get("message") or {"role": "assistant"})
        msg["content"] = "".join(content)
        if thinking:
            msg["thinking"] = "".join(thinking)
        if calls:
            msg["tool_calls"] = calls
        out["message"] = msg
    else:
        out["response"] = "".join(content)
        if thinking:
            out["thinking"] = "".join(thinking)
    return out
