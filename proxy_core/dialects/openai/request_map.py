"""OpenAI request bodies -> native Ollama bodies. Pure functions; bad input raises BadRequest.

Only what the client sent is mapped (no invented defaults), so an OpenAI request and the
equivalent native request share one cache key, and the model's own defaults still apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import BadRequest
from ..functions import call_arguments
from ..images import data_uri_image

_EFFORT = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "xhigh": "max",
    "ultra": "max",
}
_ROLES = ("system", "developer", "user", "assistant", "tool")


def require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("you must provide a model parameter", "model")
    return model


def _number(body: Mapping[str, Any], name: str, *, integer: bool = False) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{name}' must be a number", name)
    if integer and not isinstance(value, int):
        raise BadRequest(f"'{name}' must be an integer", name)
    return value


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise BadRequest("'stop' must be a string or a list of strings", "stop")


def sampling_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI sampling fields and the native ``options`` passthrough, merged."""
    options: dict[str, Any] = {}
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = _number(body, name)
        if value is not None:
            options[name] = value
    seed = _number(body, "seed", integer=True)
    if seed is not None:
        options["seed"] = seed
    limit = _number(body, "max_completion_tokens", integer=True)
    if limit is None:
        limit = _number(body, "max_tokens", integer=True)
    if limit is not None:
        options["num_predict"] = limit
    stop = _stop(body.get("stop"))
    if stop:
        options["stop"] = stop
    extra = body.get("options")
    if extra is not None:
        if not isinstance(extra, dict):
            raise BadRequest("'options' must be an object of Ollama options", "options")
        options.update(extra)
    return options


def _passthrough(body: Mapping[str, Any], native: dict[str, Any]) -> None:
    if "keep_alive" in body and body["keep_alive"] is not None:
        keep = body["keep_alive"]
        if isinstance(keep, bool) or not isinstance(keep, int | float | str):
            raise BadRequest("'keep_alive' must be a number of seconds or a duration", "keep_alive")
        native["keep_alive"] = keep


def _image(part: Mapping[str, Any], index: int) -> str:
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    return data_uri_image(url, f"messages[{index}].content")


def _content_parts(content: Any, index: int) -> list[dict[str, Any]]:
    """A message's content as native message bodies, the way Ollama's own /v1 maps it:
    a string is one message; an array gives one message per part (a text part its
    ``content``, an image part its ``images``), never parts glued together."""
    if content is None:
        return [{"content": ""}]
    if isinstance(content, str):
        return [{"content": content}]
    if not isinstance(content, list):
        raise BadRequest(
            "message content must be a string or an array of parts", f"messages[{index}].content"
        )
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append({"content": part})
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text") and isinstance(part.get("text"), str):
            parts.append({"content": part["text"]})
        elif kind == "image_url":
            parts.append({"content": "", "images": [_image(part, index)]})
        else:
            raise BadRequest(
                f"unsupported content part type {kind!r}", f"messages[{index}].content"
            )
    return parts or [{"content": ""}]


def _tool_calls(calls: Any, index: int) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise BadRequest("'tool_calls' must be an array", f"messages[{index}].tool_calls")
    out = []
    for n, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("tool call needs function.name", f"messages[{index}].tool_calls")
        args = call_arguments(fn.get("arguments"), f"messages[{index}].tool_calls")
        native: dict[str, Any] = {"function": {"index": n, "name": fn["name"], "arguments": args}}
        if isinstance(call.get("id"), str):
            native["id"] = call["id"]
        out.append(native)
    return out


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    out: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest("each message must be an object", f"messages[{index}]")
        role = message.get("role")
        if not isinstance(role, str) or role.lower() not in _ROLES:
            raise BadRequest(f"invalid role {role!r}", f"messages[{index}].role")
        role = "system" if role.lower() == "developer" else role.lower()
        *leading, last = _content_parts(message.get("content"), index)
        out.extend({"role": role, **part} for part in leading)
        # Thinking, tool calls and tool names go on the message's last part (as Ollama).
        native: dict[str, Any] = {"role": role, **last}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            native["thinking"] = reasoning
        if message.get("tool_calls"):
            native["tool_calls"] = _tool_calls(message["tool_calls"], index)
            for call, raw in zip(native["tool_calls"], message["tool_calls"], strict=True):
                if isinstance(raw.get("id"), str):
                    call_names[raw["id"]] = call["function"]["name"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            name = message.get("name") or call_names.get(str(call_id))
            if name:
                native["tool_name"] = name
            if isinstance(call_id, str):
                native["tool_call_id"] = call_id
        out.append(native)
    return out


def _tools(body: Mapping[str, Any]) -> list[Any] | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
        for t in tools
    ):
        raise BadRequest("'tools' must be an array of function tools", "tools")
    for index, tool in enumerate(tools):
        parameters = tool["function"].get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            where = f"tools[{index}].function.parameters"
            raise BadRequest(f"'{where}' must be a JSON Schema object", where)
    choice = body.get("tool_choice")
    if choice == "none":
        return None
    if isinstance(choice, dict):
        # A forced function: Ollama cannot force a call, so offer only that tool.
        wanted = (choice.get("function") or {}).get("name")
        chosen = [t for t in tools if t["function"]["name"] == wanted]
        if not chosen:
            raise BadRequest(f"tool_choice names unknown function {wanted!r}", "tool_choice")
        return chosen
    return tools or None


def _format(body: Mapping[str, Any]) -> Any:
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise BadRequest(
                "response_format.json_schema.schema must be an object", "response_format"
            )
        return schema
    raise BadRequest(
        "response_format.type must be text, json_object or json_schema", "response_format"
    )


def _think(body: Mapping[str, Any]) -> Any:
    effort = body.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        effort = reasoning["effort"]
    if effort is None:
        return body.get("think")
    if not isinstance(effort, str) or effort not in _EFFORT:
        raise BadRequest(f"invalid reasoning value: {effort!r}", "reasoning_effort")
    return _EFFORT[effort]


def chat_request(body: Mapping[str, Any]) -> dict[str, Any]:
    native: dict[str, Any] = {
        "model": require_model(body),
        "messages": chat_messages(body.get("messages")),
    }
    tools = _tools(body)
    if tools:
        native["tools"] = tools
    fmt = _format(body)
    if fmt is not None:
        native["format"] = fmt
    think = _think(body)
    if think is not None:
        native["think"] = think
    options = sampling_options(body)
    if options:
        native["options"] = options
    _passthrough(body, native)
    native["stream"] = body.get("stream") is True  # Ollama is asked for what the client asked
    return native


def completion_request(body: Mapping[str, Any]) -> dict[str, Any]:
    model = require_model(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise BadRequest(
                "'prompt' must be a string or a list with exactly one string", "prompt"
            )
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string", "prompt")
    if body.get("echo"):
        raise BadRequest("'echo' is not supported", "echo")
    n = body.get("n")
    if n not in (None, 1):
        raise BadRequest("only n=1 is supported", "n")
    native: dict[str, Any] = {"model": model, "prompt": prompt}
    suffix = body.get("suffix")
    if suffix is not None:
        if not isinstance(suffix, str):
            raise BadRequest("'suffix' must be a string", "suffix")
        if suffix:
            native["suffix"] = suffix
    for name in ("system", "raw", "template"):
        if body.get(name) is not None:
            native[name] = body[name]
    options = sampling_options(body)
    if options:
        native["options"] = options
    _passthrough(body, native)
    native["stream"] = body.get("stream") is True
    return native


def embedding_request(body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    model = require_model(body)
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise BadRequest("'input' must be a string or a non-empty array of strings", "input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    native: dict[str, Any] = {"model": model, "input": inputs}
    dims = body.get("dimensions")
    if dims is not None:
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise BadRequest("'dimensions' must be a positive integer", "dimensions")
        native["dimensions"] = dims
    _passthrough(body, native)
    return native, encoding
