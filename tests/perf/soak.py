"""Soak: mixed traffic through the headless proxy for a set time, reporting errors and
RSS over time. Not part of `make test`; run ``make soak`` (or
``python -m tests.perf.soak --minutes 10``).

Traffic at concurrency 32: native and OpenAI streams, cache hits, unknown-model errors
(404 expected), clients that disconnect mid-stream, and model lists. Passes when there
are no unexpected errors and RSS after warm-up stays flat (growth under 10%).

``--tray`` soaks the tray app (its real controller on the Qt loop, dashboard shown,
offscreen) instead of the headless proxy. A probe sends one cheap request every 250 ms
throughout and for ``--idle-after`` seconds after the traffic ends (past the 60 s body
timeout, when a burst's timers come due: the tray once froze then); the slowest probe
must stay under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from typing import IO

import aiohttp
import psutil

from .bench_tray import start_tray
from .harness import free_port, processes, start_proxy, start_sim, wait_ready

RSS_GROWTH_LIMIT = 0.10
PROBE_LIMIT = 1.0  # seconds: a cached request normally takes 1-2 ms


def _chat(content: str, *, stream: bool, deterministic: bool, model: str = "llama3.2") -> dict:  # type: ignore[type-arg]
    body: dict = {  # type: ignore[type-arg]
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": content}],
    }
    if deterministic:
        body["options"] = {"temperature": 0}
    return body


async def one_request(http: aiohttp.ClientSession, base: str, rng: random.Random) -> str | None:
    """Run one random request; return a description of anything unexpected."""
    kind = rng.random()
    if kind < 0.25:  # native stream, fresh
        async with http.post(
            base + "/api/chat", json=_chat(f"s{rng.random()}", stream=True, deterministic=False)
        ) as resp:
            body = await resp.read()
            return (
                None if resp.status == 200 and b'"done":true' in body else f"stream {resp.status}"
            )
    if kind < 0.50:  # cache hits (a small set of deterministic questions), both dialects
        question = f"q{rng.randrange(10)}"
        if rng.random() < 0.5:
            async with http.post(
                base + "/api/chat", json=_chat(question, stream=False, deterministic=True)
            ) as resp:
                await resp.read()
                return None if resp.status == 200 else f"hit {resp.status}"
        async with http.post(
            base + "/v1/chat/completions",
            json={
                "model": "llama3.2",
                "temperature": 0,
                "stream": rng.random() < 0.5,
                "messages": [{"role": "user", "content": question}],
            },
        ) as resp:
            await resp.read()
            return None if resp.status == 200 else f"openai {resp.status}"
    if kind < 0.60:  # an error the client should get: unknown model
        async with http.post(
            base + "/api/chat",
            json=_chat("x", stream=False, deterministic=False, model="no-such-model"),
        ) as resp:
            await resp.read()
            return None if resp.status == 404 else f"unknown model gave {resp.status}"
    if kind < 0.75:  # a client that walks away mid-stream
        resp = await http.post(
            base + "/api/chat", json=_chat(f"d{rng.random()}", stream=True, deterministic=False)
        )
        await resp.content.readline()
        resp.close()
        return None if resp.status == 200 else f"disconnect {resp.status}"
    async with http.get(base + ("/api/tags" if rng.random() < 0.5 else "/v1/models")) as resp:
        await resp.read()
        return None if resp.status == 200 else f"models {resp.status}"


async def soak(minutes: float, concurrency: int, tray: bool, idle_after: float) -> int:
    with tempfile.TemporaryFile() as proxy_log:
        return await _soak(minutes, concurrency, proxy_log, tray, idle_after)


async def _soak(
    minutes: float, concurrency: int, proxy_log: IO[bytes], tray: bool, idle_after: float
) -> int:
    sim_port, proxy_port = free_port(), free_port()
    sim_url, base = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    if tray:
        proxy = start_tray(proxy_port, sim_url, "shown", log=proxy_log)
    else:
        proxy = start_proxy(proxy_port, sim_url, log=proxy_log)
    with processes(start_sim(sim_port), proxy):
        await wait_ready(sim_url)
        await wait_ready(base)
        process = psutil.Process(proxy.pid)
        deadline = time.monotonic() + minutes * 60
        done = 0
        unexpected: list[str] = []
        samples: list[tuple[float, int]] = []
        started = time.monotonic()

        async def worker(seed: int) -> None:
            nonlocal done
            rng = random.Random(seed)
            async with aiohttp.ClientSession() as http:
                while time.monotonic() < deadline:
                    try:
                        problem = await one_request(http, base, rng)
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    if problem:
                        unexpected.append(problem)
                    done += 1

        async def sampler() -> None:
            while time.monotonic() < deadline:
                rss = process.memory_info().rss
                samples.append((time.monotonic() - started, rss))
                print(
                    f"{samples[-1][0]:7.0f} s  {done:8d} requests  rss {rss / 1e6:7.1f} MB  "
                    f"unexpected {len(unexpected)}",
                    flush=True,
                )
                await asyncio.sleep(max(5.0, minutes * 60 / 20))

        probes: list[tuple[float, float]] = []  # (seconds since start, probe latency)
        probe_until = deadline + idle_after

        async def probe() -> None:
            body = _chat("probe", stream=False, deterministic=True)
            async with aiohttp.ClientSession() as http:
                while time.monotonic() < probe_until:
                    sent = time.monotonic()
                    try:
                        async with http.post(base + "/api/chat", json=body) as resp:
                            await resp.read()
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        unexpected.append(f"probe {type(exc).__name__}")
                    probes.append((sent - started, time.monotonic() - sent))
                    await asyncio.sleep(0.25)

        await asyncio.gather(sampler(), probe(), *(worker(i) for i in range(concurrency)))
        samples.append((time.monotonic() - started, process.memory_info().rss))
        alive = proxy.poll() is None
    proxy_log.seek(0)
    logged = [
        line
        for line in proxy_log.read().decode(errors="replace").splitlines()
        if " ERROR " in line or line.startswith("Traceback")
    ]
    unexpected += [f"proxy logged: {line[:120]}" for line in logged]
    warm = [rss for t, rss in samples if t >= minutes * 60 * 0.25] or [samples[-1][1]]
    growth = (warm[-1] - warm[0]) / warm[0]
    print(
        f"\nrequests {done}, {done / (minutes * 60):.0f} req/s; unexpected errors "
        f"{len(unexpected)}; proxy alive {alive}"
    )
    print(
        f"RSS after warm-up: first {warm[0] / 1e6:.1f} MB, last {warm[-1] / 1e6:.1f} MB, "
        f"median {statistics.median(warm) / 1e6:.1f} MB, growth {growth:+.1%}"
    )
    during = [lat for t, lat in probes if t < minutes * 60]
    after = [lat for t, lat in probes if t >= minutes * 60] or [0.0]
    print(
        f"probe (cached /api/chat every 250 ms): slowest during traffic "
        f"{max(during, default=0) * 1000:.0f} ms, slowest in the {idle_after:.0f} s after "
        f"{max(after) * 1000:.0f} ms, median after {statistics.median(after) * 1000:.1f} ms"
    )
    for problem in sorted(set(unexpected))[:10]:
        print("  unexpected:", problem)
    ok = (
        alive
        and not unexpected
        and growth < RSS_GROWTH_LIMIT
        and max(during, default=0) < PROBE_LIMIT
        and max(after) < PROBE_LIMIT
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tray", action="store_true", help="soak the tray app, not headless")
    parser.add_argument(
        "--idle-after", type=float, default=75.0, help="seconds to keep probing after traffic"
    )
    args = parser.parse_args()
    return asyncio.run(soak(args.minutes, args.concurrency, args.tray, args.idle_after))


if __name__ == "__main__":
    sys.exit(main())
