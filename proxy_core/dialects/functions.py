"""Function tools as every translated dialect hands them to Ollama: the client's tool list
checked the same way, and each function in native form (``$schema`` dropped: Ollama's
templates do not want it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest


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
