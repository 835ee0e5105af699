"""Several workers on one port (proxy_core/workers/): the headless proxy started as a user
would (``python -m proxy_core --workers 2``) in front of the simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Sim

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="several workers need SO_REUSEPORT")


class Running:
    def __init__(self, process: asyncio.subprocess.Process, base_url: str) -> None:
        self.process = process
        self.base_url = base_url


@pytest.fixture
async def workers(sim: Sim, tmp_path: Path) -> AsyncIterator[Running]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_PROXY_")}
    env["OLLAMA_PROXY_MODELS"] = '{"llama3.2": {"num_parallel": 1}}'
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "proxy_core", "--workers", "2", "--port", "0"),
        *("--ollama-url", sim.url, "--data-dir", str(tmp_path / "data")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group, as a shell gives a command
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    assert "listening on http://" in line, line
    base = line.split("listening on ")[1].split()[0]
    try:
        yield Running(process, base)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)


async def worker_of(base: str) -> int:
    """Which worker answers a new connection."""
    async with aiohttp.ClientSession() as http, http.get(base + "/healthz") as resp:
        return int((await resp.json())["worker"]["pid"])


async def test_connections_are_spread_over_the_workers(workers: Running) -> None:
    pids = {await worker_of(workers.base_url) for _ in range(40)}
    assert len(pids) == 2


async def test_a_models_slots_are_shared_not_multiplied(workers: Running, sim: Sim) -> None:
    """num_parallel 1: one generation at a time reaches Ollama, whichever worker took it."""
    sim.config.parallel = 4  # Ollama could run 4: the proxy must send one at a time
    sim.config.token_delay = 0.02

    async def ask(n: int) -> int:
        async with aiohttp.ClientSession() as http:  # a new connection: any worker
            body = {"model": "llama3.2", "prompt": f"hi {n}", "stream": False}
            async with http.post(workers.base_url + "/api/generate", json=body) as resp:
                return resp.status

    assert await asyncio.gather(*(ask(n) for n in range(8))) == [200] * 8
    assert sim.recorder.most_running == 1


async def test_metrics_are_the_whole_proxys(workers: Running) -> None:
    answered = []
    while len(set(answered)) < 2 or len(answered) < 12:  # new connections: both answer some
        answered.append(await worker_of(workers.base_url))
        assert len(answered) < 200
    totals = set()
    for _ in range(6):  # any worker answers the scrape with the same sum
        async with aiohttp.ClientSession() as one:
            async with one.get(workers.base_url + "/metrics") as resp:
                text = await resp.text()
        totals.add(_requests(text, "/healthz"))
    assert totals == {float(len(answered))}


def _requests(text: str, route: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("proxy_request_duration_seconds_count{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def pinned(base: str, taken: set[int]) -> tuple[aiohttp.ClientSession, int]:
    """A session whose one keep-alive connection went to a worker not in ``taken``."""
    while True:
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        async with http.get(base + "/healthz") as resp:
            pid = int((await resp.json())["worker"]["pid"])
        if pid not in taken:
            return http, pid
        await http.close()


async def test_the_cache_and_its_clear_are_shared(workers: Running, sim: Sim) -> None:
    body = {"model": "llama3.2", "prompt": "cached", "stream": False, "options": {"seed": 1}}
    a, pid_a = await pinned(workers.base_url, set())
    b, _ = await pinned(workers.base_url, {pid_a})

    async def cache(http: aiohttp.ClientSession, control: str = "") -> str:
        headers = {"Cache-Control": control} if control else {}
        url = workers.base_url + "/api/generate"
        async with http.post(url, json=body, headers=headers) as resp:
            return resp.headers["X-Cache"]

    try:
        assert await cache(a) == "MISS"
        # The answer's disk write is off the request: wait for it to land. no-store keeps
        # a miss of b's from storing the answer itself (a hit must come from a's write).
        for _ in range(100):
            if await cache(b, "no-store") == "HIT":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the other worker never read the shared answer")
        assert await cache(b) == "HIT"  # ...and from its memory now
        async with a.delete(workers.base_url + "/_proxy/cache") as resp:
            assert resp.status == 200
        # The clear answered once every worker forgot its memory: no stale hit anywhere.
        assert await cache(b) == "MISS"
    finally:
        await a.close()
        await b.close()


async def worker_or_lost(base: str) -> int | None:
    """Which worker answers, or None for a connection the kernel reset: one that arrives
    while a listening worker dies can be queued on its socket and lost with it
    (Linux with net.ipv4.tcp_migrate_req=0, the default; see the README)."""
    try:
        return await worker_of(base)
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
        return None


async def test_a_worker_that_dies_is_restarted(workers: Running) -> None:
    pids = {await worker_of(workers.base_url) for _ in range(40)}
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    for _ in range(200):
        now = {await worker_or_lost(workers.base_url) for _ in range(20)}
        if len(now) == 2 and victim not in now and None not in now:
            break
        await asyncio.sleep(0.1)
    # Two workers answer, the victim is not one of them, and no connection is lost.
    assert len(now) == 2 and victim not in now and None not in now
    assert workers.process.stderr is not None
    logged = await asyncio.wait_for(workers.process.stderr.readline(), 5)
    while b"restarting" not in logged:
        logged = await asyncio.wait_for(workers.process.stderr.readline(), 5)
    assert str(victim).encode() in logged


async def test_stopping_drains_an_open_stream(workers: Running, sim: Sim) -> None:
    sim.config.token_delay = 0.05
    async with aiohttp.ClientSession() as http:
        body = {"model": "llama3.2", "prompt": "a long story", "stream": True}
        async with http.post(workers.base_url + "/api/generate", json=body) as resp:
            first = await resp.content.readline()
            workers.process.send_signal(signal.SIGTERM)
            rest = await resp.content.read()
    assert first and rest.rstrip().endswith(b'"done":true}') or b'"done":true' in rest
    assert await asyncio.wait_for(workers.process.wait(), 60) == 0


async def test_ctrl_c_stops_every_worker_in_order(workers: Running) -> None:
    """A terminal's Ctrl-C signals the whole foreground group: the workers are in their
    own, so none dies first and is taken for crashed."""
    os.killpg(workers.process.pid, signal.SIGINT)
    assert await asyncio.wait_for(workers.process.wait(), 60) == 0
    assert workers.process.stderr is not None
    logged = await workers.process.stderr.read()
    assert b"restarting" not in logged
