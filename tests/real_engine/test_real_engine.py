"""Issue 26: what a real model says survives the trip. The same prompt at temperature 0
gives the same text straight from llama-server and through the proxy, in every dialect,
whole and streamed; token counts and finish reasons are the engine's; a repeat is a hit
with the same bytes; a client that leaves stops the generation on the server; fill in
the middle on a model without it is a clear error."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import aiohttp
import anthropic
import ollama
import openai
import pytest

from proxy_core import ProxyService
from tests.real_engine.engine import CONTEXT, MODEL, Engine

PROMPT = "Write one sentence about the sea."
MESSAGES = [{"role": "user", "content": PROMPT}]
LIMIT = 24


def direct(engine: Engine) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=engine.url + "/v1", api_key="none", max_retries=0)


def through(proxy: ProxyService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="none", max_retries=0)


async def engine_chat(engine: Engine, limit: int = LIMIT) -> tuple[str, int, str]:
    client = direct(engine)
    done = await client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0,
        seed=42,
        max_tokens=limit,  # type: ignore[arg-type]
    )
    await client.close()
    assert done.usage is not None
    return (
        done.choices[0].message.content or "",
        done.usage.completion_tokens,
        done.choices[0].finish_reason,
    )


async def test_native_chat_says_what_the_engine_says(engine: Engine, proxy: ProxyService) -> None:
    text, tokens, finish = await engine_chat(engine)
    assert text and finish == "length" and tokens == LIMIT
    client = ollama.AsyncClient(host=proxy.base_url)
    options = {"temperature": 0, "seed": 42, "num_predict": LIMIT}
    whole = await client.chat(MODEL, MESSAGES, options=options)
    assert whole.message.content == text
    assert whole.eval_count == tokens and whole.done_reason == "length"
    parts = [p async for p in await client.chat(MODEL, MESSAGES, options=options, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == text
    assert parts[-1].eval_count == tokens and parts[-1].done_reason == "length"


async def test_no_ollama_host_is_needed(engine: Engine, alone: ProxyService) -> None:
    """``ollama_url=none``: Ollama's clients find a host, list the engine's model and get
    its text, with nothing but llama-server behind the proxy."""
    text, _, _ = await engine_chat(engine)
    client = ollama.AsyncClient(host=alone.base_url)
    assert MODEL in {m.model for m in (await client.list()).models}
    options = {"temperature": 0, "seed": 42, "num_predict": LIMIT}
    assert (await client.chat(MODEL, MESSAGES, options=options)).message.content == text
    async with aiohttp.ClientSession() as http:
        async with http.head(alone.base_url + "/") as resp:
            assert resp.status == 200
        async with http.get(alone.base_url + "/api/version") as resp:
            assert resp.status == 200


async def test_openai_chat_says_what_the_engine_says(engine: Engine, proxy: ProxyService) -> None:
    text, tokens, finish = await engine_chat(engine)
    client = through(proxy)
    args: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "temperature": 0, "seed": 42}
    whole = await client.chat.completions.create(**args, max_tokens=LIMIT)
    assert whole.choices[0].message.content == text
    assert whole.choices[0].finish_reason == finish
    assert whole.usage is not None and whole.usage.completion_tokens == tokens
    stream = await client.chat.completions.create(
        **args, max_tokens=LIMIT, stream=True, stream_options={"include_usage": True}
    )
    pieces, usage, reason = [], None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reason = choice.finish_reason or reason
    await client.close()
    assert "".join(pieces) == text and reason == finish
    assert usage is not None and usage.completion_tokens == tokens


async def test_anthropic_messages_say_what_the_engine_says(
    engine: Engine, proxy: ProxyService
) -> None:
    text, tokens, _ = await engine_chat(engine)
    client = anthropic.AsyncAnthropic(base_url=proxy.base_url, api_key="none", max_retries=0)
    whole = await client.messages.create(
        model=MODEL,
        max_tokens=LIMIT,
        messages=MESSAGES,  # type: ignore[arg-type]
        extra_body={"temperature": 0},  # this SDK (2.17) has no temperature argument
    )
    assert "".join(b.text for b in whole.content if b.type == "text") == text
    assert whole.stop_reason == "max_tokens" and whole.usage.output_tokens == tokens
    async with client.messages.stream(
        model=MODEL,
        max_tokens=LIMIT,
        messages=MESSAGES,  # type: ignore[arg-type]
        extra_body={"temperature": 0},  # this SDK (2.17) has no temperature argument
    ) as stream:
        streamed = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert streamed == text and final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == tokens


async def test_responses_say_what_the_engine_says(engine: Engine, proxy: ProxyService) -> None:
    text, tokens, _ = await engine_chat(engine)
    client = through(proxy)
    whole = await client.responses.create(
        model=MODEL, input=PROMPT, temperature=0, max_output_tokens=LIMIT
    )
    assert whole.output_text == text
    assert whole.usage is not None and whole.usage.output_tokens == tokens
    assert whole.status == "incomplete"  # cut by max_output_tokens, as the engine said
    assert whole.incomplete_details is not None
    stream = await client.responses.create(
        model=MODEL, input=PROMPT, temperature=0, max_output_tokens=LIMIT, stream=True
    )
    deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
    await client.close()
    assert "".join(deltas) == text


async def test_completions_and_generate_say_what_the_engine_says(
    engine: Engine, proxy: ProxyService
) -> None:
    prompt, limit = "The sea is", 16
    raw = direct(engine)
    done = await raw.completions.create(model=MODEL, prompt=prompt, temperature=0, max_tokens=limit)
    await raw.close()
    text = done.choices[0].text
    assert text and done.usage is not None and done.choices[0].finish_reason == "length"
    client = through(proxy)
    mine = await client.completions.create(
        model=MODEL, prompt=prompt, temperature=0, max_tokens=limit
    )
    assert mine.choices[0].text == text and mine.choices[0].finish_reason == "length"
    assert mine.usage is not None and mine.usage.completion_tokens == done.usage.completion_tokens
    stream = await client.completions.create(
        model=MODEL, prompt=prompt, temperature=0, max_tokens=limit, stream=True
    )
    assert "".join([c.choices[0].text async for c in stream if c.choices]) == text
    await client.close()
    native = ollama.AsyncClient(host=proxy.base_url)
    options = {"temperature": 0, "num_predict": limit}
    whole = await native.generate(MODEL, prompt, options=options, raw=True)
    assert whole.response == text and whole.done_reason == "length"
    assert whole.eval_count == done.usage.completion_tokens
    parts = [
        p
        async for p in await native.generate(MODEL, prompt, options=options, raw=True, stream=True)
    ]
    assert "".join(p.response for p in parts) == text and parts[-1].done_reason == "length"


async def test_a_stop_is_a_stop(engine: Engine, proxy: ProxyService) -> None:
    client = through(proxy)
    done = await client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0,
        max_tokens=LIMIT,
        stop=[" "],  # type: ignore[arg-type]
    )
    await client.close()
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.completion_tokens < LIMIT


async def test_a_repeat_is_a_hit_with_the_same_bytes(proxy: ProxyService) -> None:
    body = {
        "model": MODEL,
        "messages": MESSAGES,
        "stream": False,
        "options": {"temperature": 0, "num_predict": LIMIT},
    }
    seen = []
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.post(proxy.base_url + "/api/chat", json=body) as resp:
                assert resp.status == 200
                seen.append((resp.headers["X-Cache"], await resp.read()))
    assert [cache for cache, _ in seen] == ["MISS", "HIT"]
    assert seen[0][1] == seen[1][1]


def _busy(engine: Engine) -> bool:
    with urllib.request.urlopen(engine.url + "/slots", timeout=2) as resp:
        return any(slot.get("is_processing") for slot in json.loads(resp.read()))


async def test_a_client_that_leaves_stops_the_generation(
    engine: Engine, proxy: ProxyService
) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 1500, "stream": True,
            "temperature": 0.8}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.base_url + "/v1/chat/completions", json=body) as resp:
            assert resp.status == 200
            await resp.content.readline()
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, _busy, engine)
    left = time.monotonic()
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, _busy, engine):
        assert time.monotonic() - left < 1.0, "the engine kept generating for a client gone"
        await asyncio.sleep(0.05)


async def test_fill_in_the_middle_without_fim_is_a_clear_error(proxy: ProxyService) -> None:
    client = ollama.AsyncClient(host=proxy.base_url)
    # Gemma 3 has no FIM tokens: not claimed, so an IDE sends it no autocomplete...
    assert "insert" not in ((await client.show(MODEL)).capabilities or [])
    with pytest.raises(ollama.ResponseError) as failed:  # ...and one that does is told why
        await client.generate(MODEL, "def add(a, b):", suffix="\n    return c", stream=False)
    assert 400 <= failed.value.status_code < 600 and failed.value.error


async def test_the_context_reported_is_the_one_the_server_runs(
    engine: Engine, proxy: ProxyService
) -> None:
    """Found with the real engine: /api/show said nothing of the context and /v1/models
    no context_length, so clients could not size their prompts to the server's."""
    async with aiohttp.ClientSession() as http:
        async with http.get(engine.url + "/props") as resp:
            n_ctx = (await resp.json())["default_generation_settings"]["n_ctx"]
        async with http.post(proxy.base_url + "/api/show", json={"model": MODEL}) as resp:
            info = (await resp.json())["model_info"]
        async with http.get(proxy.base_url + "/v1/models") as resp:
            (entry,) = [m for m in (await resp.json())["data"] if m["id"] == MODEL]
    assert n_ctx == CONTEXT
    assert info[f"{info['general.architecture']}.context_length"] == n_ctx
    assert entry["context_length"] == n_ctx


LONG = "word " * (2 * CONTEXT)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/chat", {"messages": [{"role": "user", "content": LONG}], "stream": False}),
        ("/api/generate", {"prompt": LONG, "stream": False}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONG}]}),
        ("/v1/messages", {"max_tokens": 8, "messages": [{"role": "user", "content": LONG}]}),
        ("/v1/responses", {"input": LONG}),
    ],
)
async def test_a_prompt_longer_than_the_context_is_reported_never_cut_silently(
    proxy: ProxyService, path: str, body: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.base_url + path, json={"model": MODEL, **body}) as resp:
            status, text = resp.status, await resp.text()
    assert status == 400 and "context size" in text, (status, text[:300])


WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ASK_TOOL = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
TOOL_BODIES: list[tuple[str, dict[str, Any], tuple[bytes, ...]]] = [
    (
        "/api/chat",
        {"messages": ASK_TOOL, "tools": [{"type": "function", "function": WEATHER}],
         "options": {"temperature": 0, "num_predict": 40}},
        (b'"done":true',),
    ),
    (
        "/v1/chat/completions",
        {"messages": ASK_TOOL, "tools": [{"type": "function", "function": WEATHER}],
         "temperature": 0, "max_tokens": 40},
        (b"data: [DONE]",),
    ),
    (
        "/v1/messages",
        {"messages": ASK_TOOL, "max_tokens": 40, "temperature": 0,
         "tools": [{"name": "get_weather", "description": "weather",
                    "input_schema": WEATHER["parameters"]}]},
        (b"event: message_stop",),
    ),
    (
        "/v1/responses",
        {"input": ASK_TOOL[0]["content"], "temperature": 0, "max_output_tokens": 40,
         "tools": [{"type": "function", **WEATHER}]},
        # 40 tokens may be the end of the answer or its cut: Responses says which
        (b"event: response.completed", b"event: response.incomplete"),
    ),
]  # fmt: skip


def _calls(path: str, reply: dict[str, Any]) -> list[Any]:
    """The tool calls of a whole reply, in its dialect's shape; each argument set is JSON."""
    if path == "/api/chat":
        calls = reply["message"].get("tool_calls") or []
        return [c["function"]["arguments"] for c in calls]
    if path == "/v1/chat/completions":
        calls = reply["choices"][0]["message"].get("tool_calls") or []
        return [json.loads(c["function"]["arguments"]) for c in calls]
    if path == "/v1/messages":
        return [b["input"] for b in reply["content"] if b["type"] == "tool_use"]
    return [json.loads(i["arguments"]) for i in reply["output"] if i["type"] == "function_call"]


@pytest.mark.parametrize("path, body, end", TOOL_BODIES)
async def test_a_tool_request_gets_what_the_model_made_in_each_dialect(
    proxy: ProxyService, path: str, body: dict[str, Any], end: tuple[bytes, ...]
) -> None:
    """A small model may answer in text or call the tool: either way a whole reply in the
    dialect's shape (arguments that are JSON objects) and a stream that ends properly."""
    async with aiohttp.ClientSession() as http:
        whole = {"model": MODEL, **body, "stream": False}
        async with http.post(proxy.base_url + path, json=whole) as resp:
            assert resp.status == 200, await resp.text()
            reply = json.loads(await resp.read())
        assert all(isinstance(args, dict) for args in _calls(path, reply))
        async with http.post(
            proxy.base_url + path, json={"model": MODEL, **body, "stream": True}
        ) as resp:
            assert resp.status == 200
            streamed = await resp.read()
    assert any(marker in streamed for marker in end)
    broken = (b"event: error", b'data: {"error"', b'\n{"error"')  # each dialect's error event
    assert not streamed.startswith(b'{"error"') and not any(b in streamed for b in broken)
