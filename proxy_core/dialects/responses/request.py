"""A Responses request as a native /api/chat body (to_native), its shapes checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import BadRequest
from ..functions import call_arguments
from ..images import data_uri_image

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
                "function": {
                    "name": name,
                    "arguments": call_arguments(item.get("arguments"), where),
                },
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


def has_instructions(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("instructions"), str) and bool(body["instructions"])


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
    if has_instructions(body):
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
    if effort is not None and not isinstance(effort, str):
        raise BadRequest("'reasoning.effort' must be a string", "reasoning.effort")
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
