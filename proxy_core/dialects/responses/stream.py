"""A native answer as a Responses one: output items (Shape) and the event stream with
sequence numbers (ResponseStream)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from ...ids import secret_id
from ..kit import Event

# -- response --------------------------------------------------------------------------------


def _call_item(call: Mapping[str, Any], item_id: str, namespaced: set[str]) -> dict[str, Any]:
    fn = call.get("function") or {}
    name = str(fn.get("name") or "")
    args = fn.get("arguments")
    item: dict[str, Any] = {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": str(call.get("id") or secret_id("call", 16)),
        "name": name,
        "arguments": args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False),
    }
    if name in namespaced:  # flattened on the way in: give the client its own shape back
        item["namespace"], item["name"] = name.rsplit(".", 1)
    return item


def _usage(final: Mapping[str, Any]) -> dict[str, Any]:
    prompt = int(final.get("prompt_eval_count") or 0)
    completion = int(final.get("eval_count") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


class Shape:
    """The response object around the output, echoing the request as OpenAI does."""

    def __init__(self, body: Mapping[str, Any], namespaced: set[str]) -> None:
        self.id = secret_id("resp", 16)
        self.created = int(time.time())
        self.body = body
        self.namespaced = namespaced

    def response(
        self,
        status: str,
        output: list[dict[str, Any]],
        final: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = self.body
        text = body.get("text") if isinstance(body.get("text"), dict) else None
        incomplete = final is not None and final.get("done_reason") == "length"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": "incomplete" if incomplete and status == "completed" else status,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": body.get("model"),
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "store": body.get("store", True) is not False,
            "temperature": body.get("temperature", 1.0),
            "text": text or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": _usage(final) if final is not None else None,
            "metadata": body.get("metadata") or {},
        }

    def output(self, merged: Mapping[str, Any]) -> list[dict[str, Any]]:
        message = merged.get("message") or {}
        out: list[dict[str, Any]] = []
        if message.get("thinking"):
            out.append(
                {
                    "id": secret_id("rs", 16),
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": message["thinking"]}],
                }
            )
        if message.get("content") or not message.get("tool_calls"):
            out.append(
                {
                    "id": secret_id("msg", 16),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "output_text",
                            "text": message.get("content") or "",
                            "annotations": [],
                        }
                    ],
                }
            )
        for call in message.get("tool_calls") or []:
            out.append(_call_item(call, secret_id("fc", 16), self.namespaced))
        return out


class ResponseStream:
    """Native chat chunks -> Responses events, each with the next ``sequence_number``."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self._seq = 0
        self._started = False
        self._output: list[dict[str, Any]] = []
        self._reasoning: dict[str, Any] | None = None
        self._message: dict[str, Any] | None = None

    def _event(self, kind: str, **data: Any) -> Event:
        payload = {"type": kind, "sequence_number": self._seq, **data}
        self._seq += 1
        return kind, payload

    def _add(self, item: dict[str, Any]) -> list[Event]:
        self._output.append(item)
        return [
            self._event("response.output_item.added", output_index=len(self._output) - 1, item=item)
        ]

    def _done(self, item: dict[str, Any]) -> list[Event]:
        index = self._output.index(item)
        return [self._event("response.output_item.done", output_index=index, item=item)]

    def _close_reasoning(self) -> list[Event]:
        item, self._reasoning = self._reasoning, None
        if item is None:
            return []
        text = item["summary"][0]["text"]
        index = self._output.index(item)
        return [
            self._event(
                "response.reasoning_summary_text.done",
                item_id=item["id"],
                output_index=index,
                summary_index=0,
                text=text,
            ),
            *self._done(item),
        ]

    def _close_message(self) -> list[Event]:
        item, self._message = self._message, None
        if item is None:
            return []
        part = item["content"][0]
        index = self._output.index(item)
        item["status"] = "completed"
        return [
            self._event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=part["text"],
            ),
            self._event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            ),
            *self._done(item),
        ]

    def feed(self, native: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if not self._started:
            self._started = True
            shell = self.shape.response("in_progress", [])
            events += [
                self._event("response.created", response=shell),
                self._event("response.in_progress", response=shell),
            ]
        message = native.get("message") or {}
        if message.get("thinking"):
            events += self._thinking(message["thinking"])
        if message.get("content"):
            events += self._close_reasoning() + self._text(message["content"])
        for call in message.get("tool_calls") or []:
            events += self._close_reasoning() + self._close_message() + self._call(call)
        if native.get("done"):
            events += self._close_reasoning() + self._close_message()
            if not self._output:  # an empty answer is still one (empty) message
                empty = self.shape.output({"message": {}})[0]
                events += self._add(empty) + self._done(empty)
            final = self.shape.response("completed", self._output, native)
            kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
            events.append(self._event(kind, response=final))
        return events

    def _thinking(self, delta: str) -> list[Event]:
        events: list[Event] = []
        if self._reasoning is None:
            self._reasoning = {
                "id": secret_id("rs", 16),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": ""}],
            }
            events += self._add(self._reasoning)
        self._reasoning["summary"][0]["text"] += delta
        events.append(
            self._event(
                "response.reasoning_summary_text.delta",
                item_id=self._reasoning["id"],
                output_index=self._output.index(self._reasoning),
                summary_index=0,
                delta=delta,
            )
        )
        return events

    def _text(self, delta: str) -> list[Event]:
        events: list[Event] = []
        if self._message is None:
            part = {"type": "output_text", "text": "", "annotations": []}
            self._message = {
                "id": secret_id("msg", 16),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [part],
            }
            events += self._add(self._message)
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=self._message["id"],
                    output_index=self._output.index(self._message),
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
            )
        self._message["content"][0]["text"] += delta
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self._message["id"],
                output_index=self._output.index(self._message),
                content_index=0,
                delta=delta,
            )
        )
        return events

    def _call(self, call: dict[str, Any]) -> list[Event]:
        item = _call_item(call, secret_id("fc", 16), self.shape.namespaced)
        arguments = item["arguments"]
        events = self._add({**item, "arguments": "", "status": "in_progress"})
        self._output[-1] = item
        index = len(self._output) - 1
        return [
            *events,
            self._event(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=arguments,
            ),
            self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=arguments,
            ),
            *self._done(item),
        ]

    def error(self, status: int, message: str) -> list[Event]:
        failed = self.shape.response("failed", self._output)
        failed["error"] = {"code": "server_error", "message": message}
        return [
            self._event("error", code="server_error", message=message, param=None),
            self._event("response.failed", response=failed),
        ]
