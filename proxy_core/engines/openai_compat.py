"""An OpenAI-compatible server as an engine (llama-server, LM Studio, vLLM) speaking
Ollama's native API to the rest of the proxy: each native request becomes the server's
OpenAI request and its answer the reply Ollama would have sent (openai_wire.py maps
both). Chat (tools, images, format), generate (fill in the middle through llama-server's
``/infill`` where it has it, else the completions ``suffix``), embed, the listings and
``/api/show`` with what the server reports; anything else is a clear 404."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Unpack

import aiohttp

from ..errors import reading_reply
from ..ndjson import dumps, loads
from .base import Engine, EngineOptions
from .connection import PoolReply
from .openai_wire import (
    FINISH,
    FIXED_CONTEXT_KEY,
    JSON,
    NDJSON,
    TranslatedReply,
    as_text,
    chat_answer,
    chat_request,
    copy_options,
    error_message,
    error_reply,
    native_calls,
    native_line,
    native_model,
    now_iso,
    parse_json,
    read_as_answer,
    refused_reply,
    sse_events,
    usage_counts,
)


class OpenAICompatEngine(Engine):
    """``base_url`` is the server's root (``/v1`` is added); ``prefix`` (``name/``) is how
    its models are listed when another engine serves the same name."""

    kind = "openai"
    translating = True

    def __init__(self, base_url: str, **options: Unpack[EngineOptions]) -> None:
        super().__init__(base_url.rstrip("/").removesuffix("/v1"), **options)
        self.has_infill: bool | None = None  # llama-server's /infill; learnt on first use
        # The context the server runs with (llama-server's /props); None elsewhere. The
        # server fixes it at start: a request's num_ctx cannot change it.
        self.context: int | None = None
        self._infill_models: dict[str, bool] = {}  # model -> it can fill in the middle

    @property
    def who(self) -> str:
        return (
            f"the OpenAI-compatible server {self.name!r}"
            if self.name
            else ("the OpenAI-compatible server")
        )

    def _model(self, body: Mapping[str, Any]) -> str:
        model = str(body.get("model") or "")
        return model.removeprefix(self.prefix) if self.prefix else model

    # the HTTP side ----------------------------------------------------------------------------
    async def _post(self, path: str, payload: Mapping[str, Any]) -> tuple[int, Any]:
        try:
            async with self.session.post(self.base_url + path, json=payload) as resp:
                raw = await resp.read()
                return resp.status, parse_json(raw)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc

    async def _get(self, path: str) -> tuple[int, Any]:
        try:
            async with self.session.get(self.base_url + path) as resp:
                return resp.status, parse_json(await resp.read())
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc

    async def _stream(
        self,
        path: str,
        request: Mapping[str, Any],
        lines: Callable[[aiohttp.ClientResponse, str, float], AsyncIterator[bytes]],
        model: str,
        started: float,
    ) -> TranslatedReply:
        """A server-sent-events reply as native NDJSON made by ``lines``; closing the
        reply closes the server's response (the server stops generating)."""
        try:
            resp = await self.session.post(self.base_url + path, json=request)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc
        if resp.status != 200:
            raw = await resp.read()
            resp.release()
            return error_reply(resp.status, error_message(parse_json(raw), resp.status))
        source = read_as_answer(lines(resp, model, started), self.who)
        return TranslatedReply(200, NDJSON, None, source, resp.close)

    # UpstreamClient's interface, in native form ---------------------------------------------
    async def fetch(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> PoolReply:
        path = path_qs.split("?", 1)[0]
        body = parse_json(data) if data else {}
        if not isinstance(body, dict):
            return error_reply(400, "the request body must be a JSON object")
        started = time.perf_counter()
        if method in ("GET", "HEAD") and path == "/":  # how Ollama's clients probe a host
            return TranslatedReply(200, "text/plain; charset=utf-8", b"Ollama is running")
        if method == "GET" and path == "/api/version":
            return TranslatedReply(200, JSON, dumps({"version": "openai-compatible"}))
        if method == "GET" and path == "/api/tags":
            return await self._tags()
        if method == "GET" and path == "/api/ps":
            return await self._loaded()
        if method == "POST" and path == "/api/show":
            return await self._show(body)
        if method == "POST" and path == "/api/chat":
            return await self._chat(body, started)
        if method == "POST" and path == "/api/generate":
            return await self._generate(body, started)
        if method == "POST" and path in ("/api/embed", "/api/embeddings"):
            return await self._embed(body, legacy=path == "/api/embeddings")
        return error_reply(404, f"{path} is not available from an OpenAI-compatible server")

    # routes -------------------------------------------------------------------------------
    async def _fills_in(self, model: str) -> bool:
        """Whether llama-server can fill in the middle with this model (its vocabulary has
        FIM tokens): asked once per model with an empty /infill, which a model without
        them refuses (501) before generating anything. A server without /infill (404)
        is remembered as such."""
        known = self._infill_models.get(model)
        if known is None:
            payload = {"input_prefix": "", "input_suffix": "", "n_predict": 0, "stream": False}
            status, _ = await self._post("/infill", payload)
            if status == 404:
                self.has_infill = False
            known = status != 501
            self._infill_models[model] = known
        return known

    async def _learn_context(self) -> None:
        status, props = await self._get("/props")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        if status == 200 and isinstance(n_ctx, int) and n_ctx > 0:
            self.context = n_ctx

    async def _tags(self, *, learn_context: bool = True) -> TranslatedReply:
        """/api/tags from /v1/models, and the server's context from /props (a health poll
        asks /api/tags then /api/ps: the second does not ask /props again)."""
        status, listed = await self._get("/v1/models")
        if status != 200 or not isinstance(listed, dict):
            return refused_reply(status, listed)
        if learn_context:
            await self._learn_context()
        models = [
            native_model(entry, self.context)
            for entry in listed.get("data") or []
            if isinstance(entry, dict) and entry.get("id")
        ]
        return TranslatedReply(200, JSON, dumps({"models": models}))

    async def _loaded(self) -> TranslatedReply:
        """/api/ps: llama-server (the one with /props: a context is known) loads its model
        at start, so what it lists is loaded; elsewhere (LM Studio lists what is on disk)
        nothing is claimed."""
        if self.context is None:
            return TranslatedReply(200, JSON, dumps({"models": []}))
        listed = await self._tags(learn_context=False)
        models = loads(listed.body or b"{}").get("models") if listed.status == 200 else None
        running = [
            {**model, "size_vram": 0, "expires_at": "0001-01-01T00:00:00Z"}
            for model in models or []
        ]
        return TranslatedReply(200, JSON, dumps({"models": running}))

    async def _show(self, body: Mapping[str, Any]) -> TranslatedReply:
        model = self._model(body) or self._model({"model": body.get("name")})
        status, listed = await self._get("/v1/models")
        ids = {m.get("id") for m in (listed or {}).get("data") or [] if isinstance(m, dict)}
        if status != 200 or model not in ids:
            return error_reply(404, f"model '{model}' not found")
        capabilities = ["completion"]
        fills_in = await self._fills_in(model)  # learns has_infill too (404: no /infill)
        if self.has_infill is not False and fills_in:
            capabilities.append("insert")
        if self.context is None:  # the poller's /api/tags keeps a known one fresh
            await self._learn_context()
        info: dict[str, Any] = {}
        if self.context:  # where Ollama's clients read it, marked as the server's to fix
            info = {
                "general.architecture": "llama.cpp",
                "llama.cpp.context_length": self.context,
                FIXED_CONTEXT_KEY: True,
            }
        return TranslatedReply(
            200,
            JSON,
            dumps(
                {
                    "modelfile": "",
                    "parameters": "",
                    "template": "",
                    "details": {"format": "", "family": "", "parameter_size": ""},
                    "model_info": info,
                    "capabilities": capabilities,
                }
            ),
        )

    async def _chat(self, body: Mapping[str, Any], started: float) -> TranslatedReply:
        model = str(body.get("model") or "")
        request = chat_request(body, self._model(body))
        if not request["stream"]:
            status, answer = await self._post("/v1/chat/completions", request)
            if status != 200 or not isinstance(answer, dict):
                return refused_reply(status, answer)
            with reading_reply(self.who):
                native = chat_answer(answer, model, time.perf_counter() - started)
            return TranslatedReply(200, JSON, dumps(native))
        return await self._stream("/v1/chat/completions", request, self._chat_lines, model, started)

    async def _chat_lines(
        self, resp: aiohttp.ClientResponse, model: str, started: float
    ) -> AsyncIterator[bytes]:
        """The server's SSE as Ollama's NDJSON: a line per content delta, tool calls
        gathered (native sends them whole), then the done line with the counts."""
        calls: dict[int, dict[str, Any]] = {}
        finish = "stop"
        usage: Any = None
        try:
            async for chunk in sse_events(resp):
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    finish = choice.get("finish_reason") or finish
                    for call in delta.get("tool_calls") or []:
                        slot = calls.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                        function = call.get("function") or {}
                        slot["name"] += as_text(function.get("name"))
                        slot["arguments"] += as_text(function.get("arguments"))
                    text = as_text(delta.get("content"))
                    thinking = as_text(delta.get("reasoning_content"))
                    if text or thinking:
                        piece: dict[str, Any] = {"role": "assistant", "content": text}
                        if thinking:
                            piece["thinking"] = thinking
                        yield native_line(model, {"message": piece, "done": False})
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if calls:
            message["tool_calls"] = native_calls([{"function": calls[i]} for i in sorted(calls)])
            yield native_line(model, {"message": message, "done": False})
            message = {"role": "assistant", "content": ""}
        final = {
            "model": model,
            "created_at": now_iso(),
            "message": message,
            "done": True,
            "done_reason": FINISH.get(finish, "stop"),
            **usage_counts(usage, time.perf_counter() - started),
        }
        yield dumps(final) + b"\n"

    async def _generate(self, body: Mapping[str, Any], started: float) -> TranslatedReply:
        model = str(body.get("model") or "")
        prompt = str(body.get("prompt") or "")
        suffix = body.get("suffix")
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        assert isinstance(options, dict)
        text: str | None = None
        counts: dict[str, Any] = {}
        finish = "stop"
        if suffix and self.has_infill is not False:
            payload = {"input_prefix": prompt, "input_suffix": suffix, "stream": False}
            if "num_predict" in options:
                payload["n_predict"] = options["num_predict"]
            if "temperature" in options:
                payload["temperature"] = options["temperature"]
            status, answer = await self._post("/infill", payload)
            if status == 404:
                self.has_infill = False  # not llama-server: the completions suffix below
            elif status != 200 or not isinstance(answer, dict):
                return refused_reply(status, answer)
            else:
                self.has_infill = True
                with reading_reply(self.who):
                    text = as_text(answer.get("content"))
                counts = usage_counts(
                    {
                        "prompt_tokens": answer.get("tokens_evaluated", 0),
                        "completion_tokens": answer.get("tokens_predicted", 0),
                    },
                    time.perf_counter() - started,
                )
        streamed = body.get("stream", True) is not False
        if text is None:
            request: dict[str, Any] = {"model": self._model(body), "prompt": prompt}
            if suffix:
                request["suffix"] = suffix
            copy_options(body, request)
            if streamed:  # token by token, as the server streams them
                return await self._streamed_completion(request, model, started)
            status, answer = await self._post("/v1/completions", request)
            if status != 200 or not isinstance(answer, dict):
                return refused_reply(status, answer)
            with reading_reply(self.who):
                choice = (answer.get("choices") or [{}])[0]
                text = as_text(choice.get("text"))
                finish = FINISH.get(choice.get("finish_reason") or "stop", "stop")
            counts = usage_counts(answer.get("usage"), time.perf_counter() - started)
        done = {
            "model": model,
            "created_at": now_iso(),
            "response": "",
            "done": True,
            "done_reason": finish,
            **counts,
        }
        if not streamed:
            return TranslatedReply(200, JSON, dumps({**done, "response": text}))
        # /infill answered whole: one streamed line, then the done line (Ollama's shape).
        first = {"model": model, "created_at": now_iso(), "response": text, "done": False}
        return TranslatedReply(200, NDJSON, dumps(first) + b"\n" + dumps(done) + b"\n")

    async def _streamed_completion(
        self, request: dict[str, Any], model: str, started: float
    ) -> TranslatedReply:
        request = {**request, "stream": True, "stream_options": {"include_usage": True}}
        return await self._stream(
            "/v1/completions", request, self._completion_lines, model, started
        )

    async def _completion_lines(
        self, resp: aiohttp.ClientResponse, model: str, started: float
    ) -> AsyncIterator[bytes]:
        """The completions SSE as native /api/generate lines, then the done line."""
        usage: Any = None
        finish = "stop"
        try:
            async for chunk in sse_events(resp):
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    if as_text(choice.get("text")):
                        yield native_line(model, {"response": choice["text"], "done": False})
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc
        counts = usage_counts(usage, time.perf_counter() - started)
        yield native_line(
            model,
            {"response": "", "done": True, "done_reason": FINISH.get(finish, "stop"), **counts},
        )

    async def _embed(self, body: Mapping[str, Any], legacy: bool) -> TranslatedReply:
        model = str(body.get("model") or "")
        given = body.get("prompt") if legacy else body.get("input")
        status, answer = await self._post(
            "/v1/embeddings", {"model": self._model(body), "input": given}
        )
        if status != 200 or not isinstance(answer, dict):
            return refused_reply(status, answer)
        with reading_reply(self.who):
            vectors = [d.get("embedding") for d in answer.get("data") or [] if isinstance(d, dict)]
        if legacy:
            return TranslatedReply(200, JSON, dumps({"embedding": vectors[0] if vectors else []}))
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        return TranslatedReply(
            200,
            JSON,
            dumps(
                {
                    "model": model,
                    "embeddings": vectors,
                    "prompt_eval_count": (usage or {}).get("prompt_tokens", 0),
                }
            ),
        )
