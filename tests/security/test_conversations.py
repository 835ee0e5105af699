"""Issue 24, stored Responses conversations (``previous_response_id``): ids nobody can
guess; a conversation continues only for a client with the token when one is required;
deep chains and huge inputs are bounded in memory and on disk; malformed input is a 4xx
in Responses' shape, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.dialects import response_store
from proxy_core.dialects.response_store import ResponseStore, TooLong, decode, encode
from tests.conftest import Sim, make_settings

URL = "/v1/responses"


async def create(
    http: aiohttp.ClientSession, proxy: ProxyService, body: dict[str, Any], **headers: str
) -> tuple[int, dict[str, Any]]:
    async with http.post(proxy.base_url + URL, json=body, headers=headers) as resp:
        return resp.status, json.loads(await resp.read())


async def test_ids_are_unguessable_and_a_guess_finds_nothing(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    ids = set()
    for _ in range(5):
        status, reply = await create(http, proxy, {"model": "llama3.2", "input": "hi"})
        assert status == 200 and re.fullmatch(r"resp_[0-9a-f]{32}", reply["id"])
        ids.add(reply["id"])
    assert len(ids) == 5
    first = min(ids)
    for guess in (first[:-1] + ("0" if first[-1] != "0" else "1"), "resp_1", "resp_"):
        status, reply = await create(
            http, proxy, {"model": "llama3.2", "input": "x", "previous_response_id": guess}
        )
        assert status == 404 and "not found" in reply["error"]["message"]


async def test_a_conversation_continues_only_with_the_token_when_required(
    sim: Sim, tmp_path: Any, http: aiohttp.ClientSession
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, require_token=True))
    await service.start()
    try:
        good = {"Authorization": f"Bearer {service.access_token}"}
        status, first = await create(http, service, {"model": "llama3.2", "input": "a"}, **good)
        assert status == 200
        follow = {"model": "llama3.2", "input": "b", "previous_response_id": first["id"]}
        for bad in ({}, {"Authorization": "Bearer wrong-wrong-wrong-wrong"}):
            status, reply = await create(http, service, follow, **bad)
            assert status == 401 and "token" in reply["error"]["message"]
        status, _ = await create(http, service, follow, **good)
        assert status == 200
    finally:
        await service.stop()


async def test_a_chain_past_the_limit_is_refused_clearly_not_forgotten(
    proxy: ProxyService, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_store, "MAX_CONVERSATION_BYTES", 4000)
    previous = None
    for step in range(200):
        body: dict[str, Any] = {"model": "llama3.2", "input": f"step {step} " + "x" * 200}
        if previous:
            body["previous_response_id"] = previous
        status, reply = await create(http, proxy, body)
        if status != 200:
            assert status == 400 and reply["error"]["param"] == "previous_response_id"
            assert "too long to continue" in reply["error"]["message"]
            break
        previous = reply["id"]
    else:
        pytest.fail("the chain was never bounded")


async def test_memory_copies_are_bounded_in_bytes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_store, "MEMORY_BYTES", 10_000)
    store = ResponseStore(tmp_path / "responses")
    big = [{"role": "user", "content": "y" * 3000}]
    for number in range(50):
        store.put(f"resp_{number}", big)
    assert store._recent_bytes <= 10_000 and len(store._recent) <= 3
    assert await store.get("resp_49") == big  # from memory
    await asyncio.gather(*store._pending)  # the disk writes run in the executor
    assert await store.get("resp_0") == big  # evicted from memory, still on disk
    await store.close()


@pytest.mark.parametrize(
    "raw, expected",
    [
        (None, None),
        (b"not json", None),
        (b'{"role": "user"}', None),
        (b"[1, 2]", None),
        (b'"text"', None),
        (b'[{"role": "user", "content": "ok"}]', [{"role": "user", "content": "ok"}]),
    ],
)
def test_stored_values_are_validated_when_read(raw: bytes | None, expected: object) -> None:
    """A store shared through Redis may hold anything: only a list of messages counts."""
    assert decode(raw) == expected


def test_a_too_long_marker_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_store, "MAX_CONVERSATION_BYTES", 100)
    with pytest.raises(TooLong):
        decode(encode([{"role": "user", "content": "z" * 200}]))


@pytest.mark.parametrize(
    "body",
    [
        {"model": "llama3.2", "input": 42},
        {"model": "llama3.2", "input": [42]},
        {"model": "llama3.2", "input": [{"type": "message", "role": "user", "content": 5}]},
        {"model": "llama3.2", "input": [{"type": "function_call_output"}]},
        {"model": "llama3.2", "input": "x", "previous_response_id": 7},
        {"model": "llama3.2", "input": "x", "previous_response_id": ""},
        {"model": "llama3.2", "input": "x", "previous_response_id": "r" * 100_000},
        {"model": "llama3.2", "input": "x", "previous_response_id": "../../../etc/passwd"},
        {"model": "llama3.2", "input": "x", "previous_response_id": "\x00\n"},
        {"model": "llama3.2", "input": "x", "stream": "yes"},
        {"model": "llama3.2", "input": "x", "tools": "all"},
        {"model": "llama3.2", "input": "x", "tools": [{"type": "function"}]},
        {"model": "llama3.2", "input": "x", "instructions": ["a"]},
        {"model": 5, "input": "x"},
        {"input": "x"},
        {"model": "llama3.2", "input": "x", "max_output_tokens": "many"},
        {"model": "llama3.2", "input": "x", "reasoning": "deep"},
        {"model": "llama3.2", "input": "x", "text": {"format": "yaml"}},
    ],
)
async def test_malformed_input_is_a_client_error_in_responses_shape(
    proxy: ProxyService, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    status, reply = await create(http, proxy, body)
    assert 400 <= status < 500, (status, reply)
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    assert reply["error"]["type"] in ("invalid_request_error", "not_found_error")
