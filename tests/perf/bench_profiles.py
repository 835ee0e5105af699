"""Model profiles and lanes: their cost on the hot path, and what lanes do for an IDE
session (a chat stream while the user types, autocomplete every 150 ms, one slot).

    python -m tests.perf.run_all profiles
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService, ProxySettings
from proxy_core.clients import recognise
from proxy_core.lanes import Lanes
from proxy_core.profiles import NO_PROFILE, ProfileBook, apply_profile, parse_profiles
from tests.fakes.ollama_sim import SIM_CONFIG, SIM_RECORDER, create_sim_app

ROUNDS = 100_000
HEADERS = {"User-Agent": "ollama-python/0.6.1 (x86_64 linux) Python/3.11.7"}


async def hot_path_cost() -> tuple[float, float]:
    """Microseconds per request: (no profile configured, a profile that changes the body)."""
    empty = ProfileBook({})
    book = ProfileBook(parse_profiles({"*": {"num_ctx": 8192, "keep_alive": "30m"}}))
    lanes = Lanes()
    body = {"model": "llama3.2", "messages": [], "options": {"temperature": 0}}

    async def one(profiles: ProfileBook) -> None:
        recognise(HEADERS)
        profile = profiles.profile_for("llama3.2")
        if profile is not NO_PROFILE:
            apply_profile(dict(body), profile)
        await lanes.acquire("llama3.2", 4, background=False, client="ollama-python")
        lanes.release("llama3.2")

    results = []
    for profiles in (empty, book):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            await one(profiles)
        results.append((time.perf_counter() - started) / ROUNDS * 1e6)
    return results[0], results[1]


async def ide_session(lanes: bool) -> dict[str, Any]:
    """One chat stream plus an autocomplete every 150 ms for 3 s; Ollama with one slot."""
    sim = TestServer(create_sim_app())
    await sim.start_server()
    config = sim.app[SIM_CONFIG]
    config.parallel, config.token_delay, config.reply_words = 1, 0.03, 60
    with TemporaryDirectory() as data:
        settings = ProxySettings(
            port=0,
            ollama_url=str(sim.make_url("")).rstrip("/"),
            data_dir=Path(data),
            monitor_interval=0,
            cache_enabled=False,
            # Without lanes every request goes straight to Ollama, which queues it.
            models={"*": {"num_parallel": 1 if lanes else 64}},
        )
        service = ProxyService(settings)
        await service.start()
        latencies: list[float] = []
        statuses: list[int] = []
        try:
            async with aiohttp.ClientSession(headers={"User-Agent": "Continue/1.2"}) as http:

                async def post(path: str, body: dict[str, Any]) -> None:
                    started = time.perf_counter()
                    async with http.post(service.base_url + path, json=body) as resp:
                        await resp.read()
                    if path == "/api/generate":
                        statuses.append(resp.status)
                        if resp.status == 200:
                            latencies.append(time.perf_counter() - started)

                chat = asyncio.ensure_future(
                    post(
                        "/api/chat",
                        {
                            "model": "qwen2.5-coder:1.5b",
                            "messages": [{"role": "user", "content": "explain this file"}],
                        },
                    )
                )
                await asyncio.sleep(0.05)
                typing = []
                for n in range(20):
                    typing.append(
                        asyncio.ensure_future(
                            post(
                                "/api/generate",
                                {
                                    "model": "qwen2.5-coder:1.5b",
                                    "prompt": f"def f{n}(",
                                    "suffix": ")",
                                    "stream": True,
                                },
                            )
                        )
                    )
                    await asyncio.sleep(0.15)
                await asyncio.gather(chat, *typing)
        finally:
            await service.stop()
    generations = len(sim.app[SIM_RECORDER].by_path("/api/generate"))
    await sim.close()
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan"),
        "answered": len(latencies),
        "max": ordered[-1] if ordered else float("nan"),
        "superseded": statuses.count(499),
        "generations": generations,
    }


async def run() -> list[tuple[str, str]]:
    plain, profiled = await hot_path_cost()
    without = await ide_session(lanes=False)
    with_lanes = await ide_session(lanes=True)
    return [
        ("profile lookup + client + lane, no profile (us/request)", f"{plain:.2f}"),
        ("profile lookup + apply + client + lane (us/request)", f"{profiled:.2f}"),
        (
            "IDE session without lanes: autocompletes answered; p50 / p95 (ms)",
            f"{without['answered']} of 20; {without['p50'] * 1000:.0f} / "
            f"{without['p95'] * 1000:.0f} (max {without['max'] * 1000:.0f})",
        ),
        (
            "IDE session with lanes: autocompletes answered; p50 / p95 (ms)",
            f"{with_lanes['answered']} of 20; {with_lanes['p50'] * 1000:.0f} / "
            f"{with_lanes['p95'] * 1000:.0f} (max {with_lanes['max'] * 1000:.0f})",
        ),
        (
            "autocomplete generations at Ollama without / with lanes",
            f"{without['generations']} / {with_lanes['generations']} "
            f"({with_lanes['superseded']} superseded, never sent)",
        ),
    ]
