"""The official ``openai`` Python SDK against the proxy (simulator upstream)."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import aiohttp
import openai
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
async def client(proxy: ProxyService):  # type: ignore[no-untyped-def]
    async with openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0
    ) as c:
        yield c


async def post_sse(
    proxy: ProxyService, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """POST a streaming chat request without the SDK, to see the raw SSE bytes."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/v1/chat/completions", json=body, headers=headers
        ) as resp:
            return resp.status, (await resp.read()).decode()


def _final_chat(sim: Sim) -> dict[str, object]:
    return sim.recorder.by_path("/api/chat")[-1].json()


async def test_chat_non_stream_with_usage(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "hi you"}]
    )
    assert reply.id.startswith("chatcmpl-") and len(reply.id) > 20
    assert reply.choices[0].message.content.startswith("Simulated reply to: hi you")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.usage.completion_tokens == 5  # "Simulated reply to: hi you."


async def test_chat_stream_assembles_and_reports_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply to: stream it."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    usage = chunks[-1].usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert chunks[-1].usage.completion_tokens == 5
    assert len({c.id for c in chunks}) == 1


@pytest.mark.parametrize("on_final_chunk", [False, True])
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls(
    client: openai.AsyncOpenAI, sim: Sim, stream: bool, on_final_chunk: bool
) -> None:
    sim.config.tool_calls_on_final_chunk = on_final_chunk
    kwargs = {
        "model": "llama3.2",
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "weather in parallel?"}],
    }
    if stream:
        calls: dict[int, dict[str, str]] = {}
        finish = None
        async for chunk in await client.chat.completions.create(stream=True, **kwargs):
            for delta in chunk.choices[0].delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"id": "", "name": "", "args": ""})
                entry["id"] += delta.id or ""
                entry["name"] += delta.function.name or ""
                entry["args"] += delta.function.arguments or ""
            finish = chunk.choices[0].finish_reason or finish
        got = [(c["name"], json.loads(c["args"])) for _, c in sorted(calls.items())]
        assert all(c["id"].startswith("call_") for c in calls.values())
    else:
        reply = await client.chat.completions.create(**kwargs)
        finish = reply.choices[0].finish_reason
        got = [
            (c.function.name, json.loads(c.function.arguments))
            for c in reply.choices[0].message.tool_calls or []
        ]
    assert finish == "tool_calls"
    assert got == [("get_weather", {"city": "Tokyo"}), ("get_weather", {"city": "Paris"})]


async def test_tool_history_is_translated(client: openai.AsyncOpenAI, sim: Sim) -> None:
    await client.chat.completions.create(
        model="llama3.2",
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "cold"},
        ],
    )
    sent = _final_chat(sim)["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
    assert sent[2] == {
        "role": "tool",
        "content": "cold",
        "tool_name": "get_weather",
        "tool_call_id": "call_1",
    }


async def test_max_tokens_gives_length(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "a long question"}], max_tokens=2
    )
    assert reply.choices[0].finish_reason == "length"
    assert _final_chat(sim)["options"] == {"num_predict": 2}


async def test_options_and_num_ctx_reach_ollama(client: openai.AsyncOpenAI, sim: Sim) -> None:
    await client.chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "x"}],
        temperature=0,
        seed=7,
        stop="END",
        top_p=0.5,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        response_format={"type": "json_object"},
        extra_body={"options": {"num_ctx": 16384}, "keep_alive": "10m"},
    )
    sent = _final_chat(sim)
    assert sent["options"] == {
        "temperature": 0,
        "seed": 7,
        "stop": ["END"],
        "top_p": 0.5,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "num_ctx": 16384,
    }
    assert sent["keep_alive"] == "10m" and sent["format"] == "json"


async def test_reasoning_content(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.chat.completions.create(
        model="deepseek-r1:7b",
        messages=[{"role": "user", "content": "think"}],
        reasoning_effort="high",
    )
    message = reply.choices[0].message.model_dump()
    assert message["reasoning_content"] == "Let me think."
    assert _final_chat(sim)["think"] == "high"


async def test_image_parts_become_native_images(client: openai.AsyncOpenAI, sim: Sim) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    await client.chat.completions.create(
        model="llava:7b",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is "},
                    {"type": "text", "text": "this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    )
    # As Ollama's own /v1 maps parts: one native message each, the image on its own.
    assert _final_chat(sim)["messages"] == [
        {"role": "user", "content": "what is "},
        {"role": "user", "content": "this?"},
        {"role": "user", "content": "", "images": [png]},
    ]


async def test_completions_with_suffix(client: openai.AsyncOpenAI, sim: Sim) -> None:
    reply = await client.completions.create(
        model="qwen2.5-coder:1.5b", prompt="def add(a, b):", suffix="\n    return c", max_tokens=50
    )
    assert reply.choices[0].text == "<fill between 14 and 13 chars>"
    sent = sim.recorder.by_path("/api/generate")[-1].json()
    assert sent["suffix"] == "\n    return c" and sent["options"]["num_predict"] == 50
    stream = await client.completions.create(
        model="qwen2.5-coder:1.5b", prompt="x = ", suffix=";", stream=True
    )
    texts = [c.choices[0].text async for c in stream if c.choices]
    assert "".join(texts) == "<fill between 4 and 1 chars>"


async def test_completions_reject_echo_and_prompt_lists(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="echo"):
        await client.completions.create(model="llama3.2", prompt="x", echo=True)
    with pytest.raises(openai.BadRequestError) as info:
        await client.completions.create(model="llama3.2", prompt=["a", "b"])
    assert info.value.body["param"] == "prompt"  # type: ignore[index]


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embeddings(client: openai.AsyncOpenAI, sim: Sim, encoding: str) -> None:
    reply = await client.embeddings.create(
        model="nomic-embed-text",
        input=["one two", "three"],
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    direct = [r for r in sim.recorder.by_path("/api/embed")][-1].json()
    assert direct["input"] == ["one two", "three"]
    assert [d.index for d in reply.data] == [0, 1]
    vector = reply.data[0].embedding
    if encoding == "base64":  # asked explicitly, the SDK hands back the string
        vector = list(struct.unpack("<8f", base64.b64decode(vector)))  # type: ignore[arg-type]
    assert len(vector) == 8
    default = await client.embeddings.create(model="nomic-embed-text", input=["one two", "three"])
    assert default.data[0].embedding == pytest.approx(vector, rel=1e-6)  # SDK default: base64
    assert reply.usage.prompt_tokens == 3


async def test_embeddings_default_sdk_base64_decodes(proxy: ProxyService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/v1/embeddings",
            json={"model": "nomic-embed-text", "input": "x", "encoding_format": "base64"},
        ) as resp:
            b64 = (await resp.json())["data"][0]["embedding"]
        async with http.post(
            proxy.base_url + "/v1/embeddings", json={"model": "nomic-embed-text", "input": "x"}
        ) as resp:
            floats = (await resp.json())["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(b64))
    assert decoded == pytest.approx(floats, rel=1e-6)


async def test_models(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert "llama3.2:latest" in models
    one = await client.models.retrieve("llama3.2")
    assert one.id == "llama3.2" and one.owned_by == "library" and one.created > 0
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("nope")


async def test_unknown_model_is_not_found(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body == {
        "message": "model 'nope' not found",
        "type": "not_found_error",
        "param": None,
        "code": "model_not_found",
    }


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"",
        b'{"model": "llama3.2"}',
        b'{"messages": [{"role":"user"}]}',
        b'{"model":"llama3.2","messages":[{"role":"wizard","content":"x"}]}',
        b'{"model":"llama3.2","messages":"hi"}',
        b'{"model":"llama3.2","messages":[{"role":"user","content":"x"}],"temperature":"hot"}',
        b"\xff\xfe",
    ],
)
async def test_malformed_input_is_400_in_openai_shape(proxy: ProxyService, body: bytes) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as resp:
            payload = await resp.json()
    assert resp.status == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert set(payload["error"]) == {"message", "type", "param", "code"}


async def test_bad_request_error_from_sdk(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="llama3.2", messages=[])


async def test_a_tool_schema_that_is_not_an_object_is_a_400_naming_it(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    """It reached Ollama as it was (and the simulator, unlike Ollama, failed with a 500)."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": "x"}}]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="llama3.2",
            messages=[{"role": "user", "content": "hi"}],
            tools=tools,  # type: ignore[arg-type]
        )
    assert info.value.body["param"] == "tools[0].function.parameters"  # type: ignore[index]
    assert sim.recorder.by_path("/api/chat") == []


@pytest.mark.parametrize("parameters", ["x", {"type": "object", "properties": 5}])
async def test_the_simulator_refuses_a_malformed_tool_as_ollama_does(
    sim: Sim, parameters: object
) -> None:
    """Ollama decodes tools into Go structs: a non-object schema is a 400, not a crash."""
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.url}/api/chat", json=body) as resp:
            assert resp.status == 400
            assert "cannot unmarshal" in (await resp.json())["error"]


async def test_mid_stream_error_is_one_error_event(proxy: ProxyService, sim: Sim) -> None:
    sim.config.fail_after_chunks = 2
    _, raw = await post_sse(
        proxy,
        {"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "x y z"}]},
    )
    events = [e for e in raw.split("\n\n") if e]
    assert events[-1].startswith('data: {"error"')
    assert "[DONE]" not in raw
    assert json.loads(events[-1][6:])["error"]["message"] == "simulated failure mid-stream"


async def test_cancelling_an_openai_stream_closes_upstream(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    import asyncio

    sim.config.token_delay = 0.3
    stream = await client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "never ending"}], stream=True
    )
    async for _ in stream:
        break
    await stream.close()
    for _ in range(50):
        if sim.recorder.disconnects:
            break
        await asyncio.sleep(0.05)
    assert sim.recorder.by_path("/api/chat")[-1].disconnected


async def test_zed_strict_stream_shape(proxy: ProxyService) -> None:
    """Zed parses every SSE event strictly: ``choices`` always present with ``index``;
    tool-call deltas carry ``index``; usage has ``total_tokens``."""
    _, raw = await post_sse(
        proxy,
        {
            "model": "llama3.2",
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": [WEATHER],
            "parallel_tool_calls": True,
            "prompt_cache_key": "k",
            "max_completion_tokens": 64,
            "messages": [{"role": "user", "content": "weather"}],
        },
    )
    events = [json.loads(e[6:]) for e in raw.split("\n\n") if e and e != "data: [DONE]"]
    for event in events:
        assert "choices" in event
        for choice in event["choices"]:
            assert "index" in choice
            for call in choice["delta"].get("tool_calls", []):
                assert isinstance(call["index"], int)
    usage = events[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_copilot_headers_and_stream_options(proxy: ProxyService) -> None:
    """Copilot Chat sends ``Bearer `` with an empty key, its own User-Agent and ids, n=1,
    and ``stream_options.include_usage``; none of it may break the request."""
    headers = {
        "Authorization": "Bearer ",
        "User-Agent": "GitHubCopilotChat/0.30.0",
        "X-Request-Id": "abc",
        "OpenAI-Intent": "conversation-panel",
        "X-Initiator": "user",
    }
    status, raw = await post_sse(
        proxy,
        {
            "model": "llama3.2:latest",
            "n": 1,
            "stream": True,
            "temperature": 0.1,
            "top_p": 1,
            "tool_choice": "auto",
            "tools": [WEATHER],
            "stream_options": {"include_usage": True},
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "hello"},
            ],
        },
        headers,
    )
    assert status == 200
    assert raw.endswith("data: [DONE]\n\n")
    assert '"usage"' in raw


async def test_text_parts_reach_ollama_as_separate_messages(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    """LangChain content blocks and pydantic-ai multi-part prompts: never "promptsecond"."""
    await client.chat.completions.create(
        model="llama3.2",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "prompt"}, {"type": "text", "text": "second"}],
            }
        ],
    )
    sent = sim.recorder.by_path("/api/chat")[-1].json()["messages"]
    assert sent == [
        {"role": "user", "content": "prompt"},
        {"role": "user", "content": "second"},
    ]


async def test_a_whole_completion_cut_by_max_tokens_says_length(
    client: openai.AsyncOpenAI, sim: Sim
) -> None:
    reply = await client.completions.create(
        model="llama3.2", prompt="tell me a long story about a fox", max_tokens=3
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    whole = await client.completions.create(model="llama3.2", prompt="short", max_tokens=500)
    assert whole.choices[0].finish_reason == "stop"
