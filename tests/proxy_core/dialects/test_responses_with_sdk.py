"""The official ``openai`` SDK's ``responses.create`` against /v1/responses (simulator
upstream), and what Codex CLI sends, replayed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": False,
}


@pytest.fixture
async def client(proxy: ProxyService):  # type: ignore[no-untyped-def]
    async with openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0
    ) as c:
        yield c


def sent(sim: Sim) -> dict[str, Any]:
    return sim.recorder.by_path("/api/chat")[-1].json()  # type: ignore[no-any-return]


async def test_plain_input_and_usage(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.responses.create(model="llama3.2", input="hi there")
    assert reply.status == "completed" and reply.object == "response"
    assert reply.output_text.startswith("Simulated reply to: hi there")
    assert reply.usage is not None and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    assert sent(sim)["messages"] == [{"role": "user", "content": "hi there"}]


async def test_instructions_developer_messages_and_parts(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    await client.responses.create(
        model="llama3.2",
        instructions="be brief",
        input=[
            {"role": "developer", "content": "no markdown"},
            {"role": "user", "content": [{"type": "input_text", "text": "question"}]},
        ],
        max_output_tokens=64,
        temperature=0.3,
    )
    native = sent(sim)
    assert native["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": "no markdown"},
        {"role": "user", "content": "question"},
    ]
    assert native["options"] == {"temperature": 0.3, "num_predict": 64}


async def test_streaming_events_in_order(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model="llama3.2", input="stream me", stream=True)
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for needed in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert needed in kinds
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.startswith("Simulated reply to: stream me")
    assert events[-1].response.output_text == text  # type: ignore[union-attr]


async def test_function_call_and_its_output(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.responses.create(
        model="llama3.2",
        input="weather in Tokyo?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        parallel_tool_calls=True,
    )
    (call,) = [item for item in reply.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Tokyo"}
    follow = await client.responses.create(
        model="llama3.2",
        tools=[WEATHER],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "weather in Tokyo?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert follow.output_text
    native = sent(sim)["messages"]
    assert native[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Tokyo"}
    assert native[2] == {"role": "tool", "content": "sunny", "tool_call_id": call.call_id}


async def test_streamed_function_call_arguments(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(
        model="llama3.2",
        input="weather in Tokyo?",
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    events = [event async for event in stream]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done[0].arguments) == {"city": "Tokyo"}  # type: ignore[union-attr]


async def test_namespace_tools_flattened_and_mapped_back(proxy: ProxyService, sim: Sim) -> None:
    body = {
        "model": "llama3.2",
        "input": "weather in Tokyo?",
        "tools": [
            {"type": "namespace", "name": "weather", "tools": [{**WEATHER, "name": "current"}]},
            {"type": "web_search"},
        ],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.base_url + "/v1/responses", json=body) as resp:
            reply = await resp.json()
    assert [t["function"]["name"] for t in sent(sim)["tools"]] == ["weather.current"]
    (call,) = [item for item in reply["output"] if item["type"] == "function_call"]
    assert (call["namespace"], call["name"]) == ("weather", "current")


async def test_previous_response_id_continues_the_conversation(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    first = await client.responses.create(model="llama3.2", input="my name is Ada")
    assert first.store is True
    assert sent(sim)["messages"] == [{"role": "user", "content": "my name is Ada"}]
    await client.responses.create(
        model="llama3.2", input="what is my name?", previous_response_id=first.id
    )
    messages = sent(sim)["messages"]
    assert messages[0] == {"role": "user", "content": "my name is Ada"}
    assert messages[1]["role"] == "assistant" and messages[1]["content"] == first.output_text
    assert messages[2] == {"role": "user", "content": "what is my name?"}


async def test_nothing_is_kept_with_store_false(client: openai.AsyncOpenAI) -> None:
    first = await client.responses.create(model="llama3.2", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(
            model="llama3.2", input="again", previous_response_id=first.id
        )


async def test_length_is_incomplete(client: openai.AsyncOpenAI) -> None:
    reply = await client.responses.create(
        model="llama3.2", input="a long question please", max_output_tokens=2
    )
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None
    assert reply.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize("effort", [{}, [], 3])
async def test_a_reasoning_effort_that_is_not_a_string_is_a_400(
    client: openai.AsyncOpenAI, sim: Sim, effort: object
) -> None:
    """It was looked up in a dict: a list or an object made a 500."""
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(
            model="llama3.2",
            input="x",
            reasoning={"effort": effort},  # type: ignore[typeddict-item]
        )
    assert info.value.body["param"] == "reasoning.effort"  # type: ignore[index]


async def test_reasoning_effort_and_json_schema(client: openai.AsyncOpenAI, sim: Sim) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    reply = await client.responses.create(
        model="deepseek-r1:7b",
        input="think",
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "a", "schema": schema}},
    )
    native = sent(sim)
    assert native["think"] == "high" and native["format"] == schema
    assert reply.output[0].type == "reasoning"
    await client.responses.create(model="llama3.2", input="x", reasoning={"effort": "high"})
    assert "think" not in sent(sim)  # not a thinking model: dropped, not failed


async def test_unknown_model_and_bad_body(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="llama3.2", input=42)  # type: ignore[arg-type]
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]


CODEX_BODY = {
    "model": "llama3.2",
    "instructions": None,
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "You are Codex."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "say hello"}],
        },
    ],
    "tools": [
        {**WEATHER, "name": "shell"},
        {"type": "namespace", "name": "mcp__fs", "tools": [{**WEATHER, "name": "read"}]},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0197-abc",
}


async def test_what_codex_sends_is_served(proxy: ProxyService, sim: Sim) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/v1/responses",
            json=CODEX_BODY,
            headers={"Accept": "text/event-stream", "Authorization": "Bearer x"},
        ) as resp:
            raw = (await resp.read()).decode()
    assert resp.status == 200, raw
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    native = sent(sim)
    assert native["messages"][0] == {"role": "system", "content": "You are Codex."}
    assert [t["function"]["name"] for t in native["tools"]] == ["shell", "mcp__fs.read"]


async def test_stored_conversations_survive_a_restart(sim: Sim, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sim.url)
    first = ProxyService(settings)
    await first.start()
    try:
        async with openai.AsyncOpenAI(
            base_url=first.base_url + "/v1", api_key="x", max_retries=0
        ) as client:
            earlier = await client.responses.create(model="llama3.2", input="remember me")
    finally:
        await first.stop()
    second = ProxyService(settings)
    await second.start()
    try:
        async with openai.AsyncOpenAI(
            base_url=second.base_url + "/v1", api_key="x", max_retries=0
        ) as client:
            await client.responses.create(
                model="llama3.2", input="and now?", previous_response_id=earlier.id
            )
    finally:
        await second.stop()
    assert sent(sim)["messages"][0] == {"role": "user", "content": "remember me"}
