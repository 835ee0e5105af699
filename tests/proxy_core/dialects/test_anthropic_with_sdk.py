"""The official ``anthropic`` Python SDK against /v1/messages (simulator upstream), and the
requests Claude Code sends, replayed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

WEATHER = {
    "name": "get_weather",
    "description": "weather for a city",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
async def client(proxy: ProxyService):  # type: ignore[no-untyped-def]
    async with anthropic.AsyncAnthropic(
        base_url=proxy.base_url, api_key="unused", max_retries=0
    ) as c:
        yield c


def sent(sim: Sim) -> dict[str, Any]:
    return sim.recorder.by_path("/api/chat")[-1].json()  # type: ignore[no-any-return]


async def test_plain_message(client: anthropic.AsyncAnthropic, sim: Sim) -> None:
    reply = await client.messages.create(
        model="llama3.2", max_tokens=100, messages=[{"role": "user", "content": "hi there"}]
    )
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.content[0].type == "text"
    assert reply.content[0].text.startswith("Simulated reply to: hi there")
    assert reply.stop_reason == "end_turn"
    native = sent(sim)
    assert reply.usage.output_tokens > 0 and reply.usage.input_tokens > 0
    assert native["options"]["num_predict"] == 100


async def test_system_as_string_and_as_blocks(client: anthropic.AsyncAnthropic, sim: Sim) -> None:
    await client.messages.create(
        model="llama3.2",
        max_tokens=50,
        system="be brief",
        messages=[{"role": "user", "content": "x"}],
    )
    assert sent(sim)["messages"][0] == {"role": "system", "content": "be brief"}
    await client.messages.create(
        model="llama3.2",
        max_tokens=50,
        system=[
            {"type": "text", "text": "one. ", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "two."},
        ],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ],
    )
    native = sent(sim)
    assert native["messages"][0] == {"role": "system", "content": "one. two."}
    assert native["messages"][1] == {"role": "user", "content": "ab"}  # as Ollama joins them


async def test_multi_turn_and_stop_sequences(client: anthropic.AsyncAnthropic, sim: Sim) -> None:
    await client.messages.create(
        model="llama3.2",
        max_tokens=50,
        stop_sequences=["END"],
        # SDK 2.x dropped these keywords; older clients and Claude Code still send them.
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 20},
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"},
        ],
    )
    native = sent(sim)
    assert [m["role"] for m in native["messages"]] == ["user", "assistant", "user"]
    assert native["options"] == {
        "num_predict": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 20,
        "stop": ["END"],
    }


async def test_streaming_assembles_to_the_same_text(client: anthropic.AsyncAnthropic) -> None:
    async with client.messages.stream(
        model="llama3.2", max_tokens=100, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert final.content[0].text.startswith("Simulated reply to: stream me")
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


async def test_tool_use_with_parsed_input_and_a_result_round_trip(
    client: anthropic.AsyncAnthropic, sim: Sim
) -> None:
    reply = await client.messages.create(
        model="llama3.2",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather in Tokyo?"}],
    )
    assert reply.stop_reason == "tool_use"
    (call,) = [b for b in reply.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Tokyo"}
    assert "$schema" not in json.dumps(sent(sim)["tools"])
    follow = await client.messages.create(
        model="llama3.2",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "weather in Tokyo?"},
            {"role": "assistant", "content": [call.model_dump()]},  # type: ignore[list-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}
                ],
            },
        ],
    )
    assert follow.stop_reason == "end_turn"
    native = sent(sim)["messages"]
    assert native[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Tokyo"},
    }
    assert native[2] == {
        "role": "tool",
        "content": "sunny, 21 C",
        "tool_call_id": call.id,
        "tool_name": "get_weather",
    }


async def test_streamed_tool_use_arrives_as_input_json(client: anthropic.AsyncAnthropic) -> None:
    async with client.messages.stream(
        model="llama3.2",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather in Tokyo?"}],
    ) as stream:
        final = await stream.get_final_message()
    (call,) = [b for b in final.content if b.type == "tool_use"]
    assert call.input == {"city": "Tokyo"} and final.stop_reason == "tool_use"


async def test_max_tokens_stop(client: anthropic.AsyncAnthropic) -> None:
    reply = await client.messages.create(
        model="llama3.2", max_tokens=2, messages=[{"role": "user", "content": "a long question"}]
    )
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 2


async def test_thinking_for_a_thinking_model_and_dropped_for_others(
    client: anthropic.AsyncAnthropic, sim: Sim
) -> None:
    reply = await client.messages.create(
        model="deepseek-r1:7b",
        max_tokens=100,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "think"}],
    )
    assert sent(sim)["think"] is True
    assert reply.content[0].type == "thinking" and reply.content[0].thinking == "Let me think."
    reply = await client.messages.create(
        model="llama3.2",
        max_tokens=100,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "think"}],
    )
    assert "think" not in sent(sim) and reply.content[0].type == "text"


async def test_unknown_model_is_not_found(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client.messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


async def test_malformed_body_is_bad_request(proxy: ProxyService) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=proxy.base_url, api_key="unused", max_retries=0
    ) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model="llama3.2",
                max_tokens=10,
                messages=[],  # empty: refused
            )
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.base_url + "/v1/messages", data=b"{not json") as resp:
            body = await resp.json()
    assert resp.status == 400 and body["type"] == "error"


async def test_count_tokens_grows_with_messages_system_and_tools(
    client: anthropic.AsyncAnthropic,
) -> None:
    async def count(**kw: Any) -> int:
        result = await client.messages.count_tokens(model="llama3.2", **kw)
        return result.input_tokens

    base = await count(messages=[{"role": "user", "content": "hello there"}])
    more = await count(
        messages=[
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi, how can I help?"},
            {"role": "user", "content": "tell me about foxes"},
        ]
    )
    with_system = await count(
        system="you are a careful assistant", messages=[{"role": "user", "content": "hello there"}]
    )
    with_tools = await count(
        tools=[WEATHER],
        messages=[{"role": "user", "content": "hello there"}],  # type: ignore[list-item]
    )
    assert 0 < base < more and base < with_system and base < with_tools


async def test_ollama_down_is_an_api_error(tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, "http://127.0.0.1:9"))
    await service.start()
    try:
        async with anthropic.AsyncAnthropic(
            base_url=service.base_url, api_key="unused", max_retries=0
        ) as client:
            with pytest.raises(anthropic.APIStatusError) as caught:
                await client.messages.create(
                    model="llama3.2", max_tokens=10, messages=[{"role": "user", "content": "x"}]
                )
    finally:
        await service.stop()
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


CLAUDE_CODE_BODY = {
    "model": "llama3.2",
    "max_tokens": 32000,
    "stream": True,
    "system": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": " Be concise."},
    ],
    "messages": [
        {"role": "system", "content": "a reminder inside messages"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>context</system-reminder>"},
                {"type": "text", "text": "list the files", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ],
    "tools": [
        {**WEATHER, "name": "Bash"},
        {**WEATHER, "name": "Read", "defer_loading": True},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    ],
    "metadata": {"user_id": "user_abc"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "thinking": {"type": "adaptive"},
    "output_config": {"effort": "high"},
}


async def test_what_claude_code_sends_is_served(proxy: ProxyService, sim: Sim) -> None:
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
        "context-management-2025-06-27,fine-grained-tool-streaming-2025-05-14",
        "Authorization": "Bearer sk-ant-not-checked",
        "Accept-Encoding": "gzip, deflate, br, zstd",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/v1/messages?beta=true", json=CLAUDE_CODE_BODY, headers=headers
        ) as resp:
            raw = (await resp.read()).decode()
    assert resp.status == 200, raw
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    native = sent(sim)
    assert [t["function"]["name"] for t in native["tools"]] == ["Bash", "Read"]
    assert native["messages"][:2] == [
        {"role": "system", "content": "You are Claude Code. Be concise."},
        {"role": "system", "content": "a reminder inside messages"},
    ]
    assert "think" not in native  # llama3.2 cannot think: dropped, not failed
    assert native["options"]["num_predict"] == 32000


async def test_the_token_is_accepted_as_x_api_key_and_never_forwarded(
    sim: Sim, tmp_path: Path
) -> None:
    token = "t" * 24
    service = ProxyService(make_settings(tmp_path, sim.url, access_token=token, require_token=True))
    await service.start()
    try:
        async with anthropic.AsyncAnthropic(
            base_url=service.base_url, api_key=token, max_retries=0
        ) as client:  # the SDK sends x-api-key
            reply = await client.messages.create(
                model="llama3.2", max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
            assert reply.content
        async with anthropic.AsyncAnthropic(
            base_url=service.base_url, api_key="wrong-" + token, max_retries=0
        ) as client:
            with pytest.raises(anthropic.AuthenticationError) as caught:
                await client.messages.create(
                    model="llama3.2", max_tokens=10, messages=[{"role": "user", "content": "x"}]
                )
        assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    finally:
        await service.stop()
    for rec in sim.recorder.requests:
        assert {"x-api-key", "authorization"}.isdisjoint(k.lower() for k in rec.headers)
