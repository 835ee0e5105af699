"""OpenAI Responses (Codex CLI, the OpenAI SDKs' ``responses.create``) translated to native
``/api/chat``, as Ollama's own ``/v1/responses`` maps it (openai/responses.go), plus:

* ``previous_response_id`` works: unless a request says ``store: false``, the proxy keeps
  each response's conversation (``response_store.py``) and a follow-up continues it;
* ``namespace`` tools are flattened to ``namespace.name`` for the model and a call of one
  comes back as ``name`` with its ``namespace``;
* ``web_search`` tools are dropped: a local model has no internet (README);
* ``num_ctx`` defaults, the shared cache, metrics, like every other dialect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ...capabilities import model_capabilities
from ...errors import BadRequest, ReplyError
from ...state import STATE
from ..base import Dialect, Route
from ..kit import generate, read_json_object
from ..response_store import TooLong
from ..shapes import openai_error
from .request import has_instructions, to_native
from .stream import ResponseStream, Shape


def _namespaced(tools: Any) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "namespace" and tool.get("name"):
            for member in tool.get("tools") or []:
                if isinstance(member, dict) and isinstance(member.get("name"), str):
                    names.add(f"{tool['name']}.{member['name']}")
    return names


def _conversation(
    body: Mapping[str, Any], native: dict[str, Any], merged: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What a follow-up continues: the messages after this request's instructions (a
    follow-up brings its own, as OpenAI's API has it), plus the answer."""
    history = native["messages"][1:] if has_instructions(body) else native["messages"]
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
