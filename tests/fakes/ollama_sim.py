"""A simulated Ollama server — a TEST DOUBLE, not Ollama.

Built from ``shared/reference/ollama-api.md``: the same routes, field order, content types,
defaults (``stream`` true), error messages and status codes, NDJSON framing with one compact
object per line, and the final ``done`` chunk with counts and durations. Replies are
deterministic text derived from the request, so tests can compare bytes.

Knobs (``SimConfig``): a delay before headers (a cold model load), a delay per token, an
error injected after N chunks, tool calls on the last chunk (llama-server style) instead of
their own chunk. Every request and every client disconnect is recorded in ``SimRecorder``.

Run it standalone for benchmarks and screenshots::

    python -m tests.fakes.ollama_sim --port 11434
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

VERSION = "0.32.15"


@dataclasses.dataclass(frozen=True)
class SimModel:
    name: str
    family: str
    parameter_size: str
    capabilities: tuple[str, ...]
    context_length: int = 8192
    embedding_length: int = 0
    quantization_level: str = "Q4_K_M"
    size: int = 2_019_393_189

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()


DEFAULT_MODELS: tuple[SimModel, ...] = (
    SimModel("llama3.2:latest", "llama", "3.2B", ("completion", "tools"), context_length=131072),
    SimModel(
        "qwen2.5-coder:1.5b",
        "qwen2",
        "1.5B",
        ("completion", "tools", "insert"),
        context_length=32768,
    ),
    SimModel("deepseek-r1:7b", "qwen2", "7.6B", ("completion", "thinking"), context_length=65536),
    SimModel("llava:7b", "llama", "7B", ("completion", "vision")),
    SimModel(
        "nomic-embed-text:latest",
        "nomic-bert",
        "137M",
        ("embedding",),
        context_length=2048,
        embedding_length=8,
        quantization_level="F16",
        size=274_302_450,
    ),
)


@dataclasses.dataclass
class SimConfig:
    """Behaviour switches; tests change them between requests."""

    header_delay: float = 0.0
    token_delay: float = 0.0
    fail_after_chunks: int | None = None
    tool_calls_on_final_chunk: bool = False
    reply_words: int = 0  # 0: the reply length follows the prompt
    # Fault injection: a path answered with these bytes (or chunks) instead of Ollama's
    # reply, to test how the proxy treats an upstream that misbehaves.
    override_replies: dict[str, bytes | FaultyReply] = dataclasses.field(default_factory=dict)
    # Generations run at once (Ollama's OLLAMA_NUM_PARALLEL); None: no limit. The rest
    # wait, as in Ollama, and the recorder notes the order generations started in.
    parallel: int | None = None
    # Scripted tool use (agent tests): each chat request that offers tools takes the next
    # entry, a list of {"name", "arguments"} calls to make (an empty list: answer in text,
    # which echoes the last message, a tool result included). None: the default behaviour.
    script: list[list[dict[str, Any]]] | None = None


@dataclasses.dataclass
class FaultyReply:
    """A reply a faulty upstream sends: any status, content type and chunks."""

    chunks: Iterator[bytes] | list[bytes] | AsyncIterator[bytes]
    content_type: str = "application/json"
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    disconnected: bool = False
    completed: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class SimRecorder:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.started: list[RecordedRequest] = []  # generations, in the order they began
        self.running = 0
        self.most_running = 0

    def by_path(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    @property
    def disconnects(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.disconnected]


SIM_CONFIG = web.AppKey("sim_config", SimConfig)
SIM_RECORDER = web.AppKey("sim_recorder", SimRecorder)
SIM_MODELS = web.AppKey("sim_models", dict)
SIM_BLOBS = web.AppKey("sim_blobs", set)
SIM_RECORD = web.RequestKey("sim_record", RecordedRequest)
SIM_SLOTS = web.AppKey("sim_slots", dict)


# --- helpers --------------------------------------------------------------------------------


def _now() -> str:
    """RFC 3339 UTC with trailing fraction zeros dropped, as Go formats it."""
    ts = datetime.now(UTC)
    frac = f"{ts.microsecond:06d}".rstrip("0")
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=_dumps(obj), status=status, content_type="application/json", charset="utf-8"
    )


def _error(status: int, message: str) -> web.Response:
    return _json_response({"error": message}, status)


class _BadRequest(Exception):
    pass


async def _read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    rec = request.get(SIM_RECORD)
    if rec is not None:
        rec.body = raw
    if not raw:
        raise _BadRequest("missing request body")
    try:
        # Go's encoding/json replaces invalid UTF-8 and lone surrogates with U+FFFD.
        body = _go_strings(json.loads(raw.decode("utf-8", "replace"), **_GO_NUMBERS))
    except json.JSONDecodeError as exc:
        raise _BadRequest(f"invalid character looking for beginning of value: {exc.msg}") from None
    except RecursionError:  # Go's decoder answers this with 400 too
        raise _BadRequest("invalid character looking for beginning of value") from None
    if not isinstance(body, dict):
        raise _BadRequest("json: cannot unmarshal array into Go value of type api.Request")
    _check_go_types(body)
    return body


def _go_number(text: str) -> float:
    """Go's decoder: NaN and Infinity are no JSON, and a float64 holds nothing past 1e308."""
    first = text.lstrip("-")[0]
    if first.isalpha():  # NaN, Infinity
        raise _BadRequest(f"invalid character '{first}' looking for beginning of value")
    number = float(text)
    if math.isinf(number):
        raise _BadRequest(f"json: cannot unmarshal number {text} into Go value of type float64")
    return number


_GO_NUMBERS: dict[str, Any] = {"parse_constant": _go_number, "parse_float": _go_number}

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_strings(value: Any) -> Any:
    """Lone surrogates (a ``"\\ud800"`` escape) become U+FFFD, as in Go."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_go_strings(v) for v in value]
    if isinstance(value, dict):
        return {_go_strings(k): _go_strings(v) for k, v in value.items()}
    return value


# Ollama decodes bodies into Go structs: a field of the wrong JSON type is a 400 before
# any handler logic runs ("json: cannot unmarshal ... into Go struct field ...").
_STR, _BOOL, _ARR, _OBJ, _NUM = (str,), (bool,), (list,), (dict,), (int, float)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "model": _STR,
    "name": _STR,
    "prompt": _STR,
    "suffix": _STR,
    "system": _STR,
    "template": _STR,
    "stream": _BOOL,
    "raw": _BOOL,
    "truncate": _BOOL,
    "messages": _ARR,
    "images": _ARR,
    "tools": _ARR,
    "options": _OBJ,
    "format": _STR + _OBJ,
    "keep_alive": _STR + _NUM,
    "think": _BOOL + _STR,
    "input": _STR + _ARR,
    "dimensions": _NUM,
}
_MESSAGE_TYPES: dict[str, tuple[type, ...]] = {
    "role": _STR,
    "content": _STR,
    "thinking": _STR,
    "images": _ARR,
    "tool_calls": _ARR,
    "tool_name": _STR,
}

_FUNCTION_TYPES: dict[str, tuple[type, ...]] = {
    "name": _STR,
    "description": _STR,
    "parameters": _OBJ,
}
_PARAMETERS_TYPES: dict[str, tuple[type, ...]] = {"properties": _OBJ}


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "value")


def _check_fields(obj: dict[str, Any], types: dict[str, tuple[type, ...]], where: str) -> None:
    for field, allowed in types.items():
        value = obj.get(field)
        if value is None:
            continue  # null leaves a Go field at its zero value
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if not ok:
            raise _BadRequest(
                f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                f"{where}.{field} of type {allowed[0].__name__}"
            )


def _check_go_types(body: dict[str, Any]) -> None:
    _check_fields(body, _FIELD_TYPES, "Request")
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            raise _BadRequest(
                f"json: cannot unmarshal {_go_kind(message)} into Go struct field "
                "ChatRequest.messages of type api.Message"
            )
        _check_fields(message, _MESSAGE_TYPES, "ChatRequest.messages")
    for tool in body.get("tools") or ():
        # api.Tool{Type, Function api.ToolFunction{Name, Description, Parameters struct}}
        if not isinstance(tool, dict):
            raise _BadRequest(
                f"json: cannot unmarshal {_go_kind(tool)} into Go struct field "
                "ChatRequest.tools of type api.Tool"
            )
        function = tool.get("function")
        if not isinstance(function, dict | None):
            raise _BadRequest(
                f"json: cannot unmarshal {_go_kind(function)} into Go struct field "
                "Tool.tools.function of type api.ToolFunction"
            )
        _check_fields(function or {}, _FUNCTION_TYPES, "Tool.tools.function")
        parameters = (function or {}).get("parameters") or {}
        _check_fields(parameters, _PARAMETERS_TYPES, "ToolFunctionParameters")


def _normalize(name: str) -> str:
    name = name.strip().lower()
    if not name:
        return name
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _find_model(request: web.Request, name: str) -> SimModel | None:
    models: dict[str, SimModel] = request.app[SIM_MODELS]
    return models.get(_normalize(name))


def _words(text: str) -> list[str]:
    return text.split()


def _reply_tokens(seed_text: str, words: int, options: dict[str, Any]) -> list[str]:
    """Deterministic reply: 'Simulated reply to: <first words>' then filler tokens."""
    base = ["Simulated", "reply", "to:"] + _words(seed_text)[:8]
    if words:
        filler = [f"w{i}" for i in range(words)]
        base = (base + filler)[: max(words, 1)]
    tokens = [w + " " for w in base[:-1]] + [base[-1] + "."]
    seed = options.get("seed")
    if isinstance(seed, int) and seed >= 0:
        tokens.append(f" [seed {seed}]")
    return tokens


def _embedding(text: str, dims: int, normalize: bool) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    vec = [((digest[i % len(digest)] / 255.0) - 0.5) for i in range(dims)]
    if normalize:
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        vec = [v / norm for v in vec]
    return vec


def _prompt_count(messages: list[dict[str, Any]]) -> int:
    return sum(len(_words(str(m.get("content") or ""))) + 4 for m in messages) or 1


# The context a model runs with when a request sets no num_ctx (what /api/ps reports).
DEFAULT_NUM_CTX = 4096


def _context(options: dict[str, Any]) -> int:
    ctx = options.get("num_ctx")
    return (
        ctx if isinstance(ctx, int) and not isinstance(ctx, bool) and ctx > 0 else DEFAULT_NUM_CTX
    )


def _metrics(prompt_tokens: int, eval_tokens: int, started: float) -> dict[str, int]:
    total = max(int((time.perf_counter() - started) * 1e9), 1)
    return {
        "total_duration": total,
        "load_duration": 1_234_567,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 13_007_900,
        "eval_count": eval_tokens,
        "eval_duration": max(eval_tokens, 1) * 25_000_000,
    }


# --- middleware: record every request, notice disconnects --------------------------------------


@web.middleware
async def _record(request: web.Request, handler: Any) -> web.StreamResponse:
    rec = RecordedRequest(
        request.method, request.path, request.rel_url.raw_query_string, dict(request.headers), b""
    )
    request.app[SIM_RECORDER].requests.append(rec)
    request[SIM_RECORD] = rec
    override = request.app[SIM_CONFIG].override_replies.get(request.path)
    try:
        if override is not None:
            rec.body = await request.read()
            response = await _faulty(request, override)
        else:
            response = await handler(request)
    except (asyncio.CancelledError, ConnectionResetError):
        rec.disconnected = True
        raise
    rec.completed = not rec.disconnected
    return response


async def _extra_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Ollama's gin server sends headers beyond the content type; a few stand-ins make the
    pass-through tests compare headers, not only bodies."""
    response.headers.setdefault("X-Ollama-Simulator", VERSION)
    response.headers.setdefault("Vary", "Origin")


async def _faulty(request: web.Request, reply: bytes | FaultyReply) -> web.StreamResponse:
    if isinstance(reply, bytes):
        return web.Response(body=reply, content_type="application/json")
    response = web.StreamResponse(
        status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
    )
    await response.prepare(request)
    if isinstance(reply.chunks, AsyncIterator):
        async for chunk in reply.chunks:
            await response.write(chunk)
    else:
        for chunk in reply.chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


# --- routes -----------------------------------------------------------------------------------


async def root(request: web.Request) -> web.Response:
    return web.Response(text="Ollama is running", content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    return _json_response({"version": VERSION})


def _details(m: SimModel) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": m.family,
        "families": [m.family],
        "parameter_size": m.parameter_size,
        "quantization_level": m.quantization_level,
    }


async def tags(request: web.Request) -> web.Response:
    models: dict[str, SimModel] = request.app[SIM_MODELS]
    modified = "2026-08-20T09:30:00.5Z"
    out = [
        {
            "name": m.name,
            "model": m.name,
            "modified_at": modified,
            "size": m.size,
            "digest": m.digest,
            "details": _details(m),
            "capabilities": list(m.capabilities),
        }
        for m in models.values()
    ]
    return _json_response({"models": out})


async def ps(request: web.Request) -> web.Response:
    models: dict[str, SimModel] = request.app[SIM_MODELS]
    expires = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    loaded = [m for m in models.values() if "embedding" not in m.capabilities][:1]
    return _json_response(
        {
            "models": [
                {
                    "name": m.name,
                    "model": m.name,
                    "size": m.size + 500_000_000,
                    "digest": m.digest,
                    "details": _details(m),
                    "expires_at": expires,
                    "size_vram": 0,
                    "context_length": 4096,
                }
                for m in loaded
            ]
        }
    )


async def show(request: web.Request) -> web.Response:
    try:
        body = await _read_json(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    name = body.get("model") or body.get("name") or ""
    if not name:
        return _error(400, "model is required")
    m = _find_model(request, name)
    if m is None:
        return _error(404, f"model '{_normalize(name)}' not found")
    template = "{{ .System }}{{ .Prompt }}"
    if "insert" in m.capabilities:
        template = "<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>"
    info: dict[str, Any] = {
        "general.architecture": m.family,
        "general.basename": m.name.split(":")[0],
        f"{m.family}.context_length": m.context_length,
    }
    if m.embedding_length:
        info[f"{m.family}.embedding_length"] = m.embedding_length
    return _json_response(
        {
            "license": "simulated",
            "modelfile": f"FROM {m.name}\n",
            "parameters": f'num_ctx {min(m.context_length, 4096)}\nstop "<|end|>"',
            "template": template,
            "details": _details(m),
            "model_info": info,
            "capabilities": list(m.capabilities),
            "modified_at": "2026-08-20T09:30:00.5Z",
        }
    )


def _check_generation(
    request: web.Request, body: dict[str, Any], needs: str
) -> tuple[SimModel | None, web.Response | None]:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        if request.path == "/api/chat":
            return None, _error(400, "model is required")
        return None, _error(404, "model '' not found")
    m = _find_model(request, name)
    if m is None:
        return None, _error(404, f"model '{name}' not found")
    if needs not in m.capabilities:
        return None, _error(400, f'"{name}" does not support {needs}')
    opts = body.get("options")
    if opts is not None and not isinstance(opts, dict):
        return None, _error(400, "json: cannot unmarshal options")
    think = body.get("think")
    if think is not None and think not in (True, False, "low", "medium", "high", "max"):
        return None, _error(400, f"invalid think value: {think!r}")
    if think not in (None, False) and "thinking" not in m.capabilities:
        return None, _error(400, f'"{name}" does not support thinking')
    fmt = body.get("format")
    if fmt not in (None, "", "json") and not isinstance(fmt, dict):
        return None, _error(
            400, f'invalid format: {json.dumps(fmt)}; expected "json" or a valid JSON Schema object'
        )
    return m, None


def _tool_call_for(tools: list[dict[str, Any]], text: str, index: int) -> dict[str, Any]:
    fn = tools[index % len(tools)]["function"]
    props = (fn.get("parameters") or {}).get("properties") or {}
    args = {key: f"{key}-{index}" for key in props}
    if "city" in props:
        args["city"] = "Tokyo" if index == 0 else "Paris"
    ident = "call_" + hashlib.sha256(f"{text}{index}".encode()).hexdigest()[:8]
    return {"id": ident, "function": {"index": index, "name": fn["name"], "arguments": args}}


async def _stream_lines(
    request: web.Request, lines: Iterator[dict[str, Any]], stream: bool
) -> web.StreamResponse:
    cfg: SimConfig = request.app[SIM_CONFIG]
    if cfg.parallel is None:
        return await _write_lines(request, lines, stream)
    # One semaphore per configured value: tests set ``parallel`` after the sim started.
    slots = request.app[SIM_SLOTS].setdefault(cfg.parallel, asyncio.Semaphore(cfg.parallel))
    recorder: SimRecorder = request.app[SIM_RECORDER]
    async with slots:
        rec = request.get(SIM_RECORD)
        if rec is not None:
            recorder.started.append(rec)
        recorder.running += 1
        recorder.most_running = max(recorder.most_running, recorder.running)
        try:
            return await _write_lines(request, lines, stream)
        finally:
            recorder.running -= 1


async def _write_lines(
    request: web.Request, lines: Iterator[dict[str, Any]], stream: bool
) -> web.StreamResponse:
    cfg: SimConfig = request.app[SIM_CONFIG]
    if cfg.header_delay:
        await asyncio.sleep(cfg.header_delay)
    if not stream:
        final: dict[str, Any] = {}
        for count, line in enumerate(lines):
            if count and cfg.token_delay:
                # Generating takes as long as when streamed; like Ollama (the request's
                # context), a client that hangs up stops the generation.
                await asyncio.sleep(cfg.token_delay)
                if request.transport is None or request.transport.is_closing():
                    rec = request.get(SIM_RECORD)
                    if rec is not None:
                        rec.disconnected = True
                    return web.Response(status=499)
            final = _merge(final, line)
        return _json_response(final)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        for count, line in enumerate(lines):
            if cfg.fail_after_chunks is not None and count >= cfg.fail_after_chunks:
                await resp.write(_dumps({"error": "simulated failure mid-stream"}) + b"\n")
                return resp
            if count and cfg.token_delay:
                await asyncio.sleep(cfg.token_delay)
            await resp.write(_dumps(line) + b"\n")
        await resp.write_eof()
    except ConnectionResetError:  # the client left: Ollama stops generating, quietly
        rec = request.get(SIM_RECORD)
        if rec is not None:
            rec.disconnected = True
    return resp


def _merge(acc: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    """Non-stream reply: content/thinking joined, tool calls gathered, final metrics kept."""
    if not acc:
        return json.loads(_dumps(line))
    out = dict(line)
    if "message" in line:
        msg = dict(acc["message"])
        msg["content"] = msg.get("content", "") + line["message"].get("content", "")
        if line["message"].get("thinking"):
            msg["thinking"] = msg.get("thinking", "") + line["message"]["thinking"]
        if line["message"].get("tool_calls"):
            msg["tool_calls"] = msg.get("tool_calls", []) + line["message"]["tool_calls"]
        out["message"] = msg
    if "response" in line:
        out["response"] = acc.get("response", "") + line["response"]
        if line.get("thinking") or acc.get("thinking"):
            out["thinking"] = acc.get("thinking", "") + line.get("thinking", "")
    return out


async def chat(request: web.Request) -> web.StreamResponse:
    try:
        body = await _read_json(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        return _error(
            400,
            "json: cannot unmarshal into Go struct field ChatRequest.messages"
            " of type []api.Message",
        )
    m, err = _check_generation(request, body, "completion")
    if err:
        return err
    assert m is not None
    tools = body.get("tools") or []
    if tools and "tools" not in m.capabilities:
        return _error(400, f"registry.ollama.ai/library/{m.name} does not support tools")
    name = body["model"]
    options = body.get("options") or {}
    stream = body.get("stream", True) is not False
    started = time.perf_counter()
    if not messages:
        reason = "unload" if body.get("keep_alive") in (0, "0s") else "load"
        line = {
            "model": name,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reason,
        }
        return await _stream_lines(request, iter([line]), stream)
    last = str(messages[-1].get("content") or "")
    think = body.get("think")
    thinking = "thinking" in m.capabilities and think is not False
    cfg: SimConfig = request.app[SIM_CONFIG]
    tokens = _reply_tokens(last, cfg.reply_words, options)
    if body.get("format") is not None and body.get("format") != "":
        tokens = ['{"answer": ', json.dumps(last[:20]), "}"]
    limit = options.get("num_predict")
    reason = "stop"
    if isinstance(limit, int) and 0 <= limit < len(tokens):
        tokens, reason = tokens[:limit], "length"
    want_tools = bool(tools) and messages[-1].get("role") == "user"
    scripted: list[dict[str, Any]] | None = None
    if cfg.script is not None and tools:
        scripted = cfg.script.pop(0) if cfg.script else []

    def lines() -> Iterator[dict[str, Any]]:
        if thinking:
            for piece in ("Let me ", "think."):
                yield {
                    "model": name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": "", "thinking": piece},
                    "done": False,
                }
        calls = []
        if scripted is not None:
            calls = [
                {"id": f"call_{i}", "function": {"index": i, **call}}
                for i, call in enumerate(scripted)
            ]
        elif want_tools:
            count = 2 if "parallel" in last else 1
            calls = [_tool_call_for(tools, last, i) for i in range(count)]
        if calls and not cfg.tool_calls_on_final_chunk:
            for call in calls:
                yield {
                    "model": name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": "", "tool_calls": [call]},
                    "done": False,
                }
        if not calls:
            for tok in tokens:
                yield {
                    "model": name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": tok},
                    "done": False,
                }
        final_msg: dict[str, Any] = {"role": "assistant", "content": ""}
        if calls and cfg.tool_calls_on_final_chunk:
            final_msg["tool_calls"] = calls
        n = len(calls) * 8 if calls else len(tokens)
        yield {
            "model": name,
            "created_at": _now(),
            "message": final_msg,
            "done": True,
            "done_reason": reason,
            # A prompt longer than the context is cut from the front, as Ollama does, and
            # prompt_eval_count reports what was kept: at most num_ctx.
            **_metrics(min(_prompt_count(messages), _context(options)), n, started),
        }

    return await _stream_lines(request, lines(), stream)


async def generate(request: web.Request) -> web.StreamResponse:
    try:
        body = await _read_json(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    m, err = _check_generation(request, body, "completion")
    if err:
        return err
    assert m is not None
    name = body["model"]
    if body.get("suffix") and "insert" not in m.capabilities:
        return _error(400, f"registry.ollama.ai/library/{m.name} does not support insert")
    raw = bool(body.get("raw"))
    if raw and (body.get("system") or body.get("template") or body.get("context")):
        return _error(400, "raw mode does not support template, system, or context")
    stream = body.get("stream", True) is not False
    prompt = str(body.get("prompt") or "")
    options = body.get("options") or {}
    started = time.perf_counter()
    if not prompt:
        reason = "unload" if body.get("keep_alive") in (0, "0s") else "load"
        line = {
            "model": name,
            "created_at": _now(),
            "response": "",
            "done": True,
            "done_reason": reason,
        }
        return await _stream_lines(request, iter([line]), stream)
    cfg: SimConfig = request.app[SIM_CONFIG]
    if body.get("suffix"):
        tokens = ["<fill ", f"between {len(prompt)} and {len(body['suffix'])} chars>"]
    else:
        tokens = _reply_tokens(prompt, cfg.reply_words, options)
    limit = options.get("num_predict")
    reason = "stop"
    if isinstance(limit, int) and 0 <= limit < len(tokens):
        tokens, reason = tokens[:limit], "length"

    def lines() -> Iterator[dict[str, Any]]:
        for tok in tokens:
            yield {"model": name, "created_at": _now(), "response": tok, "done": False}
        final: dict[str, Any] = {
            "model": name,
            "created_at": _now(),
            "response": "",
            "done": True,
            "done_reason": reason,
        }
        if not raw:
            final["context"] = [1, 2, 3]
        final.update(
            _metrics(min(len(_words(prompt)) + 4, _context(options)), len(tokens), started)
        )
        yield final

    return await _stream_lines(request, lines(), stream)


async def embed(request: web.Request) -> web.Response:
    try:
        body = await _read_json(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    name = body.get("model") or ""
    m = _find_model(request, name) if name else None
    if m is None:
        if not name:
            return _error(404, "model '' not found")
        return _error(404, f'model "{name}" not found, try pulling it first')
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return _error(400, "invalid input type")
    if not inputs:
        return _json_response({"model": name, "embeddings": []})
    dims = body.get("dimensions") or m.embedding_length or 8
    started = time.perf_counter()
    vectors = [_embedding(text, int(dims), True) for text in inputs]
    return _json_response(
        {
            "model": name,
            "embeddings": vectors,
            "total_duration": max(int((time.perf_counter() - started) * 1e9), 1),
            "load_duration": 1_234_567,
            "prompt_eval_count": sum(len(_words(t)) for t in inputs),
        }
    )


async def embeddings_legacy(request: web.Request) -> web.Response:
    try:
        body = await _read_json(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    name = body.get("model") or ""
    m = _find_model(request, name) if name else None
    if m is None:
        return _error(404, f'model "{name}" not found, try pulling it first')
    prompt = str(body.get("prompt") or "")
    if not prompt:
        return _json_response({"embedding": []})
    return _json_response({"embedding": _embedding(prompt, m.embedding_length or 8, False)})


async def _progress(request: web.Request, statuses: list[dict[str, Any]]) -> web.StreamResponse:
    body = await _read_json(request)
    if body.get("stream", True) is False:
        return _json_response(statuses[-1])
    return await _stream_lines(request, iter(statuses), True)


async def pull(request: web.Request) -> web.StreamResponse:
    digest = "sha256:" + "ab" * 32
    return await _progress(
        request,
        [
            {"status": "pulling manifest"},
            {"status": "pulling abababababab", "digest": digest, "total": 2048, "completed": 1024},
            {"status": "pulling abababababab", "digest": digest, "total": 2048, "completed": 2048},
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ],
    )


async def push(request: web.Request) -> web.StreamResponse:
    return await _progress(
        request,
        [
            {"status": "retrieving manifest"},
            {"status": "starting upload"},
            {"status": "pushing manifest"},
            {"status": "success"},
        ],
    )


async def create(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    request[SIM_RECORD].body = raw
    body = json.loads(raw or b"{}")
    if not body.get("model") or "/" in str(body.get("model")).strip("/") and " " in body["model"]:
        return _error(400, "invalid model name")
    statuses = [{"status": "using existing layer"}, {"status": "writing manifest"}]
    statuses.append({"status": "success"})
    if body.get("stream", True) is False:
        return _json_response(statuses[-1])
    return await _stream_lines(request, iter(statuses), True)


async def copy(request: web.Request) -> web.Response:
    body = await _read_json(request)
    if _find_model(request, str(body.get("source") or "")) is None:
        return _error(404, f'model "{body.get("source")}" not found')
    return web.Response(status=200)


async def delete(request: web.Request) -> web.Response:
    body = await _read_json(request)
    name = str(body.get("model") or body.get("name") or "")
    if _find_model(request, name) is None:
        return _error(404, f"model '{name}' not found")
    return web.Response(status=200)


async def blob_head(request: web.Request) -> web.Response:
    digest = request.match_info["digest"]
    return web.Response(status=200 if digest in request.app[SIM_BLOBS] else 404)


async def blob_post(request: web.Request) -> web.Response:
    """Streams the upload through sha256 so a large blob is never held whole."""
    digest = request.match_info["digest"]
    hasher = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        hasher.update(chunk)
        size += len(chunk)
    request[SIM_RECORD].body = str(size).encode()
    if digest.replace("-", ":") != f"sha256:{hasher.hexdigest()}":
        return _error(400, "digest mismatch")
    request.app[SIM_BLOBS].add(digest)
    return web.Response(status=201)


async def not_found(request: web.Request) -> web.Response:
    return web.Response(status=404, text="404 page not found", content_type="text/plain")


def create_sim_app(
    config: SimConfig | None = None, models: tuple[SimModel, ...] = DEFAULT_MODELS
) -> web.Application:
    app = web.Application(middlewares=[_record], client_max_size=1 << 30)
    app.on_response_prepare.append(_extra_headers)
    app[SIM_CONFIG] = config or SimConfig()
    app[SIM_SLOTS] = {}
    app[SIM_RECORDER] = SimRecorder()
    app[SIM_MODELS] = {m.name: m for m in models}
    app[SIM_BLOBS] = set()
    r = app.router
    r.add_get("/", root)  # aiohttp adds HEAD for GET routes
    r.add_get("/api/version", version)
    r.add_get("/api/tags", tags)
    r.add_get("/api/ps", ps)
    r.add_post("/api/show", show)
    r.add_post("/api/chat", chat)
    r.add_post("/api/generate", generate)
    r.add_post("/api/embed", embed)
    r.add_post("/api/embeddings", embeddings_legacy)
    r.add_post("/api/pull", pull)
    r.add_post("/api/push", push)
    r.add_post("/api/create", create)
    r.add_post("/api/copy", copy)
    r.add_delete("/api/delete", delete)
    r.add_route("HEAD", "/api/blobs/{digest}", blob_head)
    r.add_post("/api/blobs/{digest}", blob_post)
    r.add_route("*", "/{tail:.*}", not_found)
    return app


def b64_floats(values: list[float]) -> str:
    """Little-endian float32 base64, as OpenAI's ``encoding_format: base64`` sends."""
    import struct

    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated Ollama (test double)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--reply-words", type=int, default=0)
    args = parser.parse_args()
    config = SimConfig(token_delay=args.token_delay, reply_words=args.reply_words)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    web.run_app(create_sim_app(config), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
