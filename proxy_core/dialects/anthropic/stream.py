"""A native answer as Anthropic's: the whole message, the named-event stream, and
``count_tokens``' estimate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...ids import secret_id
from ...ndjson import dumps
from ..kit import Event
from ..shapes import anthropic_error

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
