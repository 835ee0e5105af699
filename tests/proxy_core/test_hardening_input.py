"""Issue 11, bad input and HTTP edge cases: never a 500, always the route's dialect."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings
from tests.fakes.ollama_sim import FaultyReply

CHAT_PATHS = ["/api/chat", "/v1/chat/completions"]


def chat_body(content: str, **extra: object) -> dict[str, object]:
    return {"model": "llama3.2", "messages": [{"role": "user", "content": content}], **extra}


async def raw_exchange(service: ProxyService, request: bytes, read_for: float = 5.0) -> bytes:
    """Send raw bytes, return everything the proxy sent until it closed (or time ran out)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", service.address[1])
    writer.write(request)
    await writer.drain()
    out = b""
    try:
        async with asyncio.timeout(read_for):
            while chunk := await reader.read(65536):
                out += chunk
    except TimeoutError:
        pass
    writer.close()
    return out


def assert_dialect_error(path: str, status: int, raw: bytes, expected: int) -> None:
    assert status == expected, raw[:300]
    body = json.loads(raw)
    if path.startswith("/v1/"):
        assert isinstance(body["error"]["message"], str) and body["error"]["type"]
    else:
        assert isinstance(body["error"], str)


# -- 3. lone surrogates and invalid UTF-8 ----------------------------------------------------


@pytest.mark.parametrize("path", CHAT_PATHS)
@pytest.mark.parametrize("cacheable", [False, True])
async def test_a_lone_surrogate_escape_is_never_a_500(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str, cacheable: bool
) -> None:
    options = {"options": {"temperature": 0}} if cacheable else {}
    extra = {"temperature": 0} if cacheable and path.startswith("/v1") else {}
    body = json.dumps(chat_body("bad \ud800 text", stream=False, **options, **extra))
    assert "\\ud800" in body
    async with http.post(proxy.base_url + path, data=body.encode()) as resp:
        raw = await resp.read()
    # Forwarded as Ollama would take it (Go decodes a lone surrogate to U+FFFD).
    assert resp.status == 200, raw[:300]
    sent = sim.recorder.by_path("/api/chat")[-1].body
    assert "\ufffd" in json.loads(sent)["messages"][-1]["content"] or b"\\ud800" in sent


@pytest.mark.parametrize("path", CHAT_PATHS)
async def test_invalid_utf8_bytes_are_400_or_forwarded_never_500(
    proxy: ProxyService, http: aiohttp.ClientSession, path: str
) -> None:
    body = (
        b'{"model":"llama3.2","stream":false,'
        b'"messages":[{"role":"user","content":"a\xed\xa0\x80b"}]}'
    )
    async with http.post(proxy.base_url + path, data=body) as resp:
        raw = await resp.read()
    assert resp.status in (200, 400), raw[:300]
    if resp.status == 400:
        assert_dialect_error(path, resp.status, raw, 400)


NOT_JSON_NUMBERS = ["NaN", "-Infinity", "1e400"]
MESSAGES = b'"messages":[{"role":"user","content":"hi"}],'
TRANSLATED = {
    "/v1/chat/completions": b'{"model":"llama3.2",' + MESSAGES,
    "/v1/completions": b'{"model":"llama3.2","prompt":"hi",',
    "/v1/messages": b'{"model":"llama3.2","max_tokens":8,' + MESSAGES,
    "/v1/responses": b'{"model":"llama3.2","input":"hi",',
}


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
@pytest.mark.parametrize("path", list(TRANSLATED))
async def test_a_number_json_does_not_have_is_400_in_dialect_and_never_sent(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str, number: str
) -> None:
    """NaN, Infinity and 1e400 parse in Python, not in JSON: translated, they reached
    Ollama as null (the client's value silently dropped)."""
    body = TRANSLATED[path] + b'"temperature":' + number.encode() + b"}"
    async with http.post(proxy.base_url + path, data=body) as resp:
        raw = await resp.read()
    assert_dialect_error(path, resp.status, raw, 400)
    assert "not valid JSON" in raw.decode()
    assert sim.recorder.by_path("/api/chat") == [] and sim.recorder.by_path("/api/generate") == []


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
async def test_a_number_json_does_not_have_reaches_ollama_as_sent_on_the_native_api(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, number: str
) -> None:
    """The native API forwards the client's bytes; Ollama (Go) refuses them with a 400."""
    body = b'{"model":"llama3.2","prompt":"hi","options":{"temperature":' + number.encode() + b"}}"
    async with http.post(proxy.base_url + "/api/generate", data=body) as resp:
        raw = await resp.read()
    assert_dialect_error("/api/generate", resp.status, raw, 400)
    assert sim.recorder.by_path("/api/generate")[-1].body == body


DEEP_ARGUMENTS = "[" * 100_000 + "]" * 100_000
EARLIER_CALL = {
    "/v1/chat/completions": {
        "model": "llama3.2",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": DEEP_ARGUMENTS},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    },
    "/v1/responses": {
        "model": "llama3.2",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": DEEP_ARGUMENTS},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    },
}


@pytest.mark.parametrize("path", list(EARLIER_CALL))
async def test_tool_call_arguments_nested_too_deeply_are_400_in_dialect(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str
) -> None:
    """The arguments of an earlier tool call are a JSON string parsed by the proxy; one
    nested past Python's recursion limit was a 500."""
    async with http.post(proxy.base_url + path, json=EARLIER_CALL[path]) as resp:
        raw = await resp.read()
    assert_dialect_error(path, resp.status, raw, 400)
    assert "arguments" in raw.decode()
    assert sim.recorder.by_path("/api/chat") == []


# -- 4. compressed bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAT_PATHS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_broken_compressed_body_is_400_in_dialect(
    proxy: ProxyService, http: aiohttp.ClientSession, path: str, encoding: str
) -> None:
    async with http.post(
        proxy.base_url + path,
        data=b"this is not compressed at all" * 10,
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
    ) as resp:
        raw = await resp.read()
    assert_dialect_error(path, resp.status, raw, 400)


@pytest.mark.parametrize("path", CHAT_PATHS)
async def test_a_valid_gzip_body_is_served_and_not_sent_upstream_compressed(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str
) -> None:
    data = gzip.compress(json.dumps(chat_body("zipped", stream=False)).encode())
    async with http.post(
        proxy.base_url + path, data=data, headers={"Content-Encoding": "gzip"}
    ) as resp:
        raw = await resp.read()
    assert resp.status == 200, raw[:300]
    upstream = sim.recorder.by_path("/api/chat")[-1]
    assert "content-encoding" not in {k.lower() for k in upstream.headers}
    assert upstream.json()["messages"][-1]["content"] == "zipped"


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    return {"max_body_size": 1 << 20}


@pytest.mark.parametrize("path", [*CHAT_PATHS, "/api/show"])
async def test_a_body_inflating_past_the_limit_is_413(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str
) -> None:
    bomb = zlib.compress(b" " * (64 << 20), 9)  # 64 MiB of spaces in about 64 KiB
    assert len(bomb) < 100_000
    async with http.post(
        proxy.base_url + path, data=bomb, headers={"Content-Encoding": "deflate"}
    ) as resp:
        raw = await resp.read()
    assert_dialect_error(path, resp.status, raw, 413)
    assert sim.recorder.requests == []


# -- 5. a non-UTF-8 Authorization header ----------------------------------------------------


@pytest.fixture
async def token_proxy(sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    service = ProxyService(
        make_settings(tmp_path, sim.url, require_token=True, access_token="t" * 32)
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_a_non_utf8_authorization_header_is_401(token_proxy: ProxyService) -> None:
    raw = await raw_exchange(
        token_proxy,
        b"GET /api/tags HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \xff\xfe\xe9t\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert raw.startswith(b"HTTP/1.1 401"), raw[:200]


# -- 6. upstream replies that are not the expected JSON ----------------------------------------


@pytest.mark.parametrize("reply", [b"{not json", b"[1, 2]", b'{"models": 5}', b'{"models": [1]}'])
@pytest.mark.parametrize(
    ("method", "path", "upstream_path", "body"),
    [
        ("GET", "/v1/models", "/api/tags", None),
        ("GET", "/v1/models/llama3.2", "/api/tags", None),
        ("POST", "/v1/embeddings", "/api/embed", {"model": "nomic-embed-text", "input": "x"}),
    ],
)
async def test_unexpected_upstream_json_is_502_naming_the_upstream(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    reply: bytes,
    method: str,
    path: str,
    upstream_path: str,
    body: object,
) -> None:
    sim.config.override_replies[upstream_path] = reply
    async with http.request(method, proxy.base_url + path, json=body) as resp:
        raw = await resp.read()
    if reply == b'{"models": [1]}' and path == "/v1/models":
        assert resp.status == 200  # entries that are not objects are skipped
        return
    if reply == b'{"models": [1]}' and path.startswith("/v1/models/"):
        assert resp.status == 404
        return
    assert_dialect_error(path, resp.status, raw, 502)
    assert sim.url.split("//")[1] in json.loads(raw)["error"]["message"]


DONE = b'{"model":"llama3.2","message":{"role":"assistant","content":""},"done":true}\n'
MISSHAPEN_REPLIES = [
    b'{"model":"llama3.2","message":"x","done":false}\n' + DONE,
    b'{"model":"llama3.2","message":{"role":"assistant","content":"","tool_calls":[5]},'
    b'"done":false}\n' + DONE,
    b'{"model":"llama3.2","message":{"role":"assistant","content":"a"},"done":true,'
    b'"eval_count":"x","prompt_eval_count":[]}\n',
]
DIALECT_BODIES = {
    "/v1/chat/completions": {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/messages": {
        "model": "llama3.2",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "/v1/responses": {"model": "llama3.2", "input": "hi"},
    "/v1beta/models/llama3.2:generateContent": {"contents": [{"parts": [{"text": "hi"}]}]},
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("lines", MISSHAPEN_REPLIES)
@pytest.mark.parametrize("path", list(DIALECT_BODIES))
async def test_a_native_reply_of_an_unexpected_shape_is_ollamas_fault_in_every_dialect(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    path: str,
    lines: bytes,
    stream: bool,
) -> None:
    """A reply line the dialect cannot map was a 500, or a stream cut with a second reply
    inside it. Whole: a 502 in the dialect naming Ollama; streamed: the dialect's error
    event, and the stream ends as a stream should."""
    sim.config.override_replies["/api/chat"] = FaultyReply([lines], "application/x-ndjson")
    body: dict[str, object] = dict(DIALECT_BODIES[path])
    if stream and "generateContent" in path:
        path = path.replace("generateContent", "streamGenerateContent?alt=sse")
    elif stream:
        body["stream"] = True
    async with http.post(proxy.base_url + path, json=body) as resp:
        raw = await resp.read()  # a cut stream raises ClientPayloadError here
    assert b"internal proxy error" not in raw
    if stream:  # an error event, or a dialect that reads past what another cannot
        assert resp.status == 200, raw
    elif resp.status != 200:
        assert resp.status == 502 and b"Ollama sent a reply of an unexpected shape" in raw, raw


# -- 7. HTTP/1.0 clients asking for a stream --------------------------------------------------


@pytest.mark.parametrize("path", CHAT_PATHS)
async def test_http10_client_gets_a_close_delimited_stream(proxy: ProxyService, path: str) -> None:
    body = json.dumps(chat_body("old client", stream=True)).encode()
    raw = await raw_exchange(
        proxy,
        f"POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")), raw[:300]
    assert b"transfer-encoding" not in head.lower()
    if path == "/api/chat":
        lines = [json.loads(line) for line in payload.splitlines() if line]
        assert len(lines) > 2 and lines[-1]["done"] is True
    else:
        assert payload.rstrip().endswith(b"data: [DONE]")
        assert payload.count(b"data: ") > 3


# -- 8. Expect: 100-continue is not answered before the checks ------------------------------


async def test_expect_continue_without_token_is_401_without_inviting_the_body(
    token_proxy: ProxyService,
) -> None:
    raw = await raw_exchange(
        token_proxy,
        b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000000\r\nExpect: 100-continue\r\n\r\n",
        read_for=2,
    )
    assert not raw.startswith(b"HTTP/1.1 100"), raw[:200]
    assert raw.startswith(b"HTTP/1.1 401"), raw[:200]


async def test_expect_continue_with_a_huge_length_is_413_without_inviting_the_body(
    proxy: ProxyService,
) -> None:
    raw = await raw_exchange(
        proxy,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n"
        b"Expect: 100-continue\r\n\r\n",
        read_for=2,
    )
    assert not raw.startswith(b"HTTP/1.1 100"), raw[:200]
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    assert b'"type"' in raw


async def test_expect_continue_with_token_and_small_body_is_served(
    token_proxy: ProxyService,
) -> None:
    body = json.dumps(chat_body("go", stream=False)).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", token_proxy.address[1])
    writer.write(
        b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
        + b"t" * 32
        + f"\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert first.startswith(b"HTTP/1.1 100")
    writer.write(body)
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert rest.startswith(b"HTTP/1.1 200")


# -- 9. the proxy's token never reaches Ollama --------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/chat", chat_body("x", stream=False)),
        ("POST", "/v1/chat/completions", chat_body("x")),
        ("GET", "/api/tags", None),
        ("POST", "/api/show", {"model": "llama3.2"}),
    ],
)
async def test_the_proxy_token_is_never_forwarded(
    token_proxy: ProxyService, sim: Sim, method: str, path: str, body: object
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method,
            token_proxy.base_url + path,
            json=body,
            headers={"Authorization": "Bearer " + "t" * 32},
        ) as resp:
            await resp.read()
    assert resp.status == 200
    for rec in sim.recorder.requests:
        assert "authorization" not in {k.lower() for k in rec.headers}


async def test_upstream_credentials_are_sent_only_upstream(sim: Sim, tmp_path: Path) -> None:
    secret = "Bearer upstream-gateway-secret"
    service = ProxyService(make_settings(tmp_path, sim.url, upstream_authorization=secret))
    await service.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                service.base_url + "/api/chat",
                json=chat_body("x", stream=False),
                headers={"Authorization": "Bearer client-value"},
            ) as resp:
                await resp.read()
    finally:
        await service.stop()
    assert sim.recorder.requests[-1].headers.get("Authorization") == secret
    assert "upstream-gateway-secret" not in json.dumps(service.settings.to_json(redact=True))


@pytest.mark.parametrize("vector", [["x"], [1e300], [None]])
async def test_an_embedding_base64_cannot_pack_is_ollamas_502(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, vector: list[object]
) -> None:
    """A vector that is no 32-bit floats (text, a number past a float32) made the base64
    encoding fail with struct's own errors: a 500."""
    reply = {"model": "nomic-embed-text", "embeddings": [vector], "prompt_eval_count": 1}
    sim.config.override_replies["/api/embed"] = json.dumps(reply).encode()
    body = {"model": "nomic-embed-text", "input": "x", "encoding_format": "base64"}
    async with http.post(proxy.base_url + "/v1/embeddings", json=body) as resp:
        raw = await resp.read()
    assert_dialect_error("/v1/embeddings", resp.status, raw, 502)
    assert b"Ollama sent a reply of an unexpected shape" in raw


@pytest.mark.parametrize("reply", [b"[1]", b'"x"', b"{not json", b"[" * 5000 + b"]" * 5000])
async def test_healthz_says_what_an_answer_that_is_not_ollamas_is(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, reply: bytes
) -> None:
    """Another program on Ollama's port answering /api/version with JSON that is no
    object made the proxy's health check a 500 (the tray's status reads it)."""
    sim.config.override_replies["/api/version"] = reply
    async with http.get(proxy.base_url + "/healthz") as resp:
        health = await resp.json()
    assert resp.status == 200 and health["proxy"] == "up"
    assert "version" not in health["ollama"] and "not Ollama's" in health["ollama"]["error"]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses"])
async def test_a_model_description_nested_past_the_parser_is_not_a_500(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str
) -> None:
    """Asking for thinking reads the model's capabilities (/api/show); a reply nested
    past Python's recursion limit was a 500. Unknown capabilities: the request goes on."""
    sim.config.override_replies["/api/show"] = b"[" * 5000 + b"]" * 5000
    body: dict[str, object] = {"model": "llama3.2", "reasoning": {"effort": "high"}, "input": "x"}
    if path == "/v1/messages":
        body = {
            "model": "llama3.2",
            "max_tokens": 5,
            "thinking": {"type": "enabled", "budget_tokens": 100},
            "messages": [{"role": "user", "content": "x"}],
        }
    async with http.post(proxy.base_url + path, json=body) as resp:
        raw = await resp.read()
    assert resp.status != 500 and b"internal proxy error" not in raw, raw[:300]
