"""Model profiles through the running proxy: values reach Ollama on every route and
dialect in both modes, they are part of the cache key, /api/show tells the truth about the
context, and a truncated prompt is never silent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import ollama
import openai
import pytest

from proxy_core import ProxyService
from proxy_core.events import ContextTruncated
from proxy_core.profiles import ProfileBook, ProfileError, apply_profile, parse_profiles
from proxy_core.settings import ProxySettings, SettingsError
from tests.conftest import Sim, make_settings

MSG = [{"role": "user", "content": "hello"}]


async def started(sim: Sim, tmp_path: Path, models: dict[str, Any]) -> ProxyService:
    service = ProxyService(make_settings(tmp_path, sim.url, models=models))
    await service.start()
    return service


@pytest.fixture
async def profiled(sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    service = await started(sim, tmp_path, {"llama3.2": {"num_ctx": 8192, "keep_alive": "30m"}})
    try:
        yield service
    finally:
        await service.stop()


def last_body(sim: Sim) -> dict[str, Any]:
    generations = [r for r in sim.recorder.requests if r.path in ("/api/chat", "/api/generate")]
    return generations[-1].json()  # type: ignore[no-any-return]


async def post(service: ProxyService, path: str, body: Any) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.post(service.base_url + path, json=body) as resp:
            await resp.read()
            return resp


# -- pure ----------------------------------------------------------------------------------


def test_default_fills_in_enforce_overrides() -> None:
    book = ProfileBook(parse_profiles({"llama3.2": {"num_ctx": 8192, "keep_alive": "30m"}}))
    body: dict[str, Any] = {"model": "llama3.2:latest", "options": {"num_ctx": 2048}}
    assert apply_profile(body, book.profile_for("llama3.2:latest"))
    assert body == {"model": "llama3.2:latest", "options": {"num_ctx": 2048}, "keep_alive": "30m"}
    enforce = ProfileBook(parse_profiles({"*": {"num_ctx": 4096, "mode": "enforce"}}))
    body = {"model": "any", "options": {"num_ctx": 2048, "temperature": 0}, "keep_alive": 0}
    assert apply_profile(body, enforce.profile_for("any"))
    assert body["options"] == {"num_ctx": 4096, "temperature": 0} and body["keep_alive"] == 0
    assert not apply_profile(body, enforce.profile_for("any"))  # nothing left to change


def test_a_models_own_profile_overrides_the_star_field_by_field() -> None:
    book = ProfileBook(
        parse_profiles(
            {"*": {"num_ctx": 4096, "keep_alive": "5m"}, "qwen2.5-coder:1.5b": {"num_ctx": 8192}},
            {"llama3.2": 16384},  # the older num_ctx_defaults setting
        )
    )
    coder = book.profile_for("qwen2.5-coder:1.5b")
    assert (coder.num_ctx, coder.keep_alive) == (8192, "5m")
    assert book.profile_for("llama3.2").num_ctx == 16384
    assert book.profile_for("other").num_ctx == 4096


@pytest.mark.parametrize(
    "bad",
    [
        {"m": {"num_ctx": 0}},
        {"m": {"num_ctx": "big"}},
        {"m": {"mode": "strict"}},
        {"m": {"priority": "urgent"}},
        {"m": {"num_parallel": -1}},
        {"m": {"colour": "red"}},
        {"m": 5},
    ],
)
def test_bad_profiles_name_the_model(bad: dict[str, Any]) -> None:
    with pytest.raises(ProfileError, match="'m'"):
        parse_profiles(bad)
    with pytest.raises(SettingsError, match="models"):
        ProxySettings(models=bad)


# -- every route, every dialect ------------------------------------------------------------

ROUTES = [
    ("/api/chat", {"model": "llama3.2", "messages": MSG, "stream": False}),
    ("/api/generate", {"model": "llama3.2", "prompt": "hi", "stream": False}),
    ("/v1/chat/completions", {"model": "llama3.2", "messages": MSG}),
    ("/v1/completions", {"model": "llama3.2", "prompt": "hi"}),
    ("/v1/messages", {"model": "llama3.2", "messages": MSG, "max_tokens": 20}),
    ("/v1/responses", {"model": "llama3.2", "input": "hi"}),
]


@pytest.mark.parametrize(("path", "body"), ROUTES)
async def test_profile_values_reach_ollama_on_every_route(
    profiled: ProxyService, sim: Sim, path: str, body: dict[str, Any]
) -> None:
    assert (await post(profiled, path, body)).status == 200
    sent = last_body(sim)
    assert sent["options"]["num_ctx"] == 8192 and sent["keep_alive"] == "30m"


@pytest.mark.parametrize("mode", ["default", "enforce"])
async def test_a_client_value_wins_only_in_default_mode(
    sim: Sim, tmp_path: Path, mode: str
) -> None:
    service = await started(
        sim, tmp_path, {"llama3.2": {"num_ctx": 8192, "keep_alive": "30m", "mode": mode}}
    )
    try:
        body = {
            "model": "llama3.2",
            "messages": MSG,
            "stream": False,
            "options": {"num_ctx": 2048},
            "keep_alive": "1m",
        }
        await post(service, "/api/chat", body)
        openai_body = {"model": "llama3.2", "messages": MSG, "options": {"num_ctx": 2048}}
        await post(service, "/v1/chat/completions", openai_body)
    finally:
        await service.stop()
    native, translated = [r.json() for r in sim.recorder.by_path("/api/chat")]
    expected = 2048 if mode == "default" else 8192
    assert native["options"]["num_ctx"] == translated["options"]["num_ctx"] == expected
    assert native["keep_alive"] == ("1m" if mode == "default" else "30m")


async def test_a_profile_is_part_of_the_cache_key_as_if_sent(
    profiled: ProxyService, sim: Sim
) -> None:
    deterministic = {
        "model": "llama3.2",
        "messages": MSG,
        "stream": False,
        "options": {"temperature": 0},
    }
    explicit = {**deterministic, "options": {"temperature": 0, "num_ctx": 8192}}
    assert (await post(profiled, "/api/chat", deterministic)).headers["X-Cache"] == "MISS"
    assert profiled.state is not None
    await profiled.state.cache.drain()
    assert (await post(profiled, "/api/chat", explicit)).headers["X-Cache"] == "HIT"
    other = {**deterministic, "options": {"temperature": 0, "num_ctx": 2048}}
    assert (await post(profiled, "/api/chat", other)).headers["X-Cache"] == "MISS"


# -- honest model info ---------------------------------------------------------------------


async def test_show_reports_the_context_the_model_runs_with(profiled: ProxyService) -> None:
    client = ollama.AsyncClient(host=profiled.base_url)
    shown = await client.show("llama3.2")
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.context_length"] == 8192
    assert shown.modelinfo["ollama_tray_proxy.architecture_context_length"] == 131072
    other = await client.show("qwen2.5-coder:1.5b")  # no profile: Ollama's answer untouched
    assert other.modelinfo is not None and other.modelinfo["qwen2.context_length"] == 32768
    async with openai.AsyncOpenAI(base_url=profiled.base_url + "/v1", api_key="x") as oa:
        models = {m.id: m for m in (await oa.models.list()).data}
        assert models["llama3.2:latest"].context_length == 8192  # type: ignore[attr-defined]
        assert not hasattr(models["qwen2.5-coder:1.5b"], "context_length")


async def test_honest_show_can_be_switched_off(sim: Sim, tmp_path: Path) -> None:
    service = await started(sim, tmp_path, {"llama3.2": {"num_ctx": 8192, "honest_show": False}})
    try:
        shown = await ollama.AsyncClient(host=service.base_url).show("llama3.2")
    finally:
        await service.stop()
    assert shown.modelinfo is not None and shown.modelinfo["llama.context_length"] == 131072


# -- truncation is never silent ------------------------------------------------------------

LONG = " ".join(f"word{i}" for i in range(60))


async def test_a_truncated_prompt_gives_header_metric_and_notice(sim: Sim, tmp_path: Path) -> None:
    service = await started(sim, tmp_path, {"llama3.2": {"num_ctx": 32}})
    notices: list[ContextTruncated] = []
    service.add_listener(notices.append)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                service.base_url + "/api/chat",
                json={
                    "model": "llama3.2",
                    "messages": [{"role": "user", "content": LONG}],
                    "stream": False,
                },
                headers={"User-Agent": "Continue/1.2 (vscode)"},
            ) as resp:
                reply = json.loads(await resp.read())
                truncated = resp.headers.get("X-Context-Truncated")
            async with http.get(service.base_url + "/metrics") as resp:
                metrics = await resp.text()
        client = anthropic.AsyncAnthropic(base_url=service.base_url, api_key="x", max_retries=0)
        async with client:
            await client.messages.create(
                model="llama3.2", max_tokens=10, messages=[{"role": "user", "content": LONG}]
            )
        short = await post(
            service, "/api/chat", {"model": "llama3.2", "messages": MSG, "stream": False}
        )
    finally:
        await service.stop()
    assert reply["prompt_eval_count"] == 32 and truncated == "32/32"
    assert 'proxy_context_truncations_total{client="continue",model="other"} 1.0' in metrics
    assert notices[0] == ContextTruncated("llama3.2", "continue", 32, 32)
    assert [n.client for n in notices] == ["continue", "anthropic-sdk"]
    assert "X-Context-Truncated" not in short.headers
