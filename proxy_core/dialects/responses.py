"""OpenAI Responses (Codex CLI, the OpenAI SDKs' ``responses.create``) translated to native
``/api/chat``, as Ollama's own ``/v1/responses`` maps it (openai/responses.go), plus:

* ``previous_response_id`` works: unless a request says ``store: false``, the proxy keeps
  each response's conversation (``response_store.py``) and a follow-up continues it;
* ``namespace`` tools are flattened to ``namespace.name`` for the model and a call of one
  comes back as ``name`` with its ``namespace``;
* ``web_search`` tools are dropped: a local model has no internet (README);
* ``num_ctx`` defaults, the shared cache, metrics, like every other dialect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..capabilities import model_capabilities
from ..errors import BadRequest, ReplyError
from ..ids import secret_id
from ..state import STATE
from .base import Dialect, Route
from .images import data_uri_image
from .kit import Event, generate, read_json_object
from .response_store import TooLong
from .shapes import openai_error

_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high"}


# -- request ---------------------------------------------------------------------------------


def _content(content: Any, where: str) -> tuple[str, list[str]]:
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise BadRequest("content must be a string or an array of parts", where)
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "input_image":
            url = part.get("image_url")
            images.append(data_uri_image(url, "messages[0].content"))
        elif kind == "refusal":
            texts.append(str(part.get("refusal") or ""))
        elif kind is None:
            raise BadRequest("each content part must be an object with a 'type'", where)
        # input_file and future parts: ignored, as Ollama does with what it cannot read
    return "".join(texts), images


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if raw in (None, ""):
        return {}
    try:
        parsed = json.loads(str(raw))
    except ValueError:
        raise BadRequest("function_call arguments are not valid JSON", where) from None
    if not isinstance(parsed, dict):
        raise BadRequest("function_call arguments must be a JSON object", where)
    return parsed


def _items(items: list[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    pending_thinking = ""
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise BadRequest("each input item must be an object", where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise BadRequest(f"invalid role {role!r}", f"{where}.role")
            text, images = _content(item.get("content"), where)
            native: dict[str, Any] = {
                "role": "system" if role == "developer" else role,
                "content": text,
            }
            if images:
                native["images"] = images
            if role == "assistant" and pending_thinking:
                native["thinking"], pending_thinking = pending_thinking, ""
            messages.append(native)
        elif kind == "function_call":
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise BadRequest("function_call items need a 'name'", where)
            if isinstance(item.get("namespace"), str) and item["namespace"]:
                name = f"{item['namespace']}.{name}"
            call = {
                "id": str(item.get("call_id") or ""),
                "function": {"name": name, "arguments": _arguments(item.get("arguments"), where)},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            if pending_thinking:
                messages[-1]["thinking"], pending_thinking = pending_thinking, ""
        elif kind == "function_call_output":
            output = item.get("output")
            text, images = (output, []) if isinstance(output, str) else _content(output, where)
            native = {"role": "tool", "content": text, "tool_call_id": str(item.get("call_id"))}
            if images:
                native["images"] = images
            messages.append(native)
        elif kind == "reasoning":
            summary = item.get("summary")
            parts = summary if isinstance(summary, list) else []
            text = "".join(str(p.get("text") or "") for p in parts if isinstance(p, dict))
            pending_thinking = text or str(item.get("encrypted_content") or "")
        # web_search_call and other built-in tool items are history metadata: skipped
    if pending_thinking:
        messages.append({"role": "assistant", "content": "", "thinking": pending_thinking})
    return messages


def _tools(tools: Any, choice: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be an array", "tools")
    out: list[dict[str, Any]] = []

    def add(tool: Any, prefix: str) -> None:
        if not isinstance(tool, dict):
            raise BadRequest("each tool must be an object", "tools")
        kind = tool.get("type")
        if kind == "namespace":
            for member in tool.get("tools") or []:
                add(member, f"{prefix}{tool.get('name')}." if tool.get("name") else prefix)
            return
        if kind != "function":
            return  # web_search, file_search, computer use...: nothing local can run them
        if not isinstance(tool.get("name"), str):
            raise BadRequest("function tools need a 'name'", "tools")
        params = tool.get("parameters")
        function: dict[str, Any] = {
            "name": prefix + tool["name"],
            "parameters": params if isinstance(params, dict) else {"type": "object"},
        }
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})

    for tool in tools:
        add(tool, "")
    if choice == "none":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        out = [t for t in out if t["function"]["name"] == choice.get("name")]
    return out or None


def to_native(
    body: Mapping[str, Any],
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required", "model")
    _check_shapes(body)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if _has_instructions(body):
        messages.append({"role": "system", "content": instructions})
    messages.extend(history)
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        messages.extend(_items(given))
    else:
        raise BadRequest("'input' must be a string or an array of items", "input")
    options: dict[str, Any] = {}
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"'{name}' must be a number", name)
            options[name] = value
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise BadRequest("'max_output_tokens' must be an integer", "max_output_tokens")
        options["num_predict"] = limit
    native: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": body.get("stream") is True,  # Ollama is asked for what the client asked
    }
    if options:
        native["options"] = options
    tools = _tools(body.get("tools"), body.get("tool_choice"))
    if tools:
        native["tools"] = tools
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort in ("none", "minimal"):
        native["think"] = False
    elif effort in _EFFORTS:
        native["think"] = _EFFORTS[effort]
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
            native["format"] = fmt["schema"]
        elif fmt.get("type") == "json_object":
            native["format"] = "json"
    return native


_TEXT_FORMATS = ("text", "json_schema", "json_object")


def _check_shapes(body: Mapping[str, Any]) -> None:
    """Fields of the wrong shape are the client's error, said by name (never ignored)."""
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequest("'instructions' must be a string", "instructions")
    for name in ("reasoning", "text"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise BadRequest(f"'{name}' must be an object", name)
    fmt = (body.get("text") or {}).get("format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in _TEXT_FORMATS):
        raise BadRequest(
            f"'text.format' must be an object whose type is one of {', '.join(_TEXT_FORMATS)}",
            "text.format",
        )


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
            if self._reasoning is None:
                self._reasoning = {
                    "id": secret_id("rs", 16),
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": ""}],
                }
                events += self._add(self._reasoning)
            self._reasoning["summary"][0]["text"] += message["thinking"]
            events.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    item_id=self._reasoning["id"],
                    output_index=self._output.index(self._reasoning),
                    summary_index=0,
                    delta=message["thinking"],
                )
            )
        if message.get("content"):
            events += self._close_reasoning()
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
            self._message["content"][0]["text"] += message["content"]
            events.append(
                self._event(
                    "response.output_text.delta",
                    item_id=self._message["id"],
                    output_index=self._output.index(self._message),
                    content_index=0,
                    delta=message["content"],
                )
            )
        for call in message.get("tool_calls") or []:
            events += self._close_reasoning() + self._close_message()
            item = _call_item(call, secret_id("fc", 16), self.shape.namespaced)
            arguments = item["arguments"]
            events += self._add({**item, "arguments": "", "status": "in_progress"})
            self._output[-1] = item
            index = len(self._output) - 1
            events += [
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
        if native.get("done"):
            events += self._close_reasoning() + self._close_message()
            if not self._output:  # an empty answer is still one (empty) message
                empty = self.shape.output({"message": {}})[0]
                events += self._add(empty) + self._done(empty)
            final = self.shape.response("completed", self._output, native)
            kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
            events.append(self._event(kind, response=final))
        return events

    def error(self, status: int, message: str) -> list[Event]:
        failed = self.shape.response("failed", self._output)
        failed["error"] = {"code": "server_error", "message": message}
        return [
            self._event("error", code="server_error", message=message, param=None),
            self._event("response.failed", response=failed),
        ]


def _namespaced(tools: Any) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "namespace" and tool.get("name"):
            for member in tool.get("tools") or []:
                if isinstance(member, dict) and isinstance(member.get("name"), str):
                    names.add(f"{tool['name']}.{member['name']}")
    return names


def _has_instructions(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("instructions"), str) and bool(body["instructions"])


def _conversation(
    body: Mapping[str, Any], native: dict[str, Any], merged: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What a follow-up continues: the messages after this request's instructions (a
    follow-up brings its own, as OpenAI's API has it), plus the answer."""
    history = native["messages"][1:] if _has_instructions(body) else native["messages"]
    answer = dict(merged.get("message") or {"role": "assistant", "content": ""})
    return [*history, answer]


async def create(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json_object(request)
    history: list[dict[str, Any]] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        if not isinstance(previous, str):
            raise BadRequest("'previous_response_id' must be a string", "previous_response_id")
        try:
            stored = await state.responses.get(previous) if state.responses is not None else None
        except TooLong as exc:
            raise BadRequest(str(exc), "previous_response_id") from None
        if stored is None:
            raise ReplyError(404, f"Previous response with id '{previous}' not found.")
        history = stored
    native = to_native(body, history)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    if native.get("think") and "thinking" not in await model_capabilities(state, native["model"]):
        del native["think"]
    shape = Shape(body, _namespaced(body.get("tools")))
    keep = body.get("store", True) is not False and state.responses is not None

    def finished(merged: dict[str, Any]) -> None:
        if keep and state.responses is not None:
            state.responses.put(shape.id, _conversation(body, native, merged))

    return await generate(
        request,
        native,
        stream,
        ResponseStream(shape),
        lambda merged: shape.response("completed", shape.output(merged), merged),
        finished=finished,
    )


DIALECT = Dialect("responses", openai_error, routes=(Route("POST", "/v1/responses", create),))

__all__ = ["DIALECT", "create"]
