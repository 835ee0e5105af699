"""NDJSON framing and the merge of a native stream into Ollama's non-stream reply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any


class LineSplitter:
    """Cuts a byte stream into complete lines; network chunks may split a line anywhere."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\n" not in data:
            self._buffer = data
            return []
        *lines, self._buffer = data.split(b"\n")
        return [line for line in lines if line.strip()]

    def tail(self) -> bytes:
        """Whatever followed the last newline (a final line without one)."""
        rest, self._buffer = self._buffer, b""
        return rest if rest.strip() else b""


async def iter_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    splitter = LineSplitter()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            yield line
    tail = splitter.tail()
    if tail:
        yield tail


def dumps(obj: Any) -> bytes:
    """Compact JSON, as Ollama (Go) writes it.

    A string holding a lone UTF-16 surrogate (a client sent ``"\\ud800"``) cannot be
    UTF-8: it is written escaped instead, which Go decodes to U+FFFD exactly as Ollama
    would have decoded the client's own body."""
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
