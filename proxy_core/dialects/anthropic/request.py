"""An Anthropic Messages request as a native /api/chat body (to_native)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import BadRequest
from ..functions import native_function, tool_objects
from ..images import base64_image

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


def _tool_use(block: Mapping[str, Any], where: str, names: dict[str, str]) -> dict[str, Any]:
    """A tool call of the assistant's; its id is remembered to name the result later."""
    if not block.get("id") or not block.get("name"):
        raise BadRequest("tool_use blocks need 'id' and 'name'", where)
    names[str(block["id"])] = str(block["name"])
    arguments = block.get("input")
    return {
        "id": str(block["id"]),
        "function": {
            "name": str(block["name"]),
            "arguments": arguments if isinstance(arguments, dict) else {},
        },
    }


def _tool_result(block: Mapping[str, Any], where: str, names: dict[str, str]) -> dict[str, Any]:
    """A tool's result as a native ``tool`` message, named after the call it answers."""
    result_text, result_images = _tool_result_content(block.get("content"), where)
    tool_id = str(block.get("tool_use_id") or "")
    native: dict[str, Any] = {"role": "tool", "content": result_text}
    if result_images:
        native["images"] = result_images
    if tool_id:
        native["tool_call_id"] = tool_id
        if tool_id in names:
            native["tool_name"] = names[tool_id]
    return native


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
            calls.append(_tool_use(block, where, names))
        elif kind == "tool_result":
            results.append(_tool_result(block, where, names))
        elif kind in ("thinking", "redacted_thinking"):
            thinking = str(block.get("thinking") or "")
        elif kind is None:
            raise BadRequest("each content block must be an object with a 'type'", where)
        # other block types (documents, server tools, future ones) are ignored, as Ollama does
    out: list[dict[str, Any]] = []
    if role == "user":
        out.extend(results)  # tool results answer the previous assistant turn: first
    if text or images or calls or thinking:
        native: dict[str, Any] = {"role": role, "content": "".join(text)}
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
    out: list[dict[str, Any]] = []
    for tool in tool_objects(body):
        if str(tool.get("type") or "").startswith("web_search"):
            continue  # no internet behind a local model (README)
        if not isinstance(tool.get("name"), str):
            raise BadRequest("each tool needs a 'name'", "tools")
        out.append(native_function(tool["name"], tool.get("input_schema"), tool.get("description")))
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
