"""Google's ``google-genai`` Python SDK against the Gemini routes (simulator upstream), and
what the SDK cannot send (snake_case, the JSON-array stream, bad input) by hand."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="weather for a city",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)


def client_for(proxy: ProxyService, key: str = "unused") -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=proxy.base_url))


@pytest.fixture
def client(proxy: ProxyService) -> genai.Client:
    return client_for(proxy)


def sent(sim: Sim) -> dict[str, Any]:
    return sim.recorder.by_path("/api/chat")[-1].json()  # type: ignore[no-any-return]


async def test_plain_generate(client: genai.Client, sim: Sim) -> None:
    reply = await client.aio.models.generate_content(model="llama3.2", contents="hi there")
    assert reply.text is not None and reply.text.startswith("Simulated reply to: hi there")
    candidate = reply.candidates[0]  # type: ignore[index]
    assert candidate.finish_reason == types.FinishReason.STOP
    usage = reply.usage_metadata
    assert usage is not None and usage.prompt_token_count and usage.candidates_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    native = sent(sim)
    assert native["messages"] == [{"role": "user", "content": "hi there"}]
    assert native["stream"] is False


async def test_streaming_with_the_sdk(client: genai.Client, sim: Sim) -> None:
    pieces = []
    last = None
    async for chunk in await client.aio.models.generate_content_stream(
        model="llama3.2", contents="stream please"
    ):
        pieces.append(chunk.text or "")
        last = chunk
    assert len(pieces) > 2
    assert "".join(pieces).startswith("Simulated reply to: stream please")
    assert last is not None and last.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count
    assert sent(sim)["stream"] is True


async def test_config_maps_to_native_options(client: genai.Client, sim: Sim) -> None:
    await client.aio.models.generate_content(
        model="llama3.2",
        contents="x",
        config=types.GenerateContentConfig(
            system_instruction="be brief",
            temperature=0.2,
            top_p=0.9,
            top_k=20,
            max_output_tokens=64,
            stop_sequences=["END"],
            seed=7,
        ),
    )
    native = sent(sim)
    assert native["messages"][0] == {"role": "system", "content": "be brief"}
    assert native["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 20,
        "num_predict": 64,
        "seed": 7,
        "stop": ["END"],
    }


async def test_max_tokens_is_finish_reason_max_tokens(client: genai.Client) -> None:
    reply = await client.aio.models.generate_content(
        model="llama3.2",
        contents="a long answer please",
        config=types.GenerateContentConfig(max_output_tokens=2),
    )
    assert reply.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]


async def test_json_schema_output_is_native_format(client: genai.Client, sim: Sim) -> None:
    await client.aio.models.generate_content(
        model="llama3.2",
        contents="x",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=types.Schema(
                type=types.Type.OBJECT,
                properties={"answer": types.Schema(type=types.Type.STRING, nullable=True)},
            ),
        ),
    )
    fmt = sent(sim)["format"]
    assert fmt["type"] == "object"
    assert fmt["properties"]["answer"]["type"] == ["string", "null"]


async def test_function_call_round_trip(client: genai.Client, sim: Sim) -> None:
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    asked = types.Content(role="user", parts=[types.Part(text="weather in Tokyo?")])
    reply = await client.aio.models.generate_content(
        model="llama3.2", contents=[asked], config=config
    )
    calls = reply.function_calls
    assert calls and calls[0].name == "get_weather" and calls[0].args == {"city": "Tokyo"}
    tools = sent(sim)["tools"]
    assert tools[0]["function"]["name"] == "get_weather"
    assert tools[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    answered = types.Content(
        role="user",
        parts=[
            types.Part.from_function_response(
                name="get_weather", response={"output": "sunny, 21 C"}
            )
        ],
    )
    called = reply.candidates[0].content  # type: ignore[index]
    final = await client.aio.models.generate_content(
        model="llama3.2",
        contents=[asked, called, answered],
        config=config,  # type: ignore[list-item]
    )
    messages = sent(sim)["messages"]
    assert messages[1]["role"] == "assistant"
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Tokyo"},
    }
    assert messages[2] == {"role": "tool", "content": "sunny, 21 C", "tool_name": "get_weather"}
    assert final.text is not None and "sunny, 21 C" in final.text


async def test_inline_image_reaches_ollama(client: genai.Client, sim: Sim) -> None:
    await client.aio.models.generate_content(
        model="llava:7b",
        contents=[types.Part.from_bytes(data=PNG, mime_type="image/png"), "what is this?"],
    )
    message = sent(sim)["messages"][0]
    assert message["images"] == [base64.b64encode(PNG).decode()]
    assert message["content"] == "what is this?"


async def test_thinking_only_for_thinking_models(client: genai.Client, sim: Sim) -> None:
    thinking = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True)
    )
    reply = await client.aio.models.generate_content(
        model="deepseek-r1:7b", contents="think", config=thinking
    )
    assert sent(sim)["think"] is True
    parts = reply.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert parts[0].thought is True and parts[0].text  # type: ignore[index]
    assert reply.text is not None and reply.text.startswith("Simulated reply")
    await client.aio.models.generate_content(model="llama3.2", contents="x", config=thinking)
    assert "think" not in sent(sim)  # llama3.2 cannot think: answered plainly, not failed


async def test_count_tokens_and_models(client: genai.Client) -> None:
    small = await client.aio.models.count_tokens(model="llama3.2", contents="hi")
    large = await client.aio.models.count_tokens(model="llama3.2", contents="hi " * 200)
    assert small.total_tokens is not None and large.total_tokens is not None
    assert large.total_tokens > small.total_tokens >= 1
    names = [m.name async for m in await client.aio.models.list()]
    assert "models/llama3.2:latest" in names
    model = await client.aio.models.get(model="llama3.2:latest")
    assert model.name == "models/llama3.2:latest"
    assert model.supported_actions is not None and "generateContent" in model.supported_actions


async def test_errors_are_googles_shape(client: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as missing:
        await client.aio.models.generate_content(model="no-such-model", contents="x")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    assert "no-such-model" in str(missing.value.message)


async def test_the_same_request_twice_is_a_cache_hit(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    body = {"contents": [{"parts": [{"text": "cache me"}]}], "generationConfig": {"seed": 1}}
    url = f"{proxy.base_url}/v1beta/models/llama3.2:generateContent"
    async with http.post(url, json=body) as first:
        assert first.headers["X-Cache"] == "MISS"
        one = await first.json()
    async with http.post(url, json=body) as second:
        assert second.headers["X-Cache"] == "HIT"
        two = await second.json()
    assert one["candidates"] == two["candidates"]


async def test_snake_case_and_the_json_array_stream(
    proxy: ProxyService, http: aiohttp.ClientSession, sim: Sim
) -> None:
    """Google's REST examples use snake_case; without ``alt=sse`` the stream is one JSON
    array, parsed whole here as a client would."""
    body = {
        "system_instruction": {"parts": [{"text": "sys"}]},
        "contents": [{"role": "user", "parts": [{"text": "array please"}]}],
        "generation_config": {"max_output_tokens": 50, "stop_sequences": ["Z"]},
    }
    url = f"{proxy.base_url}/v1beta/models/llama3.2:streamGenerateContent"
    async with http.post(url, json=body) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"  # a JSON array, not events
        elements = json.loads(await resp.read())
    assert isinstance(elements, list) and len(elements) > 2
    async with http.post(url + "?alt=sse", json=body) as resp:
        assert resp.content_type == "text/event-stream"
        assert (await resp.read()).startswith(b"data: {")
    text = "".join(p["text"] for e in elements for p in e["candidates"][0]["content"]["parts"])
    assert text.startswith("Simulated reply to: array please")
    assert elements[-1]["candidates"][0]["finishReason"] == "STOP"
    native = sent(sim)
    assert native["messages"][0] == {"role": "system", "content": "sys"}
    assert native["options"] == {"num_predict": 50, "stop": ["Z"]}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "contents", "'contents' must be a non-empty array"),
        ({"contents": [{"role": "bot", "parts": []}]}, "contents[0]", "invalid role"),
        ({"contents": [{"parts": "x"}]}, "contents[0].parts", "'parts' must be an array"),
        (
            {
                "contents": [
                    {"parts": [{"inline_data": {"mime_type": "audio/wav", "data": "AA=="}}]}
                ]
            },
            "contents[0]",
            "only images",
        ),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}},
            "temperature",
            "must be a number",
        ),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 3}},
            "candidateCount",
            "only one candidate",
        ),
    ],
)
async def test_bad_input_is_a_google_400_naming_the_field(
    proxy: ProxyService, http: aiohttp.ClientSession, body: dict[str, Any], field: str, words: str
) -> None:
    url = f"{proxy.base_url}/v1beta/models/llama3.2:generateContent"
    async with http.post(url, json=body) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert words in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == field


async def test_not_json_and_unknown_methods(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    base = f"{proxy.base_url}/v1beta/models/llama3.2"
    async with http.post(base + ":generateContent", data=b"{not json") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["status"] == "INVALID_ARGUMENT"
    async with http.post(base + ":embedContent", json={}) as resp:
        assert resp.status == 404
        error = (await resp.json())["error"]
        assert error["status"] == "NOT_FOUND" and "embedContent" in error["message"]
    async with http.get(f"{proxy.base_url}/v1beta/tunedModels") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == 404


@pytest.mark.parametrize("how", ["header", "query"])
async def test_the_key_is_the_access_token_and_never_forwarded(
    sim: Sim, tmp_path: Path, how: str
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, require_token=True))
    await service.start()
    try:
        token = service.access_token
        with pytest.raises(genai_errors.ClientError) as refused:
            await client_for(service, "wrong").aio.models.generate_content(
                model="llama3.2", contents="x"
            )
        assert refused.value.code == 401 and refused.value.status == "UNAUTHENTICATED"
        url = f"{service.base_url}/v1beta/models/llama3.2:generateContent"
        body = {"contents": [{"parts": [{"text": "with the key"}]}]}
        headers = {"x-goog-api-key": token} if how == "header" else {}
        params = {"key": token} if how == "query" else {}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=body, headers=headers, params=params) as resp:
                assert resp.status == 200, await resp.text()
        reply = await client_for(service, token).aio.models.generate_content(
            model="llama3.2", contents="sdk with the key"
        )
        assert reply.text is not None
        for recorded in sim.recorder.requests:
            assert token not in json.dumps(recorded.headers) + recorded.query
        shown = json.dumps([r.as_json() for r in service.recent_requests()])
        assert token not in shown
    finally:
        await service.stop()
