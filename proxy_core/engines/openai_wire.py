"""The OpenAI wire form and the native one, for an OpenAI-compatible engine: the field
tables, a native chat as an OpenAI request, an OpenAI answer as Ollama's, server-sent
events read as JSON objects, and the native reply made from them (:class:`TranslatedReply`).
Pure but for reading an SSE response; the engine (openai_compat.py) does the I/O."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict

from ..errors import reading_reply
from ..ndjson import dumps, loads
from .connection import PoolReply

JSON = "application/json; charset=utf-8"
NDJSON = "application/x-ndjson"
OPTIONS = {  # native options -> OpenAI request fields
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "num_predict": "max_tokens",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
# In /api/show's model_info: the context is the server's, which no num_ctx changes.
FIXED_CONTEXT_KEY = "ollama_tray_proxy.context_fixed_by_server"
FINISH = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "stop"}


async def read_as_answer(lines: AsyncIterator[bytes], who: str) -> AsyncIterator[bytes]:
    """A stream's translation, where an event of an unexpected shape ends it as the
    server's error (told in-band by every dialect's stream writer)."""
    with reading_reply(who):
        async for line in lines:
            yield line


def as_text(value: Any) -> str:
    """A text field of the server's answer: absent is empty, anything but text an error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"a text field holds {type(value).__name__}")
    return value


class TranslatedReply(PoolReply):
    """A native reply made from the server's answer: ``body`` whole, or ``source``
    yielding NDJSON lines as the server streams (``release`` closes its response)."""

    __slots__ = ("_source", "_close")

    def __init__(
        self,
        status: int,
        content_type: str,
        body: bytes | None,
        source: AsyncIterator[bytes] | None = None,
        close: Any = None,
    ) -> None:
        super().__init__(status, CIMultiDict({"Content-Type": content_type}), body, None)
        self._source = source
        self._close = close

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            yield self.body
            return
        assert self._source is not None
        async for chunk in self._source:
            yield chunk

    def release(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_reply(status: int, message: str) -> TranslatedReply:
    return TranslatedReply(status, JSON, dumps({"error": message}))


def refused_reply(status: int, answer: Any) -> TranslatedReply:
    """The server's error as Ollama's; an answer that is not what was asked for (a 2xx
    that is no JSON object) is a 502."""
    return error_reply(status if status >= 400 else 502, error_message(answer, status))


def copy_options(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    options = body.get("options")
    if isinstance(options, dict):
        for native, openai in OPTIONS.items():
            if native in options:
                out[openai] = options[native]


def native_model(entry: Mapping[str, Any], context: int | None) -> dict[str, Any]:
    """A ``/v1/models`` entry as an ``/api/tags`` one (``context``: the server's own)."""
    created = entry.get("created")
    when = (
        datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(created, int | float)
        else now_iso()
    )
    return {
        "name": entry["id"],
        "model": entry["id"],
        "modified_at": when,
        "size": 0,
        "digest": "",
        "details": {"format": "", "family": "", "parameter_size": ""},
        **({"context_length": context} if context else {}),
    }


def chat_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in body.get("messages") or [] if isinstance(m, dict)],
        "stream": body.get("stream", True) is not False,
    }
    if out["stream"]:
        out["stream_options"] = {"include_usage": True}
    copy_options(body, out)
    if body.get("tools"):
        out["tools"] = body["tools"]  # native tools are OpenAI-shaped already
    fmt = body.get("format")
    if fmt == "json":
        out["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt},
        }
    return out


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role", "user")
    out: dict[str, Any] = {"role": role, "content": message.get("content") or ""}
    images = message.get("images")
    if images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": out["content"]}]
        for image in images:
            url = image if str(image).startswith("data:") else f"data:image/png;base64,{image}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        out["content"] = parts
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            {
                "id": call.get("id") or f"call_{n}",
                "type": "function",
                "function": {
                    "name": call.get("function", {}).get("name", ""),
                    "arguments": json.dumps(call.get("function", {}).get("arguments") or {}),
                },
            }
            for n, call in enumerate(calls)
            if isinstance(call, dict)
        ]
    if role == "tool":
        out["tool_call_id"] = message.get("tool_call_id") or "call_0"
    return out


def native_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for call in calls or []:
        function = call.get("function") or {}
        arguments = function.get("arguments") or {}
        if isinstance(arguments, str):
            try:
                arguments = loads(arguments)
            except ValueError:  # a model's broken JSON: no arguments
                arguments = {}
        if not isinstance(arguments, dict):
            arguments = {}
        name = as_text(function.get("name"))
        out.append({"function": {"name": name, "arguments": arguments}})
    return out


def usage_counts(usage: Any, seconds: float) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    nanos = int(seconds * 1e9)
    return {
        "total_duration": nanos,
        "prompt_eval_count": usage.get("prompt_tokens", 0),
        "eval_count": usage.get("completion_tokens", 0),
        "eval_duration": nanos,
    }


def chat_answer(answer: Mapping[str, Any], model: str, seconds: float) -> dict[str, Any]:
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    native: dict[str, Any] = {"role": "assistant", "content": as_text(message.get("content"))}
    if message.get("reasoning_content"):
        native["thinking"] = as_text(message["reasoning_content"])
    if message.get("tool_calls"):
        native["tool_calls"] = native_calls(message["tool_calls"])
    return {
        "model": model,
        "created_at": now_iso(),
        "message": native,
        "done": True,
        "done_reason": FINISH.get(choice.get("finish_reason") or "stop", "stop"),
        **usage_counts(answer.get("usage"), seconds),
    }


async def sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent-events reply, until ``data: [DONE]``."""
    async for raw in resp.content:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        chunk = parse_json(data)
        if isinstance(chunk, dict):
            yield chunk


def native_line(model: str, fields: Mapping[str, Any]) -> bytes:
    return dumps({"model": model, "created_at": now_iso(), **fields}) + b"\n"


def parse_json(raw: bytes) -> Any:
    try:
        return loads(raw)
    except ValueError:
        return None


def error_message(answer: Any, status: int) -> str:
    """The server's error message (OpenAI's ``{"error": {"message"}}`` or a string)."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return f"the OpenAI-compatible server answered {status}"
