"""A Gemini ``generateContent`` request as a native /api/chat body (to_native).

Google's REST API reads proto JSON, which accepts both spellings of every field
(``systemInstruction`` and ``system_instruction``): so does this mapping, through ``field``.
Only the request's own fields are looked up that way, never the inside of a tool's
arguments, a function's response or a schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ...errors import BadRequest
from ..functions import native_function, tool_objects
from ..images import base64_image

_ROLES = {"user": "user", "model": "assistant", "function": "user", "tool": "user"}
_IGNORED_TOOLS = ("googleSearch", "google_search", "googleSearchRetrieval", "codeExecution")
_CAMEL = re.compile(r"[A-Z]")
_STANDARD_ALPHABET = str.maketrans("-_", "+/")


def field(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` in either spelling proto JSON accepts (camelCase or snake_case)."""
    value = obj.get(name)
    if value is None:
        value = obj.get(_CAMEL.sub(lambda m: "_" + m.group(0).lower(), name))
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{where}' must be an object", where)
    return value


# -- contents ---------------------------------------------------------------------------------


def _inline_image(part: Mapping[str, Any], where: str) -> str:
    data = _object(field(part, "inlineData"), where)
    mime = str(field(data, "mimeType") or "")
    if not mime.startswith("image/"):
        raise BadRequest(f"only images can be sent as inlineData here, not {mime!r}", where)
    # proto JSON's bytes may be URL-safe base64 (the Python SDK sends it so); Ollama reads
    # the standard alphabet.
    return base64_image(str(data.get("data") or "").translate(_STANDARD_ALPHABET), where)


def _function_response(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A function's result as a native ``tool`` message: its ``output`` (what Gemini CLI
    sends) or its ``error`` as text, any other response as JSON."""
    result = _object(field(part, "functionResponse"), where)
    name = result.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("functionResponse needs a 'name'", where)
    response = result.get("response")
    if isinstance(response, dict) and set(response) <= {"output", "error"}:
        content = str(response.get("output") or response.get("error") or "")
    else:
        content = json.dumps(response, ensure_ascii=False)
    native: dict[str, Any] = {"role": "tool", "content": content, "tool_name": name}
    if isinstance(result.get("id"), str):
        native["tool_call_id"] = result["id"]
    return native


def _function_call(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    call = _object(field(part, "functionCall"), where)
    if not isinstance(call.get("name"), str) or not call["name"]:
        raise BadRequest("functionCall needs a 'name'", where)
    args = call.get("args")
    native: dict[str, Any] = {
        "function": {"name": call["name"], "arguments": args if isinstance(args, dict) else {}}
    }
    if isinstance(call.get("id"), str):
        native["id"] = call["id"]
    return native


def _content(content: Any, index: int) -> list[dict[str, Any]]:
    """One Content (a turn) as native messages: its function responses first (they answer
    the previous turn), then one message with its text, images, thoughts and calls."""
    where = f"contents[{index}]"
    if not isinstance(content, dict):
        raise BadRequest("each content must be an object", where)
    role = _ROLES.get(str(content.get("role") or "user"))
    if role is None:
        raise BadRequest(f"invalid role {content.get('role')!r}: use 'user' or 'model'", where)
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise BadRequest("'parts' must be an array", f"{where}.parts")
    text: list[str] = []
    thoughts: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            raise BadRequest("each part must be an object", f"{where}.parts")
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else text).append(part["text"])
        elif field(part, "inlineData") is not None:
            images.append(_inline_image(part, where))
        elif field(part, "functionCall") is not None:
            calls.append(_function_call(part, where))
        elif field(part, "functionResponse") is not None:
            results.append(_function_response(part, where))
        elif field(part, "fileData") is not None:
            raise BadRequest("fileData (a file by URI) is not served: send inlineData", where)
        # executableCode, codeExecutionResult, videoMetadata…: nothing a local model reads
    message: dict[str, Any] = {"role": role, "content": "".join(text)}
    if images:
        message["images"] = images
    if calls:
        message["tool_calls"] = calls
    if thoughts and role == "assistant":
        message["thinking"] = "".join(thoughts)
    keep = bool(text or images or calls or (thoughts and role == "assistant"))
    return results + ([message] if keep else [])


def _system(body: Mapping[str, Any]) -> str:
    system = field(body, "systemInstruction")
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, dict) or not isinstance(system.get("parts"), list):
        raise BadRequest("'systemInstruction' must be a content with 'parts'", "systemInstruction")
    return "\n".join(str(p["text"]) for p in system["parts"] if isinstance(p, dict) and "text" in p)


# -- tools ------------------------------------------------------------------------------------


def json_schema(schema: Any) -> Any:
    """Google's OpenAPI subset (``"type": "STRING"``, ``nullable``) as JSON Schema."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: json_schema(s) for name, s in value.items()}
        elif key == "nullable":
            continue
        else:
            out[key] = json_schema(value)
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _declaration(declaration: Any, where: str) -> dict[str, Any]:
    if not isinstance(declaration, dict) or not isinstance(declaration.get("name"), str):
        raise BadRequest("each function declaration needs a 'name'", where)
    schema = field(declaration, "parametersJsonSchema")
    schema = schema if schema is not None else json_schema(declaration.get("parameters"))
    return native_function(declaration["name"], schema, declaration.get("description"))


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tool_objects(body):
        declarations = field(tool, "functionDeclarations")
        if declarations is None:
            if any(name in tool for name in _IGNORED_TOOLS):
                continue  # no search or code sandbox behind a local model (README)
            raise BadRequest("each tool needs 'functionDeclarations'", "tools")
        if not isinstance(declarations, list):
            raise BadRequest("'functionDeclarations' must be an array", "tools")
        out.extend(_declaration(d, "tools.functionDeclarations") for d in declarations)
    tool_config = _object(field(body, "toolConfig"), "toolConfig")
    config = _object(field(tool_config, "functionCallingConfig"), "functionCallingConfig")
    mode = str(config.get("mode") or "AUTO").upper()
    if mode == "NONE":
        return []
    allowed = field(config, "allowedFunctionNames")
    if mode in ("ANY", "VALIDATED") and isinstance(allowed, list) and allowed:
        out = [t for t in out if t["function"]["name"] in allowed]  # Ollama cannot force one
    return out


# -- generationConfig -------------------------------------------------------------------------

_OPTIONS = (  # (Google's name, native option, type)
    ("temperature", "temperature", (int, float)),
    ("topP", "top_p", (int, float)),
    ("topK", "top_k", (int, float)),
    ("maxOutputTokens", "num_predict", int),
    ("seed", "seed", int),
    ("presencePenalty", "presence_penalty", (int, float)),
    ("frequencyPenalty", "frequency_penalty", (int, float)),
)


def _options(config: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, native, kind in _OPTIONS:
        value = field(config, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadRequest(f"'generationConfig.{name}' must be a number", name)
        options[native] = int(value) if native == "top_k" else value
    stops = field(config, "stopSequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise BadRequest("'stopSequences' must be an array of strings", "stopSequences")
        if stops:
            options["stop"] = stops
    count = field(config, "candidateCount")
    if count not in (None, 1):
        raise BadRequest(
            "only one candidate can be generated ('candidateCount': 1)", "candidateCount"
        )
    return options


def _format(config: Mapping[str, Any]) -> Any:
    schema = field(config, "responseJsonSchema")
    if schema is None and field(config, "responseSchema") is not None:
        schema = json_schema(field(config, "responseSchema"))
    if isinstance(schema, dict):
        return schema
    if field(config, "responseMimeType") == "application/json":
        return "json"
    return None


def _think(config: Mapping[str, Any]) -> bool | str | None:
    thinking = _object(field(config, "thinkingConfig"), "thinkingConfig")
    if not thinking:
        return None
    level = field(thinking, "thinkingLevel")
    if isinstance(level, str) and level.lower() in ("low", "medium", "high"):
        return level.lower()
    budget = field(thinking, "thinkingBudget")
    if budget == 0:
        return False
    if field(thinking, "includeThoughts") is True or (isinstance(budget, int) and budget != 0):
        return True
    return None


def to_native(model: str, body: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("'contents' must be a non-empty array", "contents")
    messages: list[dict[str, Any]] = []
    system = _system(body)
    if system:
        messages.append({"role": "system", "content": system})
    for index, content in enumerate(contents):
        messages.extend(_content(content, index))
    config = _object(field(body, "generationConfig"), "generationConfig")
    native: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    options = _options(config)
    if options:
        native["options"] = options
    tools = _tools(body)
    if tools:
        native["tools"] = tools
    output = _format(config)
    if output is not None:
        native["format"] = output
    think = _think(config)
    if think is not None:
        native["think"] = think
    return native
