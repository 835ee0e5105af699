"""Anthropic Messages (Claude Code, the Anthropic SDKs) translated to native ``/api/chat``.

Mapped as Ollama's own ``/v1/messages`` maps it (anthropic/anthropic.go), plus what a proxy
adds: ``num_ctx`` defaults, the cache shared with every other dialect, metrics, and
``count_tokens`` (Ollama has none). Accepted and ignored: ``cache_control``, ``metadata``,
``context_management``, ``defer_loading``, ``$schema`` in tool schemas, any
``anthropic-beta`` feature and the query string (Claude Code sends ``?beta=true``).
``thinking``/``output_config.effort`` become ``think`` only for models whose capabilities
include thinking (``/api/show``); for others they are dropped rather than failing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..capabilities import model_capabilities
from ..errors import BadRequest
from ..ids import secret_id
from ..ndjson import dumps
from ..state import STATE
from .base import Dialect, Route
from .images import base64_image
from .kit import Event, generate, read_json_object
from .shapes import anthropic_error

_EFFORTS = {"high", "medium", "low", "max"}


# -- request ---------------------------------------------------------------------------------


def _text_of(blocks: Any, where: str) -> str:
    if blocks is None:
        return ""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise BadRequest(f"{where} must be a string or an array of content blocks", where)
    return "".join(
        str(b.get("text") or "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )


def _image(block: Mapping[str, Any], where: str) -> str:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise BadRequest("only base64 image sources are supported", where)
    return base64_image(source.get("data"), where)


def _tool_result_content(content: Any, where: str) -> tuple[str, list[str]]:
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise BadRequest("tool_result content must be a string or blocks", where)
    texts, images = [], []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif isinstance(block, dict) and block.get("type") == "image":
            images.append(_image(block, where))
    return "".join(texts), images


def _message(message: Any, index: int, names: dict[str, str]) -> list[dict[str, Any]]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest("each message must be an object", where)
    role = message.get("role")
    if role not in ("user", "assistant", "system"):
        raise BadRequest(f"invalid role {role!r}", f"{where}.role")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise BadRequest("content must be a string or an array of content blocks", where)
    text: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking = ""
    results: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(str(block.get("text") or ""))
        elif kind == "image":
            images.append(_image(block, where))
        elif kind == "tool_use":
            if not block.get("id") or not block.get("name"):
                raise BadRequest("tool_use blocks need 'id' and 'name'", where)
            names[str(block["id"])] = str(block["name"])
            arguments = block.get("input")
            calls.append(
                {
                    "id": str(block["id"]),
                    "function": {
                        "name": str(block["name"]),
                        "arguments": arguments if isinstance(arguments, dict) else {},
                    },
                }
            )
        elif kind == "tool_result":
            result_text, result_images = _tool_result_content(block.get("content"), where)
            tool_id = str(block.get("tool_use_id") or "")
            native: dict[str, Any] = {"role": "tool", "content": result_text}
            if result_images:
                native["images"] = result_images
            if tool_id:
                native["tool_call_id"] = tool_id
                if tool_id in names:
                    native["tool_name"] = names[tool_id]
            results.append(native)
        elif kind in ("thinking", "redacted_thinking"):
            thinking = str(block.get("thinking") or "")
        elif kind is None:
            raise BadRequest("each content block must be an object with a 'type'", where)
        # other block types (documents, server tools, future ones) are ignored, as Ollama does
    out: list[dict[str, Any]] = []
    if role == "user":
        out.extend(results)  # tool results answer the previous assistant turn: first
    if text or images or calls or thinking:
        native = {"role": role, "content": "".join(text)}
        if images:
            native["images"] = images
        if calls:
            native["tool_calls"] = calls
        if thinking:
            native["thinking"] = thinking
        out.append(native)
    if role != "user":
        out.extend(results)
    return out


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be an array", "tools")
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict):
            raise BadRequest("each tool must be an object", "tools")
        if str(tool.get("type") or "").startswith("web_search"):
            continue  # no internet behind a local model (README)
        if not isinstance(tool.get("name"), str):
            raise BadRequest("each tool needs a 'name'", "tools")
        schema = tool.get("input_schema")
        schema = dict(schema) if isinstance(schema, dict) else {"type": "object"}
        schema.pop("$schema", None)
        function: dict[str, Any] = {"name": tool["name"], "parameters": schema}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "none":
            return None
        if choice.get("type") == "tool":  # Ollama cannot force a call: offer only that one
            out = [t for t in out if t["function"]["name"] == choice.get("name")]
    return out or None


def _think(body: Mapping[str, Any]) -> bool | str | None:
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return False
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    effort = str(effort).strip().lower() if isinstance(effort, str) else ""
    effort = "high" if effort == "xhigh" else effort
    if kind == "enabled":
        return True
    if effort in _EFFORTS:
        return effort
    if kind == "adaptive":
        return True
    return None


def _number(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise BadRequest(f"'{name}' must be a number", name)
    return value


def to_native(body: Mapping[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    max_tokens = _number(body, "max_tokens", int)
    if max_tokens is None:
        raise BadRequest("'max_tokens' is required", "max_tokens")
    native_messages: list[dict[str, Any]] = []
    system = _text_of(body.get("system"), "system")
    if system:
        native_messages.append({"role": "system", "content": system})
    names: dict[str, str] = {}
    for index, message in enumerate(messages):
        native_messages.extend(_message(message, index, names))
    options: dict[str, Any] = {"num_predict": max_tokens}
    for name, native_name in (("temperature", "temperature"), ("top_p", "top_p")):
        value = _number(body, name, (int, float))
        if value is not None:
            options[native_name] = value
    top_k = _number(body, "top_k", int)
    if top_k is not None:
        options["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise BadRequest("'stop_sequences' must be an array of strings", "stop_sequences")
        if stops:
            options["stop"] = stops
    native: dict[str, Any] = {
        "model": model,
        "messages": native_messages,
        "stream": body.get("stream") is True,  # Ollama is asked for what the client asked
        "options": options,
    }
    tools = _tools(body)
    if tools:
        native["tools"] = tools
    think = _think(body)
    if think is not None:
        native["think"] = think
    return native


# -- response --------------------------------------------------------------------------------


def stop_reason(done_reason: Any, had_tool_calls: bool) -> str:
    if had_tool_calls:
        return "tool_use"
    if done_reason == "length":
        return "max_tokens"
    if done_reason in ("stop", None, ""):
        return "end_turn"
    return "stop_sequence"


def _usage(final: Mapping[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": int(final.get("prompt_eval_count") or 0),
        "output_tokens": int(final.get("eval_count") or 0),
    }


def _call_id(call: Mapping[str, Any]) -> str:
    ident = call.get("id")
    return str(ident) if ident else secret_id("toolu")


def whole(model: str, merged: dict[str, Any]) -> dict[str, Any]:
    message = merged.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("thinking"):
        content.append({"type": "thinking", "thinking": message["thinking"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    calls = message.get("tool_calls") or []
    for call in calls:
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": _call_id(call),
                "name": fn.get("name", ""),
                "input": fn.get("arguments") or {},
            }
        )
    return {
        "id": secret_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(merged.get("done_reason"), bool(calls)),
        "stop_sequence": None,
        "usage": _usage(merged),
    }


class MessageStream:
    """Native chat chunks -> Anthropic's named events, one reply at a time."""

    def __init__(self, model: str, estimated_input: int) -> None:
        self.id = secret_id("msg")
        self.model = model
        self.estimated_input = estimated_input
        self._started = False
        self._index = 0
        self._open: str | None = None  # "thinking" or "text": the block being written
        self._calls = 0

    def _start(self, final: Mapping[str, Any]) -> list[Event]:
        self._started = True
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": int(final.get("prompt_eval_count") or self.estimated_input),
                "output_tokens": 0,
            },
        }
        return [
            ("message_start", {"type": "message_start", "message": message}),
            ("ping", {"type": "ping"}),
        ]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        event = ("content_block_stop", {"type": "content_block_stop", "index": self._index})
        self._index += 1
        return [event]

    def _block(self, kind: str, delta_type: str, field: str, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open != kind:
            events += self._close()
            self._open = kind
            block = {"type": kind, field: ""}
            if kind == "thinking":
                block["signature"] = ""
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": self._index, "content_block": block},
                )
            )
        events.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self._index,
                    "delta": {"type": delta_type, field: text},
                },
            )
        )
        return events

    def feed(self, native: dict[str, Any]) -> list[Event]:
        events: list[Event] = [] if self._started else self._start(native)
        message = native.get("message") or {}
        if message.get("thinking"):
            events += self._block("thinking", "thinking_delta", "thinking", message["thinking"])
        if message.get("content"):
            events += self._block("text", "text_delta", "text", message["content"])
        for call in message.get("tool_calls") or []:
            events += self._close()
            fn = call.get("function") or {}
            block = {
                "type": "tool_use",
                "id": _call_id(call),
                "name": fn.get("name", ""),
                "input": {},
            }
            partial = json.dumps(fn.get("arguments") or {}, ensure_ascii=False)
            events += [
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": self._index, "content_block": block},
                ),
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self._index,
                        "delta": {"type": "input_json_delta", "partial_json": partial},
                    },
                ),
                ("content_block_stop", {"type": "content_block_stop", "index": self._index}),
            ]
            self._index += 1
            self._calls += 1
        if native.get("done"):
            events += self._close()
            events += [
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {
                            "stop_reason": stop_reason(native.get("done_reason"), self._calls > 0),
                            "stop_sequence": None,
                        },
                        "usage": _usage(native),
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        return events

    def error(self, status: int, message: str) -> list[Event]:
        return [("error", anthropic_error(status, message))]


# -- count_tokens ----------------------------------------------------------------------------


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """An estimate, as Ollama's own (a quarter of the characters of the system prompt,
    the messages and the tools): Ollama has no tokenizer endpoint. It grows with every
    message, system block and tool, which is what clients use it for (README)."""
    total = len(dumps(body.get("system"))) if body.get("system") is not None else 0
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            total += len(str(message.get("role") or ""))
            content = message.get("content")
            total += len(content) if isinstance(content, str) else len(dumps(content))
    for tool in body.get("tools") or []:
        total += len(dumps(tool))
    return max(1, total // 4)


# -- handlers --------------------------------------------------------------------------------


async def messages(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json_object(request)
    native = to_native(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    if "think" in native and "thinking" not in await model_capabilities(state, native["model"]):
        del native["think"]  # a model without thinking: answer plainly, never fail
    model = str(body["model"])
    return await generate(
        request,
        native,
        stream,
        MessageStream(model, estimate_tokens(body)),
        lambda merged: whole(model, merged),
    )


async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    if not isinstance(body.get("model"), str):
        raise BadRequest("'model' is required", "model")
    if not isinstance(body.get("messages"), list):
        raise BadRequest("'messages' must be an array", "messages")
    return web.Response(
        body=dumps({"input_tokens": estimate_tokens(body)}), content_type="application/json"
    )


DIALECT = Dialect(
    "anthropic",
    anthropic_error,
    routes=(
        Route("POST", "/v1/messages", messages),
        Route("POST", "/v1/messages/count_tokens", count_tokens),
    ),
)
