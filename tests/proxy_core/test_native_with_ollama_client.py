"""The official ``ollama`` Python client, pointed at the proxy, works as with Ollama."""

from __future__ import annotations

import ollama
import pytest

from proxy_core import ProxyService


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    """The client's whole API is exercised here, pull included, so the proxy
    allows model management (off by default: tests/proxy_core/test_guard.py)."""
    return {"allow_model_management": True}


@pytest.fixture
def client(proxy: ProxyService) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=proxy.base_url)


async def test_chat_non_stream(client: ollama.AsyncClient) -> None:
    reply = await client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "hello there"}], stream=False
    )
    assert reply.message.content.startswith("Simulated reply to: hello there")
    assert reply.done and reply.done_reason == "stop"
    assert reply.eval_count and reply.eval_count > 0


async def test_chat_stream_assembles(client: ollama.AsyncClient) -> None:
    parts = []
    final = None
    async for chunk in await client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "stream me"}], stream=True
    ):
        parts.append(chunk.message.content)
        final = chunk
    assert len(parts) > 3
    assert "".join(parts).startswith("Simulated reply to: stream me")
    assert final is not None and final.done and final.prompt_eval_count


async def test_chat_tool_call_arguments_are_objects(client: ollama.AsyncClient) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    reply = await client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[tool],
        stream=False,
    )
    calls = reply.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]
    assert calls[0].function.arguments == {"city": "Tokyo"}


async def test_generate_with_suffix(client: ollama.AsyncClient) -> None:
    reply = await client.generate(
        model="qwen2.5-coder:1.5b", prompt="def f(", suffix="    return x"
    )
    assert reply.response == "<fill between 6 and 12 chars>"


async def test_tags_show_ps_version_embed(client: ollama.AsyncClient) -> None:
    tags = await client.list()
    assert "llama3.2:latest" in [m.model for m in tags.models]
    shown = await client.show("llama3.2")
    assert "tools" in (shown.capabilities or [])
    assert shown.modelinfo and shown.modelinfo["llama.context_length"] == 131072
    ps = await client.ps()
    assert ps.models
    emb = await client.embed(model="nomic-embed-text", input=["a", "b"])
    assert len(emb.embeddings) == 2 and len(emb.embeddings[0]) == 8
    version = await client._request_raw("GET", "/api/version")
    assert version.json() == {"version": "0.32.15"}


async def test_unknown_model_is_response_error_404(client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        await client.chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 404
    assert "model 'nope' not found" in info.value.error


async def test_unknown_model_on_stream_is_response_error(client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        async for _ in await client.chat(
            model="nope", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            pass
    assert info.value.status_code == 404


async def test_pull_progress_streams(client: ollama.AsyncClient) -> None:
    statuses = [p.status async for p in await client.pull("llama3.2", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
