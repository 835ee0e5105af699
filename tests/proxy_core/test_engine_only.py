"""A proxy in front of an OpenAI-compatible server and no Ollama at all
(``ollama_url=none``), as a llama.cpp user runs it: Ollama's clients still find a host
(``HEAD /``, /api/version), list and use its models, and what only Ollama can do (pull,
delete) is a clear error, not a connection refused to a host that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import ollama
import openai
import pytest
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from proxy_core.settings import ProxySettings, SettingsError
from tests.conftest import make_settings, serving
from tests.fakes.openai_server import FakeState, create_app

CODER = "qwen2.5-coder-7b-instruct"


@pytest.fixture
async def fake() -> AsyncIterator[TestServer]:
    server = TestServer(create_app(FakeState()))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def proxy(tmp_path: Path, fake: TestServer) -> AsyncIterator[ProxyService]:
    url = str(fake.make_url("/v1")).rstrip("/")
    settings = make_settings(
        tmp_path,
        "none",
        openai_upstreams=f"llamacpp={url}",
        upstream_poll_interval=0.05,
        allow_model_management=True,
    )
    async with serving(settings, polled=True) as service:
        yield service


def test_none_needs_an_openai_compatible_server(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="openai_upstreams"):
        ProxySettings(ollama_url="none", data_dir=tmp_path)
    with pytest.raises(SettingsError, match="ollama_url"):
        ProxySettings(ollama_url="", openai_upstreams="http://127.0.0.1:8080", data_dir=tmp_path)
    settings = ProxySettings(
        ollama_url="none", openai_upstreams="http://127.0.0.1:8080", data_dir=tmp_path
    )
    assert settings.ollama_bases == () and settings.ollama_base == "http://127.0.0.1:8080"


async def test_ollamas_clients_find_a_host(proxy: ProxyService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.head(proxy.base_url + "/") as resp:
            assert resp.status == 200 and await resp.read() == b""
        async with http.get(proxy.base_url + "/") as resp:
            assert resp.status == 200 and await resp.text() == "Ollama is running"
        async with http.get(proxy.base_url + "/api/version") as resp:
            assert resp.status == 200 and (await resp.json())["version"]
        async with http.get(proxy.base_url + "/healthz") as resp:
            assert resp.status == 200, await resp.text()


async def test_its_models_are_listed_and_answer_in_every_dialect(proxy: ProxyService) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    assert CODER in {m.model for m in (await client.list()).models}
    reply = await client.chat(model=CODER, messages=[{"role": "user", "content": "hello"}])
    assert reply.message.content == "echo: hello"
    assert "completion" in (await client.show(CODER)).capabilities
    sdk = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="unused")
    assert CODER in {m.id async for m in sdk.models.list()}
    answer = await sdk.chat.completions.create(
        model=CODER, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "echo: hi"


async def test_what_only_ollama_does_is_a_clear_error(proxy: ProxyService) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    with pytest.raises(ollama.ResponseError) as caught:
        await client.pull("llama3.2")
    assert "not available from an OpenAI-compatible server" in str(caught.value)
    async with aiohttp.ClientSession() as http:
        async with http.head(proxy.base_url + "/api/blobs/sha256:" + "0" * 64) as resp:
            assert resp.status == 404


async def test_streams_reach_it_in_every_dialect(proxy: ProxyService) -> None:
    """One host that translates (no Ollama to pass a stream through): every streamed
    request goes through its native form, not Ollama's byte relay."""
    import anthropic

    messages = [{"role": "user", "content": "hello"}]
    client = ollama.AsyncClient(host=proxy.base_url)
    parts = [p async for p in await client.chat(model=CODER, messages=messages, stream=True)]
    assert "".join(p.message.content or "" for p in parts).strip() == "echo: hello"
    generated = [p async for p in await client.generate(model=CODER, prompt="hi", stream=True)]
    assert generated[-1].done and "".join(p.response for p in generated)
    sdk = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="unused")
    stream = await sdk.chat.completions.create(model=CODER, messages=messages, stream=True)  # type: ignore[arg-type]
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.strip() == "echo: hello"
    events = await sdk.responses.create(model=CODER, input="hello", stream=True)
    done = [e async for e in events if e.type == "response.completed"]
    assert done and done[0].response.output_text.strip() == "echo: hello"
    claude = anthropic.AsyncAnthropic(base_url=proxy.base_url, api_key="unused")
    async with claude.messages.stream(
        model=CODER,
        max_tokens=64,
        messages=messages,  # type: ignore[arg-type]
    ) as reply:
        assert (await reply.get_final_text()).strip() == "echo: hello"


async def test_a_llama_server_model_is_listed_as_loaded(proxy: ProxyService) -> None:
    """llama-server loads its model at start: /api/ps (and so the tray's Models panel)
    says so, with the context it runs with."""
    client = ollama.AsyncClient(host=proxy.base_url)
    await client.list()  # the server's context is learnt with its listing
    running = {m.model: m for m in (await client.ps()).models}
    assert CODER in running and running[CODER].context_length
