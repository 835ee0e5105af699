"""Issue 15 item 5 (agent loop): scripted simulator conversations drive ``agent/<model>``
end to end, through the real ``ollama`` and ``openai`` client libraries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import ollama
import openai
import pytest

from proxy_core import ProxyService
from proxy_core.tools.agent import MAX_STEPS
from tests.conftest import Sim, make_settings

ASK = [{"role": "user", "content": "look at the workspace"}]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the workspace\n")
    return root


@pytest.fixture
def proxy_changes(workspace: Path, tmp_path: Path) -> dict[str, object]:
    data = tmp_path / "data"
    data.mkdir()
    policy = {"write_file": "allow", "run_command": "allow", "allow_commands": ["echo"]}
    (data / "tool-policy.json").write_text(json.dumps(policy))
    return {"agent_tools": True, "workspace": str(workspace)}


def auth(proxy: ProxyService) -> dict[str, str]:
    """Agent models need the access token always (issue 24 item 3)."""
    return {"Authorization": f"Bearer {proxy.access_token}"}


def native(proxy: ProxyService) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=proxy.base_url, headers=auth(proxy))


def openai_client(proxy: ProxyService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1", api_key=proxy.access_token, max_retries=0
    )


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def chats(sim: Sim) -> list[dict[str, Any]]:
    return [r.json() for r in sim.recorder.by_path("/api/chat")]


async def audit(proxy: ProxyService) -> list[dict[str, Any]]:
    assert proxy.state is not None and proxy.state.tools is not None
    await proxy.state.tools.audit.drain()
    path = proxy.settings.data_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_native_stream_one_call_then_an_answer(proxy: ProxyService, sim: Sim) -> None:
    sim.config.script = [[call("read_file", path="hello.txt")], []]
    client = native(proxy)
    parts = [part async for part in await client.chat("agent/llama3.2", ASK, stream=True)]
    thinking = "".join(p.message.thinking or "" for p in parts)
    content = "".join(p.message.content or "" for p in parts)
    assert "[tool] read_file: executed" in thinking
    assert "hello from the workspace" in content  # the model saw the tool's result
    assert parts[-1].done and parts[-1].model == "agent/llama3.2"
    first, second = chats(sim)
    assert first["model"] == "llama3.2" and {t["function"]["name"] for t in first["tools"]} >= {
        "read_file",
        "write_file",
    }
    assert second["messages"][-1] == {
        "role": "tool",
        "content": "hello from the workspace\n",
        "tool_name": "read_file",
    }
    assert [(e["tool"], e["outcome"], e["origin"]) for e in await audit(proxy)] == [
        ("read_file", "executed", "agent")
    ]


async def test_parallel_calls_and_a_command_in_one_reply(
    proxy: ProxyService, sim: Sim, workspace: Path
) -> None:
    sim.config.script = [
        [call("write_file", path="a.txt", content="A\n"), call("run_command", argv=["echo", "hi"])],
        [],
    ]
    reply = await native(proxy).chat("agent/llama3.2", ASK)
    assert reply.done and "[tool] write_file: executed" in (reply.message.thinking or "")
    assert (workspace / "a.txt").read_text() == "A\n"
    tool_messages = [m for m in chats(sim)[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_name"] for m in tool_messages] == ["write_file", "run_command"]
    assert tool_messages[1]["content"].startswith("exit code 0\n--- stdout ---\nhi\n")


async def test_openai_non_stream_with_tool_activity_as_reasoning(
    proxy: ProxyService, sim: Sim
) -> None:
    sim.config.script = [[call("list_files")], []]
    client = openai_client(proxy)
    done = await client.chat.completions.create(model="agent/llama3.2", messages=ASK)  # type: ignore[arg-type]
    await client.close()
    message = done.choices[0].message
    assert done.model == "agent/llama3.2" and message.content and not message.tool_calls
    assert "[tool] list_files: executed" in getattr(message, "reasoning_content", "")
    assert "hello.txt" in chats(sim)[1]["messages"][-1]["content"]


async def test_a_client_tool_is_returned_to_the_client(proxy: ProxyService, sim: Sim) -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    sim.config.script = [[call("get_weather", city="Paris"), call("read_file", path="hello.txt")]]
    client = openai_client(proxy)
    done = await client.chat.completions.create(
        model="agent/llama3.2",
        messages=ASK,  # type: ignore[arg-type]
        tools=[weather],  # type: ignore[list-item]
    )
    await client.close()
    calls = done.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]  # never a built-in one
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert done.choices[0].finish_reason == "tool_calls"
    assert [e["tool"] for e in await audit(proxy)] == ["read_file"]  # the built-in one ran
    assert len(chats(sim)) == 1


async def test_the_step_limit_ends_a_turn(proxy: ProxyService, sim: Sim) -> None:
    sim.config.script = [[call("read_file", path="hello.txt")] for _ in range(MAX_STEPS + 3)]
    reply = await native(proxy).chat("agent/llama3.2", ASK)
    assert f"stopped after {MAX_STEPS} steps" in reply.message.content
    assert len(chats(sim)) == MAX_STEPS
    assert proxy.state is not None
    steps = proxy.state.metrics.registry.get_sample_value("proxy_agent_steps_count")
    assert steps == 1


async def test_tool_errors_go_back_to_the_model(proxy: ProxyService, sim: Sim) -> None:
    sim.config.script = [[call("read_file", path="../data/access-token"), call("nope")], []]
    await native(proxy).chat("agent/llama3.2", ASK)
    results = [m["content"] for m in chats(sim)[1]["messages"] if m["role"] == "tool"]
    assert results[0].startswith("refused: ") and "outside" in results[0]
    assert results[1] == "refused: unknown tool 'nope'"


async def test_an_agent_turn_is_never_cached(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    body = {
        "model": "agent/llama3.2",
        "messages": ASK,
        "stream": False,
        "options": {"temperature": 0},
    }
    for _ in range(2):
        sim.config.script = [[call("list_files")], []]
        async with http.post(proxy.base_url + "/api/chat", json=body, headers=auth(proxy)) as resp:
            assert resp.status == 200
            assert resp.headers["X-Cache"] == "BYPASS"
            assert (await resp.json())["done"] is True
    assert len(chats(sim)) == 4


async def test_a_model_without_tools_is_answered_as_unknown(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    body = {"model": "agent/deepseek-r1:7b", "messages": ASK, "stream": False}
    async with http.post(proxy.base_url + "/api/chat", json=body, headers=auth(proxy)) as resp:
        assert resp.status == 404 and "not found" in (await resp.json())["error"]


async def test_with_tools_off_agent_models_are_unknown_in_each_dialect(
    sim: Sim, tmp_path: Path
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        with pytest.raises(ollama.ResponseError) as native:
            await ollama.AsyncClient(host=service.base_url).chat("agent/llama3.2", ASK)
        assert native.value.status_code == 404
        client = openai.AsyncOpenAI(base_url=service.base_url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="agent/llama3.2", messages=ASK)  # type: ignore[arg-type]
        await client.close()
    finally:
        await service.stop()


async def test_agent_models_are_listed_for_models_with_tools(proxy: ProxyService) -> None:
    tags = await native(proxy).list()
    names = {m.model for m in tags.models}
    assert {"agent/llama3.2:latest", "agent/qwen2.5-coder:1.5b"} <= names
    assert "agent/deepseek-r1:7b" not in names and "agent/nomic-embed-text:latest" not in names
    client = openai_client(proxy)
    ids = {m.id async for m in client.models.list()}
    await client.close()
    assert "agent/llama3.2:latest" in ids and "llama3.2:latest" in ids


async def test_the_anthropic_dialect_runs_the_loop_too(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    sim.config.script = [[call("read_file", path="hello.txt")], []]
    body = {"model": "agent/llama3.2", "max_tokens": 200, "messages": ASK}
    async with http.post(proxy.base_url + "/v1/messages", json=body, headers=auth(proxy)) as resp:
        assert resp.status == 200
        blocks = (await resp.json())["content"]
    kinds = [b["type"] for b in blocks]
    assert "thinking" in kinds and kinds[-1] == "text"
    assert "hello from the workspace" in blocks[-1]["text"]
