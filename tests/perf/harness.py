"""Shared pieces of the benchmarks: processes on free ports, readiness, tables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

import aiohttp

CHAT = {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": "bench"}]}
CACHED = {**CHAT, "options": {"temperature": 0}}


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


def start_sim(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.fakes.ollama_sim", "--port", str(port)])


def start_proxy(
    port: int,
    sim_url: str,
    *extra: str,
    module: str = "proxy_core",
    log: IO[bytes] | None = None,
    num_parallel: int | None = None,
) -> subprocess.Popen[bytes]:
    """The headless proxy; ``log`` receives its stderr (the soak counts errors in it);
    ``num_parallel``: generations per model sent upstream at once (default_num_parallel)."""
    data_dir = tempfile.mkdtemp(prefix="otp-bench-")
    env = dict(os.environ)
    if num_parallel is not None:
        env["OLLAMA_PROXY_DEFAULT_NUM_PARALLEL"] = str(num_parallel)
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
        env=env,
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
