"""Benchmarks, run side by side in one go (``make bench``); not part of ``make test``.

On a shared 2-core machine absolute numbers are noisy, so every figure is paired with a
baseline measured in the same run: upstream clients against each other, the proxy against
the simulator directly. Prints a Markdown table for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

CHAT = {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": "bench"}]}
CACHED = {**CHAT, "options": {"temperature": 0}}
Request = Callable[[], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(url + "/api/version") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


async def latency_p50(send: Request, n: int = 400) -> float:
    for _ in range(20):
        await send()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await send()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def throughput(send: Request, concurrency: int = 64, seconds: float = 3.0) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def aiohttp_sender(http: aiohttp.ClientSession, url: str, body: dict[str, object]) -> Request:
    data = json.dumps(body).encode()

    async def send() -> None:
        async with http.post(url, data=data) as resp:
            await resp.read()
            assert resp.status == 200

    return send


def httpx_sender(client: httpx.AsyncClient, url: str, body: dict[str, object]) -> Request:
    data = json.dumps(body).encode()

    async def send() -> None:
        resp = await client.post(url, content=data)
        assert resp.status_code == 200

    return send


async def main() -> None:
    sim_port, proxy_port = free_port(), free_port()
    sim_url, proxy_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    data_dir = tempfile.mkdtemp(prefix="otp-bench-")
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.fakes.ollama_sim", "--port", str(sim_port)]),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy_core",
                "--port",
                str(proxy_port),
                "--ollama-url",
                sim_url,
                "--data-dir",
                data_dir,
                "--log-level",
                "warning",
            ]
        ),
    ]
    rows: list[tuple[str, str]] = []
    try:
        await wait_ready(sim_url)
        await wait_ready(proxy_url)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http,
            httpx.AsyncClient(limits=limits, timeout=None) as hx,
        ):
            # 1. Upstream client candidates, straight to the simulator.
            a_p50 = await latency_p50(aiohttp_sender(http, sim_url + "/api/chat", CHAT))
            h_p50 = await latency_p50(httpx_sender(hx, sim_url + "/api/chat", CHAT))
            a_rps = await throughput(aiohttp_sender(http, sim_url + "/api/chat", CHAT))
            h_rps = await throughput(httpx_sender(hx, sim_url + "/api/chat", CHAT))
            rows += [
                ("client: aiohttp p50 ms (c=1)", f"{a_p50:.2f}"),
                ("client: httpx p50 ms (c=1)", f"{h_p50:.2f}"),
                ("client: aiohttp req/s (c=64)", f"{a_rps:.0f}"),
                ("client: httpx req/s (c=64)", f"{h_rps:.0f}"),
            ]
            # 2. Direct vs through the proxy (cache bypassed: not deterministic).
            direct = aiohttp_sender(http, sim_url + "/api/chat", CHAT)
            proxied = aiohttp_sender(http, proxy_url + "/api/chat", CHAT)
            d_p50, p_p50 = await latency_p50(direct), await latency_p50(proxied)
            d_rps, p_rps = await throughput(direct), await throughput(proxied)
            # 3. Cache hits through the proxy.
            hit = aiohttp_sender(http, proxy_url + "/api/chat", CACHED)
            await hit()
            hit_p50, hit_rps = await latency_p50(hit), await throughput(hit)
            rows += [
                ("direct p50 ms (c=1)", f"{d_p50:.2f}"),
                ("proxy p50 ms (c=1)", f"{p_p50:.2f}"),
                ("added p50 ms", f"{p_p50 - d_p50:+.2f}"),
                ("direct req/s (c=64)", f"{d_rps:.0f}"),
                ("proxy req/s (c=64)", f"{p_rps:.0f}"),
                ("proxy / direct throughput", f"{p_rps / d_rps:.2f}x"),
                ("cache hit p50 ms (c=1)", f"{hit_p50:.2f}"),
                ("cache hit req/s (c=64)", f"{hit_rps:.0f}"),
                ("cache hit / direct throughput", f"{hit_rps / d_rps:.2f}x"),
            ]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    asyncio.run(main())
