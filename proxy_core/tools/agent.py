"""The agent loop: ``agent/<model>`` runs the built-in tools for the model, in any dialect.

The loop adds the tool schemas to the conversation, asks Ollama (each step through
``generation.open_reply``, so profiles, lanes and metrics apply, and never the cache: a
turn in which a tool ran is not an answer to store), runs the built-in calls of a reply
concurrently through the engine (policy, approval, sandbox, audit), appends the results
and asks again, until the model answers without built-in calls, calls a tool of the
client's (returned to the client as usual), or reaches the step limit.

What it yields is a native reply, as if Ollama had sent it, so every dialect renders it
unchanged: text as it streams, and each tool action as ``thinking`` (OpenAI: reasoning
content; Anthropic: thinking blocks). A client that asked for no stream gets one merged
object. Built-in calls made in the same reply as a client tool run, and are reported as
thinking, but their results do not reach the client's copy of the conversation.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..cache import RouteKind
from ..capabilities import model_capabilities
from ..clients import recognise
from ..errors import Unauthorized
from ..generation import BYPASS, Reply, open_reply
from ..ndjson import dumps, iter_lines, merge_chunks, native_error_message, object_or_none
from ..state import ProxyState

if TYPE_CHECKING:
    from .engine import ToolEngine, ToolResult

PREFIX = "agent/"
MAX_STEPS = 8
_NO_CACHE = "no-store, no-cache"  # a step is never looked up nor stored


def agent_model(model: object) -> str | None:
    """The real model behind ``agent/<model>``, or None for any other name."""
    if isinstance(model, str) and model.startswith(PREFIX) and len(model) > len(PREFIX):
        return model[len(PREFIX) :]
    return None


class AgentStage:
    """The front stage of the generation pipeline (registered by the service): a chat
    for ``agent/<model>`` while the tools are on is the loop's; anything else is not."""

    @staticmethod
    def _real_model(state: ProxyState, kind: RouteKind, body: dict[str, Any] | None) -> str | None:
        if kind != "chat" or state.tools is None or body is None:
            return None
        return agent_model(body.get("model"))

    def claims(self, state: ProxyState, kind: RouteKind, body: dict[str, Any] | None) -> bool:
        return self._real_model(state, kind, body) is not None

    async def __call__(
        self,
        state: ProxyState,
        kind: RouteKind,
        body: dict[str, Any] | None,
        client_headers: Mapping[str, str],
    ) -> AbstractAsyncContextManager[Reply] | None:
        real = self._real_model(state, kind, body)
        if real is None or body is None:
            return None
        _require_token_for_tools(state, client_headers)
        # A model without tools is answered as Ollama answers an unknown name.
        if "tools" not in await model_capabilities(state, real):
            return None
        return agent_reply(state, body, client_headers)


agent_stage = AgentStage()


def _require_token_for_tools(state: ProxyState, client_headers: Mapping[str, str]) -> None:
    """``agent/<model>`` runs programs and writes files: like ``/mcp`` it needs the access
    token always, even on loopback, where any local process or ``http://localhost:*`` page
    could otherwise drive it."""
    sent = {name.lower(): value for name, value in client_headers.items()}
    if not state.policy.token_ok(sent.get("authorization"), sent.get("x-api-key"), always=True):
        raise Unauthorized(
            "agent models run the workspace tools and need the access token always: send "
            "Authorization: Bearer <token> (the token is in the tray's Settings)"
        )


@asynccontextmanager
async def agent_reply(
    state: ProxyState, body: dict[str, Any], client_headers: Mapping[str, str]
) -> AsyncIterator[Reply]:
    assert state.tools is not None
    stream = body.get("stream", True) is not False
    loop = _Loop(state, state.tools, body, client_headers, stream)
    content_type = "application/x-ndjson" if stream else "application/json; charset=utf-8"
    yield Reply(200, {"Content-Type": content_type}, BYPASS, chunks=loop.run())


@dataclasses.dataclass
class _Step:
    """What one step of the loop collected from the model's reply."""

    content: list[str] = dataclasses.field(default_factory=list)
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    final: dict[str, Any] | None = None
    failed: bool = False  # an error was told to the client: the turn ends


@dataclasses.dataclass
class _Loop:
    state: ProxyState
    engine: ToolEngine
    body: dict[str, Any]
    client_headers: Mapping[str, str]
    stream: bool
    emitted: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    async def run(self) -> AsyncIterator[bytes]:
        model = agent_model(self.body.get("model")) or ""
        builtin = {spec["function"]["name"] for spec in self.engine.specs}
        client_tools = [t for t in self.body.get("tools") or [] if _tool_name(t) not in builtin]
        client_names = {_tool_name(t) for t in client_tools}
        messages = list(self.body.get("messages") or [])
        headers = {**self.client_headers, "Cache-Control": _NO_CACHE}
        step_body: dict[str, Any] = {
            **self.body,
            "model": model,
            "tools": client_tools + self.engine.specs,
            "stream": True,
        }
        for step in range(1, MAX_STEPS + 1):
            step_body["messages"] = messages
            got = _Step()
            async for out in self._ask(step_body, headers, got):
                yield out
            if got.failed:
                return
            if got.final is None:
                yield self._line({"error": "Ollama ended the reply before it was complete"})
                return
            # The client's own tools go back to it; anything else (built-in, or a name no
            # one defined) goes to the engine, whose answer the model reads.
            theirs = [c for c in got.calls if _call_name(c) in client_names]
            mine = [c for c in got.calls if _call_name(c) not in client_names]
            if mine:
                results = await self.engine.call_many(
                    [(_call_name(c), _call_arguments(c)) for c in mine],
                    origin="agent",
                    client=recognise(self.client_headers),
                )
                progress = self._progress(model, mine, results)
                if self.stream:
                    yield self._line(progress)
                else:
                    self.emitted.append(progress)
                messages = [
                    *messages,
                    {"role": "assistant", "content": "".join(got.content), "tool_calls": mine},
                    *({"role": "tool", "content": r.text, "tool_name": r.tool} for r in results),
                ]
            if theirs or not mine:
                self.state.metrics.agent_turn(step)
                yield self._final(self._answer(got.final, theirs))
                return
        self.state.metrics.agent_turn(MAX_STEPS)
        yield self._final(
            {
                "model": self.body.get("model"),
                "created_at": _now(),
                "message": {
                    "role": "assistant",
                    "content": f"[agent: stopped after {MAX_STEPS} steps of tool use]",
                },
                "done": True,
                "done_reason": "stop",
            }
        )

    async def _ask(
        self, step_body: dict[str, Any], headers: Mapping[str, str], got: _Step
    ) -> AsyncIterator[bytes]:
        """One step: the model's reply relayed as it streams (text and thinking; tool
        calls collected into ``got``); an error ends the turn (``got.failed``)."""
        async with open_reply(self.state, "chat", dumps(step_body), step_body, headers) as up:
            if up.status != 200:
                raw = b"".join([c async for c in up.chunks]) if up.chunks else b""
                got.failed = True
                yield self._line({"error": native_error_message(up.status, raw)})
                return
            assert up.chunks is not None
            async for line in iter_lines(up.chunks, self.state.settings.max_line_bytes):
                native = object_or_none(line)
                if native is None:
                    continue
                if "error" in native:
                    got.failed = True
                    yield self._line(native)
                    return
                message = native.get("message") or {}
                got.calls.extend(message.get("tool_calls") or [])
                got.content.append(str(message.get("content") or ""))
                if native.get("done"):
                    got.final = native
                elif message.get("content") or message.get("thinking"):
                    out = dict(native)
                    out["message"] = {k: v for k, v in message.items() if k != "tool_calls"}
                    if self.stream:
                        yield self._line(out)
                    else:
                        self.emitted.append(out)

    def _answer(self, final: dict[str, Any], theirs: list[dict[str, Any]]) -> dict[str, Any]:
        """The turn's last line: the model's, with only the client's own tool calls."""
        done = dict(final)
        message = dict(done.get("message") or {"role": "assistant"})
        message.pop("tool_calls", None)
        if theirs:
            message["tool_calls"] = theirs
        done["message"] = message
        done["model"] = self.body.get("model")
        return done

    def _progress(
        self, model: str, calls: list[dict[str, Any]], results: list[ToolResult]
    ) -> dict[str, Any]:
        lines = []
        for call, result in zip(calls, results, strict=True):
            first = result.text.splitlines()[0] if result.text else ""
            lines.append(f"[tool] {_call_name(call)}: {result.outcome} ({first[:120]})\n")
        return {
            "model": self.body.get("model"),
            "created_at": _now(),
            "message": {"role": "assistant", "content": "", "thinking": "".join(lines)},
            "done": False,
        }

    def _line(self, obj: dict[str, Any]) -> bytes:
        if "model" in obj and not obj.get("error"):
            obj = {**obj, "model": self.body.get("model")}
        return dumps(obj) + b"\n"

    def _final(self, done: dict[str, Any]) -> bytes:
        if self.stream:
            return self._line(done)
        merged = merge_chunks([*self.emitted, done])
        merged["model"] = self.body.get("model")
        return dumps(merged)


def _tool_name(tool: Any) -> str:
    function = tool.get("function") if isinstance(tool, dict) else None
    return str(function.get("name")) if isinstance(function, dict) else ""


def _call_name(call: Any) -> str:
    return _tool_name(call)


def _call_arguments(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    return function.get("arguments") if isinstance(function, dict) else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
