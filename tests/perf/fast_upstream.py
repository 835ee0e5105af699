"""A minimal, fast Ollama stand-in for benchmarks: the true "direct" limit of this machine.

The simulator (tests/fakes/ollama_sim.py) is faithful but costs an aiohttp request each
time, so a proxy measured against it looks closer to "direct" than it is. This stand-in
does only what a benchmark needs: aiohttp's low-level server, one ``json.loads`` per
request, and pre-encoded replies in Ollama's shapes (a whole chat
answer, an NDJSON stream of 3 or ``options.num_predict`` chunks, embeddings, tags, ps,
version). Not a test double: correctness lives in the simulator.

    python -m tests.perf.fast_upstream --port 11435
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from typing import Any

from aiohttp import web

MODEL = "llama3.2:latest"
CREATED = "2026-11-29T10:00:00.000000Z"
_FINAL_FIELDS = {
    "done_reason": "stop",
    "total_duration": 120_000_000,
    "load_duration": 1_000_000,
    "prompt_eval_count": 12,
    "prompt_eval_duration": 10_000_000,
    "eval_count": 3,
    "eval_duration": 100_000_000,
}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _message(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _stream_lines(chunks: int, chat: bool) -> list[bytes]:
    """``chunks`` token lines and the final one, each a compact JSON object and a newline."""
    lines = []
    for index in range(chunks + 1):
        done = index == chunks
        line: dict[str, Any] = {"model": MODEL, "created_at": CREATED}
        text = "" if done else f"tok{index} "
        if chat:
            line["message"] = _message(text)
        else:
            line["response"] = text
        line["done"] = done
        if done:
            line.update(_FINAL_FIELDS)
        lines.append(_json(line) + b"\n")
    return lines


Reply = tuple[int, bytes | list[bytes]]  # status, whole JSON body or NDJSON lines


def _replies() -> dict[str, Reply]:
    chat = {"model": MODEL, "created_at": CREATED, "message": _message("Hi there, friend.")}
    generate = {"model": MODEL, "created_at": CREATED, "response": "Hi there, friend."}
    details = {"format": "gguf", "family": "llama", "parameter_size": "3.2B"}
    tag = {"name": MODEL, "model": MODEL, "digest": "a" * 64, "size": 1, "details": details}
    return {
        "chat": (200, _json({**chat, "done": True, **_FINAL_FIELDS})),
        "generate": (200, _json({**generate, "done": True, **_FINAL_FIELDS})),
        "chat-stream": (200, _stream_lines(3, chat=True)),
        "generate-stream": (200, _stream_lines(3, chat=False)),
        "chat-stream-200": (200, _stream_lines(200, chat=True)),
        "embed": (200, _json({"model": MODEL, "embeddings": [[0.1, 0.2, 0.3]]})),
        "/api/version": (200, b'{"version":"0.32.15"}'),
        "/api/tags": (200, _json({"models": [tag]})),
        "/api/ps": (200, b'{"models":[]}'),
        "/api/show": (200, _json({"details": details, "capabilities": ["completion"]})),
        "missing": (404, b'{"error":"404 page not found"}'),
    }


REPLIES = _replies()


def reply_for(path: str, body: bytes) -> Reply:
    if path in ("/api/chat", "/api/generate"):
        request = json.loads(body)
        kind = path[5:]
        if request.get("stream", True) is False:
            return REPLIES[kind]
        if (request.get("options") or {}).get("num_predict") == 200 and kind == "chat":
            return REPLIES["chat-stream-200"]
        return REPLIES[kind + "-stream"]
    if path in ("/api/embed", "/api/embeddings"):
        json.loads(body)
        return REPLIES["embed"]
    return REPLIES.get(path, REPLIES["missing"])


async def handle(request: web.BaseRequest) -> web.StreamResponse:
    status, body = reply_for(request.path, await request.read())
    if isinstance(body, bytes):
        return web.Response(status=status, body=body, content_type="application/json")
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    for line in body:  # one chunk per line, as Ollama flushes each token
        await response.write(line)
    await response.write_eof()
    return response


async def serve(host: str, port: int) -> None:
    # aiohttp's low-level server (no router, no middleware): the same HTTP machinery the
    # proxy's own server uses, so "direct" is what one aiohttp hop costs on this machine.
    # (A bare asyncio protocol answers ~8x faster still; no Python HTTP proxy gets near
    # that, and Ollama itself is far slower: the ratios would say nothing.)
    server = web.Server(handle, access_log=None)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    await asyncio.Event().wait()


def start_fast(port: int) -> subprocess.Popen[bytes]:
    """The stand-in in its own process (as benchmarks run it)."""
    return subprocess.Popen([sys.executable, "-m", "tests.perf.fast_upstream", "--port", str(port)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11435)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
