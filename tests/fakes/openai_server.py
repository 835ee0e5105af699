"""A small OpenAI-compatible server, as llama.cpp's ``llama-server``, LM Studio or vLLM
answer (test double for proxy_core/engines/openai_compat.py): ``/v1/models``,
``/v1/chat/completions`` (whole or SSE, with tool calls), ``/v1/completions`` (with
``suffix``), ``/v1/embeddings`` and llama-server's ``/infill``. Replies are deterministic
and say what they were asked, so tests can check the translation both ways.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from aiohttp import web

FAKE = web.AppKey("fake_openai", "FakeState")
BODY = web.RequestKey("fake_body", dict)


@dataclasses.dataclass
class FakeState:
    models: tuple[str, ...] = ("qwen2.5-coder-7b-instruct", "nomic-embed-text-v1.5")
    infill: bool = True  # llama-server has /infill; LM Studio and vLLM do not
    tool_call: dict[str, Any] | None = None  # the next chat answers with this call
    api_key: str = ""
    n_ctx: int = 4096  # llama-server's -c
    fim_tokens: bool = True  # the model has fill-in-the-middle tokens (/infill works)
    fail: tuple[int, str] | None = None  # the next chat answers with this error
    # The next generation or embedding answers 200 with this (a server's bug): whole, or
    # as the one event of a stream.
    broken: Any = None
    requests: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for seen, body in self.requests if seen == path]


def _usage(prompt: str, text: str) -> dict[str, int]:
    return {
        "prompt_tokens": len(prompt.split()),
        "completion_tokens": len(text.split()),
        "total_tokens": len(prompt.split()) + len(text.split()),
    }


@web.middleware
async def _record(request: web.Request, handler: Any) -> web.StreamResponse:
    state: FakeState = request.app[FAKE]
    if state.api_key and request.headers.get("Authorization") != f"Bearer {state.api_key}":
        return web.json_response({"error": {"message": "invalid api key"}}, status=401)
    body = await request.json() if request.can_read_body else {}
    state.requests.append((request.path, body))
    request[BODY] = body
    if state.broken is not None and request.method == "POST":
        return await _broken(request, body)
    return await handler(request)


async def _broken(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    state: FakeState = request.app[FAKE]
    answer, state.broken = state.broken, None
    if not body.get("stream"):
        return web.json_response(answer)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(b"data: " + json.dumps(answer).encode() + b"\n\ndata: [DONE]\n\n")
    await resp.write_eof()
    return resp


def _unknown(state: FakeState, model: str) -> web.Response | None:
    if model in state.models:
        return None
    return web.json_response(
        {"error": {"message": f"model '{model}' not found", "type": "invalid_request_error"}},
        status=404,
    )


async def models(request: web.Request) -> web.Response:
    state: FakeState = request.app[FAKE]
    data = [
        {"id": m, "object": "model", "created": 1730000000, "owned_by": "me"} for m in state.models
    ]
    return web.json_response({"object": "list", "data": data})


async def chat(request: web.Request) -> web.StreamResponse:
    state: FakeState = request.app[FAKE]
    body = request[BODY]
    refused = _unknown(state, body.get("model", ""))
    if refused is not None:
        return refused
    if state.fail is not None:
        (status, message), state.fail = state.fail, None
        return web.json_response({"error": {"message": message}}, status=status)
    last = body["messages"][-1]
    content = last["content"] if isinstance(last["content"], str) else "parts"
    text = f"echo: {content}"
    call, state.tool_call = state.tool_call, None
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": None if call else text}
        if call:
            message["tool_calls"] = [
                {"id": "call_1", "type": "function",
                 "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}
            ]  # fmt: skip
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": message,
                     "finish_reason": "tool_calls" if call else "stop"}
                ],
                "usage": _usage(content, text),
            }
        )  # fmt: skip
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)

    async def send(chunk: dict[str, Any]) -> None:
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"]}
    if call:
        arguments = json.dumps(call["arguments"])
        for part, piece in enumerate((arguments[:5], arguments[5:])):  # split, as servers do
            function = {"arguments": piece, **({"name": call["name"]} if part == 0 else {})}
            await send({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": function}
            ]}, "finish_reason": None}]})  # fmt: skip
        finish = "tool_calls"
    else:
        for word in text.split(" "):
            await send({**base, "choices": [{"index": 0, "delta": {"content": word + " "},
                                              "finish_reason": None}]})  # fmt: skip
        finish = "stop"
    await send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if body.get("stream_options", {}).get("include_usage"):
        await send({**base, "choices": [], "usage": _usage(content, text)})
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def completions(request: web.Request) -> web.StreamResponse:
    state: FakeState = request.app[FAKE]
    body = request[BODY]
    refused = _unknown(state, body.get("model", ""))
    if refused is not None:
        return refused
    text = f"<completion between {body['prompt']!r} and {body.get('suffix', '')!r}>"
    finish = "stop"
    limit = body.get("max_tokens")  # a word is a token here; past the limit: "length"
    if isinstance(limit, int) and len(text.split(" ")) > limit:
        text, finish = " ".join(text.split(" ")[:limit]), "length"
    if body.get("stream"):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "cmpl-1", "object": "text_completion", "model": body["model"]}
        for word in text.split(" "):
            choice = {"index": 0, "text": word + " ", "finish_reason": None}
            await resp.write(
                b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n"
            )
        end = {**base, "choices": [{"index": 0, "text": "", "finish_reason": finish}]}
        await resp.write(b"data: " + json.dumps(end).encode() + b"\n\n")
        usage = {**base, "choices": [], "usage": _usage(body["prompt"], text)}
        await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp
    return web.json_response(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "model": body["model"],
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": _usage(body["prompt"], text),
        }
    )


async def props(request: web.Request) -> web.Response:
    """llama-server's /props: the context every slot runs with (fixed at its start)."""
    state: FakeState = request.app[FAKE]
    if not state.infill:  # LM Studio and vLLM have no /props
        return web.json_response({"error": "not found"}, status=404)
    return web.json_response({"default_generation_settings": {"n_ctx": state.n_ctx}})


async def infill(request: web.Request) -> web.Response:
    state: FakeState = request.app[FAKE]
    if not state.infill:
        raise web.HTTPNotFound()
    if not state.fim_tokens:  # llama-server's answer for a model without FIM tokens
        error = {
            "code": 501,
            "type": "not_supported_error",
            "message": "Infill is not supported by this model: prefix token is missing.",
        }
        return web.json_response({"error": error}, status=501)  # fmt: skip
    body = request[BODY]
    text = f"<infill between {body['input_prefix']!r} and {body['input_suffix']!r}>"
    return web.json_response({"content": text, "tokens_predicted": 5, "tokens_evaluated": 7})


async def embeddings(request: web.Request) -> web.Response:
    state: FakeState = request.app[FAKE]
    body = request[BODY]
    refused = _unknown(state, body.get("model", ""))
    if refused is not None:
        return refused
    given = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [
        {"object": "embedding", "index": n, "embedding": [float(len(text)), 0.5, -0.5]}
        for n, text in enumerate(given)
    ]
    return web.json_response({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 3, "total_tokens": 3}})  # fmt: skip


def create_app(state: FakeState | None = None) -> web.Application:
    app = web.Application(middlewares=[_record])
    app[FAKE] = state or FakeState()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/infill", infill)
    app.router.add_get("/props", props)
    return app
