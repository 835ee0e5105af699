"""Shared pieces of the benchmarks: processes on free ports, latency and throughput loops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import IO

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


def start_sim(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.fakes.ollama_sim", "--port", str(port)])


def start_proxy(
    port: int, sim_url: str, *extra: str, module: str = "proxy_core", log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """The headless proxy; ``log`` receives its stderr (the soak counts errors in it)."""
    data_dir = tempfile.mkdtemp(prefix="otp-bench-")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "--port",
            str(port),
            "--ollama-url",
            sim_url,
            "--data-dir",
            data_dir,
            "--log-level",
            "warning",
            *extra,
        ],
        stderr=log,
    )


@contextlib.contextmanager
def processes(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def print_table(rows: list[tuple[str, str]]) -> None:
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
