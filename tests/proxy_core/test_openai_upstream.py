"""An OpenAI-compatible server beside Ollama (``openai_upstreams``), driven by the official
clients: its models in the native listing, native chat (whole, stream, tool calls),
generate with a suffix (llama-server's /infill, else the completions suffix), embed and
show, the OpenAI dialect reaching it, errors in the caller's dialect, and a model name
two upstreams share told apart by the upstream's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import ollama
import openai
import pytest
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings, serving
from tests.fakes.openai_server import FAKE, FakeState, create_app

CODER = "qwen2.5-coder-7b-instruct"


@pytest.fixture
async def fake() -> AsyncIterator[TestServer]:
    server = TestServer(create_app(FakeState(api_key="sk-local")))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def state_of(server: TestServer) -> FakeState:
    return server.app[FAKE]


@pytest.fixture
async def proxy(tmp_path: Path, sim: Sim, fake: TestServer) -> AsyncIterator[ProxyService]:
    url = str(fake.make_url("/v1")).rstrip("/")
    settings = make_settings(
        tmp_path,
        sim.url,
        openai_upstreams=f"llamacpp={url}",
        openai_api_key="sk-local",
        upstream_poll_interval=0.05,
    )
    async with serving(settings, polled=True) as service:
        yield service


async def test_its_models_are_listed_and_chat_reaches_it(
    proxy: ProxyService, fake: TestServer
) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    names = {m.model for m in (await client.list()).models}
    assert {CODER, "nomic-embed-text-v1.5", "llama3.2:latest"} <= names
    reply = await client.chat(
        model=CODER,
        messages=[{"role": "user", "content": "hello"}],
        options={"temperature": 0.2, "num_predict": 64},
    )
    assert reply.message.content == "echo: hello"
    assert reply.eval_count == 2 and reply.done_reason == "stop"
    (sent,) = state_of(fake).bodies("/v1/chat/completions")
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 64 and not sent["stream"]


async def test_a_native_stream_from_its_server_sent_events(
    proxy: ProxyService, fake: TestServer
) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    parts = [
        part
        async for part in await client.chat(
            model=CODER, messages=[{"role": "user", "content": "one two"}], stream=True
        )
    ]
    assert "".join(p.message.content or "" for p in parts).strip() == "echo: one two"
    assert parts[-1].done and parts[-1].prompt_eval_count == 2
    assert len(parts) >= 3  # streamed as it came, then the done line


async def test_tool_calls_come_back_native(proxy: ProxyService, fake: TestServer) -> None:
    state_of(fake).tool_call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    client = ollama.AsyncClient(host=proxy.base_url)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    parts = [
        part
        async for part in await client.chat(
            model=CODER, messages=[{"role": "user", "content": "w?"}], tools=tools, stream=True
        )
    ]
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert state_of(fake).bodies("/v1/chat/completions")[-1]["tools"] == tools


async def test_fill_in_the_middle_through_infill_or_the_completions_suffix(
    proxy: ProxyService, fake: TestServer
) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    reply = await client.generate(model=CODER, prompt="def f(", suffix="):\n    pass")
    assert reply.response == "<infill between 'def f(' and '):\\n    pass'>"
    assert state_of(fake).bodies("/infill")[0]["input_suffix"] == "):\n    pass"
    shown = await client.show(CODER)
    assert "insert" in (shown.capabilities or [])
    # A server without /infill (LM Studio, vLLM): the OpenAI completions suffix.
    state_of(fake).infill = False
    proxy.state.router.backends[1].client.has_infill = None  # type: ignore[union-attr, attr-defined]
    reply = await client.generate(model=CODER, prompt="a", suffix="b", stream=False)
    assert reply.response == "<completion between 'a' and 'b'>"
    assert state_of(fake).bodies("/v1/completions")[-1]["suffix"] == "b"


async def test_embeddings_reach_it(proxy: ProxyService) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    reply = await client.embed(model="nomic-embed-text-v1.5", input=["ab", "abcd"])
    assert [v[0] for v in reply.embeddings] == [2.0, 4.0]


async def test_the_openai_dialect_reaches_it_through_the_native_form(
    proxy: ProxyService,
) -> None:
    client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="unused")
    reply = await client.chat.completions.create(
        model=CODER, messages=[{"role": "user", "content": "via openai"}]
    )
    assert reply.choices[0].message.content == "echo: via openai"
    listed = {m.id async for m in client.models.list()}
    assert CODER in listed


async def test_its_errors_arrive_in_the_callers_dialect(
    proxy: ProxyService, fake: TestServer
) -> None:
    state_of(fake).fail = (400, "the prompt exceeds the context size")
    client = ollama.AsyncClient(host=proxy.base_url)
    with pytest.raises(ollama.ResponseError, match="exceeds the context size") as native:
        await client.chat(model=CODER, messages=[{"role": "user", "content": "x"}])
    assert native.value.status_code == 400
    state_of(fake).fail = (400, "the prompt exceeds the context size")
    other = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError, match="exceeds the context size"):
        await other.chat.completions.create(
            model=CODER, messages=[{"role": "user", "content": "x"}]
        )


async def test_a_name_two_upstreams_serve_is_told_apart(
    tmp_path: Path, sim: Sim, fake: TestServer
) -> None:
    state_of(fake).models = (*state_of(fake).models, "llama3.2:latest")  # Ollama has it too
    url = str(fake.make_url("")).rstrip("/")
    settings = make_settings(
        tmp_path, sim.url, openai_upstreams=f"llamacpp={url}", openai_api_key="sk-local"
    )
    service = ProxyService(settings)
    await service.start()
    try:
        import asyncio

        await asyncio.sleep(0.3)
        client = ollama.AsyncClient(host=service.base_url)
        names = [m.model for m in (await client.list()).models]
        assert names.count("llama3.2:latest") == 1 and "llamacpp/llama3.2:latest" in names
        reply = await client.chat(
            model="llamacpp/llama3.2:latest", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.message.content == "echo: hi"  # the fake answered, not the simulator
        assert state_of(fake).bodies("/v1/chat/completions")[-1]["model"] == "llama3.2:latest"
        await client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        assert len(sim.recorder.by_path("/api/chat")) == 1  # the plain name: Ollama's
    finally:
        await service.stop()


async def test_generate_streams_token_by_token(proxy: ProxyService, fake: TestServer) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    parts = [part async for part in await client.generate(model=CODER, prompt="x", stream=True)]
    assert len(parts) >= 4 and parts[-1].done and parts[-1].eval_count
    assert "".join(p.response for p in parts).strip() == "<completion between 'x' and ''>"
    assert state_of(fake).bodies("/v1/completions")[-1]["stream"] is True


async def test_routes_without_a_model_stay_with_an_ollama_host(proxy: ProxyService) -> None:
    """`HEAD /` ("Ollama is running", clients' health check) and /api/version are Ollama's:
    never sent to the OpenAI-compatible server, however busy the Ollama host is."""
    import aiohttp

    assert proxy.state is not None
    ollama_host = proxy.state.router.backends[0]
    for _ in range(3):
        proxy.state.router.started(ollama_host)  # busier than the OpenAI server
    async with aiohttp.ClientSession() as http:
        async with http.head(proxy.base_url + "/") as resp:
            assert resp.status == 200
        async with http.get(proxy.base_url + "/api/version") as resp:
            assert resp.status == 200 and (await resp.json())["version"] != "openai-compatible"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_generate_cut_by_its_token_limit_says_length(
    proxy: ProxyService, stream: bool
) -> None:
    """Found with the real engine (issue 26): a whole generate reported "stop" whatever
    the server said."""
    client = ollama.AsyncClient(host=proxy.base_url)
    options = {"num_predict": 2, "temperature": 0}
    if stream:
        parts = [p async for p in await client.generate(CODER, "abc", options=options, stream=True)]
        done = parts[-1]
    else:
        done = await client.generate(CODER, "abc", options=options)
    assert done.done_reason == "length" and done.eval_count == 2


async def test_the_servers_own_context_is_reported(proxy: ProxyService) -> None:
    """Found with the real engine (issue 26): llama-server fixes its context at start
    (/props); /api/show and /v1/models now report it, not nothing."""
    client = ollama.AsyncClient(host=proxy.base_url)
    shown = await client.show(CODER)
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.cpp.context_length"] == 4096
    listed = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0)
    entries = {m.id: m for m in (await listed.models.list()).data}
    await listed.close()
    assert getattr(entries[CODER], "context_length", None) == 4096


@pytest.mark.parametrize("fim_tokens", [True, False])
async def test_insert_is_claimed_only_for_a_model_that_can_fill_in(
    proxy: ProxyService, fake: TestServer, fim_tokens: bool
) -> None:
    """Found with the real engine (issue 26): llama-server has /infill, but a model
    without FIM tokens refuses it (501); /api/show claimed "insert" for it all the same,
    so an IDE would send it autocomplete it cannot do."""
    state_of(fake).fim_tokens = fim_tokens
    client = ollama.AsyncClient(host=proxy.base_url)
    for _ in range(2):  # learnt once, the same after
        capabilities = (await client.show(CODER)).capabilities or []
        assert ("insert" in capabilities) is fim_tokens and "completion" in capabilities
    assert len(state_of(fake).bodies("/infill")) == 1


async def test_a_health_poll_asks_the_server_for_its_context_once(fake: TestServer) -> None:
    """A poll asks /api/version, /api/tags and /api/ps: llama-server's /props once."""
    from proxy_core.engines.openai_compat import OpenAICompatEngine
    from proxy_core.observe.ollama_status import check_ollama

    engine = OpenAICompatEngine(
        str(fake.make_url("/v1")).rstrip("/"),
        name="llamacpp",
        authorization="Bearer sk-local",
        connect_timeout=2,
        read_timeout=10,
        max_connections=4,
    )
    await engine.start()
    try:
        await check_ollama(engine)  # the first learns the context
        state_of(fake).requests.clear()
        status = await check_ollama(engine)
        assert status.reachable and status.loaded  # llama-server's model is loaded
        assert [path for path, _ in state_of(fake).requests].count("/props") == 1
    finally:
        await engine.close()


BROKEN_CHAT = [
    {"choices": "x"},
    {"choices": [5]},
    {"choices": [{"message": "x"}]},
    {"choices": [{"message": {"content": "a", "tool_calls": "x"}}]},
    {"choices": [{"message": {"tool_calls": [5]}}]},
    {"choices": [{"message": {"tool_calls": [{"function": "f"}]}}]},
    {"choices": [{"message": {"tool_calls": [{"function": {"arguments": "[" * 100_000}}]}}]},
    {"choices": [{"delta": "x", "finish_reason": 5}]},
    {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": 5}}]}}]},
    {"choices": [{"delta": {"content": 5}}]},
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("broken", BROKEN_CHAT)
async def test_a_malformed_answer_from_its_server_is_a_502_naming_it(
    proxy: ProxyService, fake: TestServer, broken: dict[str, object], stream: bool
) -> None:
    """A server's reply of the wrong shape is the server's fault (502, as a malformed
    Ollama reply is), never the proxy's 500; whatever part of it is usable is kept."""
    state_of(fake).broken = broken
    client = ollama.AsyncClient(host=proxy.base_url)
    try:
        if stream:
            async for _ in await client.chat(
                model=CODER, messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                pass
        else:
            await client.chat(model=CODER, messages=[{"role": "user", "content": "hi"}])
    except ollama.ResponseError as exc:
        assert exc.status_code == 502 or (stream and exc.status_code == -1), exc
        assert "internal proxy error" not in exc.error and "llamacpp" in exc.error, exc.error


@pytest.mark.parametrize(
    "broken", [{"choices": "x"}, {"choices": [5]}, {"choices": [{"text": 5}]}, {"data": 5}]
)
async def test_a_malformed_completion_or_embedding_is_never_a_500(
    proxy: ProxyService, fake: TestServer, broken: dict[str, object]
) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    for call in (
        lambda: client.generate(model=CODER, prompt="def f(", suffix="pass", stream=False),
        lambda: client.embed(model="nomic-embed-text-v1.5", input="x"),
    ):
        state_of(fake).broken = broken
        try:
            await call()
        except ollama.ResponseError as exc:
            assert exc.status_code == 502 and "llamacpp" in exc.error, exc.error
