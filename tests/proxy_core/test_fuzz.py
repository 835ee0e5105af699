"""Property-based fuzzing of both dialects' request bodies through the real handlers:
whatever arrives, the proxy answers it without a 5xx of its own and stays healthy."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy_core import ProxyService
from tests.conftest import make_settings
from tests.fakes.ollama_sim import create_sim_app

ROUTES = [
    "/api/chat",
    "/api/generate",
    "/api/embed",
    "/api/embeddings",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
    "/v1beta/models/llama3.2:generateContent",
    "/v1beta/models/llama3.2:streamGenerateContent?alt=sse",
    "/v1beta/models/llama3.2:countTokens",
    "/v1beta/models/llama3.2:embedContent",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    # Lone surrogates too (json.dumps escapes them as \udXXX, as hostile clients send).
    st.text(st.characters(exclude_categories=()), max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Bodies shaped like real requests, with every field's type left to chance.
messages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.one_of(
                st.sampled_from(["user", "system", "assistant", "tool"]), json_values
            ),
            "content": json_values,
            "images": json_values,
            "tool_calls": json_values,
        },
    ),
    max_size=3,
)
shaped = st.fixed_dictionaries(
    {"model": st.one_of(st.just("llama3.2"), json_values)},
    optional={
        "messages": st.one_of(messages, json_values),
        "prompt": json_values,
        "input": json_values,
        "suffix": json_values,
        "stream": json_values,
        "options": st.one_of(st.dictionaries(st.text(max_size=10), json_values), json_values),
        "temperature": json_values,
        "max_tokens": json_values,
        "stop": json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "response_format": json_values,
        "format": json_values,
        "keep_alive": json_values,
        "seed": json_values,
        "system": json_values,
        "instructions": json_values,
        "max_output_tokens": json_values,
        "thinking": json_values,
        "reasoning": json_values,
        "previous_response_id": json_values,
        "text": json_values,
    },
)
# Gemini's shape (camelCase, and the snake_case the REST API also takes).
parts = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "text": json_values,
            "inlineData": json_values,
            "functionCall": json_values,
            "functionResponse": json_values,
        },
    ),
    max_size=3,
)
gemini_shaped = st.fixed_dictionaries(
    {},
    optional={
        "contents": st.one_of(
            st.lists(
                st.fixed_dictionaries({}, optional={"role": json_values, "parts": parts}),
                max_size=3,
            ),
            json_values,
        ),
        "content": st.one_of(st.fixed_dictionaries({"parts": parts}), json_values),
        "systemInstruction": json_values,
        "system_instruction": json_values,
        "generationConfig": st.one_of(
            st.dictionaries(st.text(max_size=16), json_values, max_size=4), json_values
        ),
        "tools": json_values,
        "toolConfig": json_values,
    },
)
bodies = st.one_of(
    shaped.map(lambda b: json.dumps(b).encode()),
    gemini_shaped.map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),  # invalid UTF-8, truncated JSON, garbage
    st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"", b"null", b'"\xff"', b"\x00"]),
)


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Simulator and proxy on their own loop in a thread, so hypothesis can drive them
    from a plain (synchronous) test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    parts: dict[str, Any] = {}

    async def start() -> str:
        sim = TestServer(create_sim_app())
        await sim.start_server()
        data: Path = tmp_path_factory.mktemp("fuzz")
        service = ProxyService(make_settings(data, str(sim.make_url("")).rstrip("/")))
        await service.start()
        parts.update(sim=sim, service=service)
        return service.base_url

    async def stop() -> None:
        await parts["service"].stop()
        await parts["sim"].close()

    url = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def client(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, timeout=30) as http:
        yield http


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces, CI never flakes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_no_proxy_5xx_whatever_the_body(client: httpx.Client, route: str, body: bytes) -> None:
    reply = client.post(route, content=body, headers={"Content-Type": "application/json"})
    # The simulator is up, fast and answers every body (400 for what Ollama refuses), so
    # no 5xx is acceptable here, not even a 502 "from upstream": it would be the proxy's.
    assert reply.status_code < 500, reply.text[:300]
    assert "Traceback" not in reply.text
    if reply.status_code >= 400 and route.startswith("/v1/messages"):
        body = reply.json()
        assert body["type"] == "error" and body["error"]["message"]
    elif reply.status_code >= 400 and route.startswith("/v1beta/"):
        error = reply.json()["error"]  # Google's: {"error": {"code", "message", "status"}}
        assert error["code"] == reply.status_code and error["message"] and error["status"]
    elif reply.status_code >= 400 and route.startswith("/v1/"):
        error = reply.json()["error"]
        assert isinstance(error["message"], str) and error["message"]


def test_still_healthy_after_the_fuzzing(client: httpx.Client) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json()["ollama"]["reachable"] is True
