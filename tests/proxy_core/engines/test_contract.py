"""The engine contract (engines/base.py), run against every kind in engines/registry.py:
each answers Ollama's native API through ``fetch`` (version, listings, show, chat whole
and streamed, embeddings, an unknown model), maps a dead server to the proxy's error
naming its own kind, and closes cleanly. A new kind is added to ``KIND_SERVERS`` and must
pass as it stands."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestServer

from proxy_core.engines.base import Engine
from proxy_core.engines.registry import KINDS, EngineSpec, build
from proxy_core.errors import UpstreamUnavailable
from tests.fakes.ollama_sim import create_sim_app
from tests.fakes.openai_server import FakeState
from tests.fakes.openai_server import create_app as create_openai_app


@dataclass(frozen=True)
class KindServer:
    start: Callable[[], Awaitable[TestServer]]
    chat_model: str
    embed_model: str
    names_itself: str  # what its errors call it


async def _started(server: TestServer) -> TestServer:
    await server.start_server()
    return server


KIND_SERVERS = {
    "ollama": KindServer(
        lambda: _started(TestServer(create_sim_app())),
        "llama3.2:latest",
        "nomic-embed-text:latest",
        "Ollama",
    ),
    "openai": KindServer(
        lambda: _started(TestServer(create_openai_app(FakeState()))),
        "qwen2.5-coder-7b-instruct",
        "nomic-embed-text-v1.5",
        "the OpenAI-compatible server 'local'",
    ),
}


def test_every_kind_is_under_contract() -> None:
    assert set(KIND_SERVERS) == set(KINDS)


@pytest.fixture(params=sorted(KINDS))
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Engine, KindServer]]:
    kind = KIND_SERVERS[request.param]
    server = await kind.start()
    url = str(server.make_url("")).rstrip("/")
    built = build(EngineSpec(request.param, "local", url), connect_timeout=2, read_timeout=10)
    await built.start()
    try:
        yield built, kind
    finally:
        await built.close()
        await built.close()  # closing twice is harmless
        await server.close()


async def _json(engine: Engine, method: str, path: str, body: object = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    reply = await engine.fetch(method, path, {"Content-Type": "application/json"}, data)
    raw = await reply.read()
    reply.release()
    return reply.status, json.loads(raw)


async def test_it_answers_the_native_listings(engine: tuple[Engine, KindServer]) -> None:
    client, kind = engine
    status, version = await _json(client, "GET", "/api/version")
    assert status == 200 and isinstance(version, dict) and version["version"]
    status, tags = await _json(client, "GET", "/api/tags")
    assert status == 200 and isinstance(tags, dict)
    assert kind.chat_model in {m["model"] for m in tags["models"]}
    status, running = await _json(client, "GET", "/api/ps")
    assert status == 200 and isinstance(running, dict) and isinstance(running["models"], list)
    status, shown = await _json(client, "POST", "/api/show", {"model": kind.chat_model})
    assert status == 200 and isinstance(shown, dict) and "completion" in shown["capabilities"]


async def test_it_chats_whole_and_streamed(engine: tuple[Engine, KindServer]) -> None:
    client, kind = engine
    messages = [{"role": "user", "content": "hello"}]
    body = {"model": kind.chat_model, "messages": messages, "stream": False}
    status, answer = await _json(client, "POST", "/api/chat", body)
    assert status == 200 and isinstance(answer, dict)
    assert answer["done"] is True and answer["message"]["content"]
    data = json.dumps({**body, "stream": True}).encode()
    reply = await client.fetch("POST", "/api/chat", {"Content-Type": "application/json"}, data)
    lines = [json.loads(line) for line in (await reply.read()).splitlines() if line.strip()]
    reply.release()
    assert reply.status == 200 and len(lines) > 1
    assert lines[-1]["done"] is True and all(not line["done"] for line in lines[:-1])
    text = "".join(line["message"]["content"] for line in lines)
    assert text.strip() == answer["message"]["content"].strip()


async def test_it_embeds(engine: tuple[Engine, KindServer]) -> None:
    client, kind = engine
    body = {"model": kind.embed_model, "input": ["a", "b"]}
    status, answer = await _json(client, "POST", "/api/embed", body)
    assert status == 200 and isinstance(answer, dict) and len(answer["embeddings"]) == 2


async def test_an_unknown_model_is_a_native_404(engine: tuple[Engine, KindServer]) -> None:
    client, _ = engine
    body = {"model": "no-such-model", "messages": [], "stream": False}
    status, answer = await _json(client, "POST", "/api/chat", body)
    assert status == 404 and isinstance(answer, dict) and isinstance(answer["error"], str)


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_dead_server_is_an_error_naming_its_kind(kind: str) -> None:
    """Messages reach clients and logs: a llama-server that is down is not "Ollama"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = build(EngineSpec(kind, "local", f"http://127.0.0.1:{port}"), connect_timeout=1)
    await client.start()
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await _json(client, "POST", "/api/chat", {"model": "m", "messages": []})
        assert str(caught.value).startswith(KIND_SERVERS[kind].names_itself + " ")
        assert f"127.0.0.1:{port}" in str(caught.value)
    finally:
        await client.close()
