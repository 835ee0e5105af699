"""Function tools as every translated dialect hands them to Ollama: the client's tool list
checked the same way, and each function in native form (``$schema`` dropped: Ollama's
templates do not want it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest
from ..ndjson import NestedTooDeep, loads


def tool_objects(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's ``tools``, each an object; none when it has no tools."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be an array", "tools")
    for tool in tools:
        if not isinstance(tool, dict):
            raise BadRequest("each tool must be an object", "tools")
    return tools


def native_function(name: str, schema: Any, description: Any = None) -> dict[str, Any]:
    """One function tool as Ollama takes it; a missing schema is an object of nothing."""
    parameters = dict(schema) if isinstance(schema, dict) else {"type": "object", "properties": {}}
    parameters.pop("$schema", None)
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if isinstance(description, str):
        function["description"] = description
    return {"type": "function", "function": function}


def call_arguments(raw: Any, where: str) -> dict[str, Any]:
    """An earlier tool call's arguments as Ollama takes them, an object: sent as one, or
    as the JSON text the OpenAI dialects carry (none, or empty text: no arguments)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        raise BadRequest("tool call arguments must be a JSON object's text", where)
    try:
        parsed = loads(raw)
    except NestedTooDeep:
        raise BadRequest("tool call arguments are nested too deeply", where) from None
    except ValueError:
        raise BadRequest("tool call arguments are not valid JSON", where) from None
    if not isinstance(parsed, dict):
        raise BadRequest("tool call arguments must be a JSON object", where)
    return parsed
