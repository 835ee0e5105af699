"""The headline table: the proxy against the true direct limit, with wrk as the generator.

Each round measures direct and proxy back to back (so drift in the machine's load hits
both); the table shows the median of ROUNDS rounds. The upstream is the fast stand-in
(tests/perf/fast_upstream.py) by default, or the simulator (``upstream="sim"``). wrk
cannot time a stream's first and last byte, so that one figure uses a raw asyncio client.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable

import psutil

from . import wrk
from .bench_tray import start_tray
from .fast_upstream import start_fast
from .harness import CACHED, CHAT, free_port, processes, start_proxy, start_sim, wait_ready

ROUNDS = 3
PARALLEL = 64  # default_num_parallel of the measured proxies: the stand-in has no limit
SECONDS = 3.0
OPENAI = {"model": "llama3.2", "messages": [{"role": "user", "content": "bench"}]}
OPENAI_CACHED = {**OPENAI, "temperature": 0}
STREAM_200 = {**CHAT, "stream": True, "options": {"num_predict": 200}}


async def stream_times(base: str, n: int = 200) -> tuple[float, float]:
    """Median ms to the first byte and to the last byte of a 200-chunk NDJSON stream, on
    one keep-alive connection (c=1)."""
    import json

    host, port = base.removeprefix("http://").split(":")
    body = json.dumps(STREAM_200).encode()
    request = (
        f"POST /api/chat HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection(host, int(port))
    firsts, lasts = [], []
    try:
        for index in range(n + 20):
            started = time.perf_counter()
            writer.write(request)
            await reader.readexactly(1)
            first = time.perf_counter()
            await reader.readuntil(b"\r\n0\r\n\r\n")
            last = time.perf_counter()
            if index >= 20:  # warm-up excluded
                firsts.append(first - started)
                lasts.append(last - started)
    finally:
        writer.close()
    return statistics.median(firsts) * 1000, statistics.median(lasts) * 1000


def _rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 1e6


def _median(values: list[float]) -> float:
    return statistics.median(values)


async def run(upstream: str = "fast") -> list[tuple[str, str]]:
    up_port, proxy_port, tray_port = free_port(), free_port(), free_port()
    up_url = f"http://127.0.0.1:{up_port}"
    proxy_url, tray_url = f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{tray_port}"
    up = start_fast(up_port) if upstream == "fast" else start_sim(up_port)
    # The stand-in serves any number of requests at once, so the proxy is told so, as a
    # user matches default_num_parallel to OLLAMA_NUM_PARALLEL; a second proxy keeps the
    # default (4 per model) to show what the lanes' queueing costs at c=64.
    proxy = start_proxy(proxy_port, up_url, num_parallel=PARALLEL)
    lanes_port = free_port()
    lanes_url = f"http://127.0.0.1:{lanes_port}"
    lanes = start_proxy(lanes_port, up_url)
    tray = start_tray(tray_port, up_url, "shown", num_parallel=PARALLEL)
    figures: dict[str, list[float]] = {}
    pairs = ((up_url, up), (proxy_url, proxy), (tray_url, tray), (lanes_url, lanes))
    by_url = {u.split("/", 3)[2]: p for u, p in pairs}
    errors: dict[str, int] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    async def load(name: str, url: str, body: dict[str, object], connections: int) -> wrk.WrkResult:
        # CPU of the process that answers (the proxy, or the upstream for "direct"), per
        # good request: what bounds the ratio on a machine whose two cores also run wrk.
        server = psutil.Process(by_url[url.split("/", 3)[2]].pid)
        before = server.cpu_times()
        result = await wrk.run(url, body, connections=connections, seconds=SECONDS)
        after = server.cpu_times()
        cpu = (after.user - before.user) + (after.system - before.system)
        if result.good_rps:
            note(name + " cpu", cpu / (result.good_rps * SECONDS) * 1e6)
        errors[name] = errors.get(name, 0) + result.errors
        return result

    with processes(up, proxy, tray, lanes):
        for url in (up_url, proxy_url, tray_url, lanes_url):
            await wait_ready(url)
        await asyncio.sleep(2.0)  # settle before the idle RSS
        idle_rss, tray_idle_rss = _rss_mb(proxy.pid), _rss_mb(tray.pid)
        load_avg = os.getloadavg()
        # Warm-up: fill the cache and the connection pools.
        for body, path in ((CACHED, "/api/chat"), (OPENAI_CACHED, "/v1/chat/completions")):
            await load("warm-up", proxy_url + path, body, 8)
        for _ in range(ROUNDS):
            direct = await load("direct c1", up_url + "/api/chat", CHAT, 1)
            proxied = await load("proxy c1", proxy_url + "/api/chat", CHAT, 1)
            note("added p50", proxied.p50_ms - direct.p50_ms)
            note("added p99", proxied.p99_ms - direct.p99_ms)
            direct = await load("direct", up_url + "/api/chat", CHAT, 64)
            note("direct rps", direct.good_rps)
            cases: list[tuple[str, str, dict[str, object], str]] = [
                ("native", "/api/chat", CHAT, proxy_url),
                ("openai", "/v1/chat/completions", OPENAI, proxy_url),
                ("hit native", "/api/chat", CACHED, proxy_url),
                ("hit openai", "/v1/chat/completions", OPENAI_CACHED, proxy_url),
                ("lanes", "/api/chat", CHAT, lanes_url),
                ("headless", "/api/chat", CHAT, proxy_url),
                ("tray", "/api/chat", CHAT, tray_url),
            ]
            for name, path, body, base in cases:
                result = await load(name, base + path, body, 64)
                note(name + " rps", result.good_rps)
                note(name + " ratio", result.good_rps / direct.good_rps)
            d_first, d_last = await stream_times(up_url)
            p_first, p_last = await stream_times(proxy_url)
            note("stream first", p_first - d_first)
            note("stream last", p_last - d_last)
        after_rss, tray_after_rss = _rss_mb(proxy.pid), _rss_mb(tray.pid)

    m: Callable[[str], float] = lambda name: _median(figures[name])  # noqa: E731
    native = m("native ratio")
    tray_vs_headless = _median(
        [t / h for t, h in zip(figures["tray rps"], figures["headless rps"], strict=True)]
    )
    errs = sum(v for k, v in errors.items() if k != "warm-up")
    return [
        ("upstream", "fast stand-in" if upstream == "fast" else "simulator"),
        ("load average (1, 5, 15 min) at start", " / ".join(f"{x:.2f}" for x in load_avg)),
        ("added p50 ms (c=1; target <= 0.3)", f"{m('added p50'):+.2f}"),
        ("added p99 ms (c=1; target <= 1)", f"{m('added p99'):+.2f}"),
        ("direct req/s (c=64)", f"{m('direct rps'):,.0f}"),
        ("native /api/chat req/s, ratio (target >= 0.5x)", _pair(m, "native")),
        ("native, default 4 slots per model (lanes queue) req/s, ratio", _pair(m, "lanes")),
        ("/v1/chat/completions req/s, ratio", _pair(m, "openai")),
        ("/v1 ratio / native ratio (target >= 0.9)", f"{m('openai ratio') / native:.2f}"),
        ("cached hit native req/s, ratio (target >= 1.2x)", _pair(m, "hit native")),
        ("cached hit /v1 req/s, ratio (target >= 1.2x)", _pair(m, "hit openai")),
        ("CPU us per request: upstream (direct) / proxy native / proxy /v1", _cpu(m)),
        ("CPU us per request: proxy hit native / hit /v1", _cpu(m, "hit native", "hit openai")),
        ("200-chunk stream: added ms to first byte (target <= 0.5)", f"{m('stream first'):+.2f}"),
        ("200-chunk stream: added ms to last byte (target <= 2)", f"{m('stream last'):+.2f}"),
        ("tray (dashboard shown) / headless req/s (target >= 0.9)", f"{tray_vs_headless:.2f}x"),
        (
            "RSS headless idle / after load MB (target idle <= 50)",
            f"{idle_rss:.0f} / {after_rss:.0f}",
        ),
        (
            "RSS tray (dashboard shown) idle / after load MB (never opened: bench_tray)",
            f"{tray_idle_rss:.0f} / {tray_after_rss:.0f}",
        ),
        ("errors (all measured runs)", f"{errs}"),
    ]


def _cpu(m: Callable[[str], float], *names: str) -> str:
    return " / ".join(f"{m(name + ' cpu'):.0f}" for name in names or ("direct", "native", "openai"))


def _pair(m: Callable[[str], float], name: str) -> str:
    return f"{m(name + ' rps'):,.0f} ({m(name + ' ratio'):.2f}x)"


async def run_sim() -> list[tuple[str, str]]:
    return await run("sim")
