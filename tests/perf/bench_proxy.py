"""Upstream client candidates, then the proxy against the simulator, then cache hits."""

from __future__ import annotations

import aiohttp
import httpx

from .harness import (
    CACHED,
    CHAT,
    aiohttp_sender,
    free_port,
    httpx_sender,
    latency_p50,
    processes,
    start_proxy,
    start_sim,
    throughput,
    wait_ready,
)


async def run() -> list[tuple[str, str]]:
    sim_port, proxy_port = free_port(), free_port()
    sim_url, proxy_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    rows: list[tuple[str, str]] = []
    with processes(start_sim(sim_port), start_proxy(proxy_port, sim_url)):
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
    return rows
