"""Issue 11 item 19: a flood of idle sockets never starves real clients of descriptors."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import sys
from pathlib import Path

import aiohttp

from proxy_core import ProxyService
from proxy_core.connections import raise_fd_limit
from tests.conftest import Sim, make_settings


async def test_past_the_cap_the_oldest_idle_connections_are_shed(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, max_client_connections=40))
    await service.start()
    sockets: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(60):
            sockets.append(await asyncio.open_connection("127.0.0.1", service.address[1]))
        await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            async with http.get(service.base_url + "/api/version") as resp:
                assert resp.status == 200
        oldest, newest = sockets[0][0], sockets[-1][0]
        assert await asyncio.wait_for(oldest.read(), 2) == b""  # closed by the proxy
        assert service.connections is not None and service.connections.shed >= 20
        writer = sockets[-1][1]
        writer.write(b"GET /api/version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert (await asyncio.wait_for(newest.readline(), 2)).startswith(b"HTTP/1.1 200")
    finally:
        for _, writer in sockets:
            writer.close()
        await service.stop()


def test_the_soft_descriptor_limit_is_raised_toward_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        raised = raise_fd_limit(4096)
        assert raised == min(4096, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # a hard limit it cannot raise


async def test_1100_idle_sockets_under_a_1024_limit_leave_real_clients_served(
    sim: Sim, tmp_path: Path
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_core",
        "--port",
        "0",
        "--ollama-url",
        sim.url,
        "--data-dir",
        str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limit_fds,
        env={**os.environ, "OLLAMA_PROXY_MONITOR_INTERVAL": "0"},
    )
    sockets = []
    try:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 20)).decode()
        port = int(re.search(r":(\d+) ->", line).group(1))  # type: ignore[union-attr]
        for _ in range(1100):
            sockets.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as http:
            for _ in range(5):
                async with http.post(
                    f"http://127.0.0.1:{port}/api/chat",
                    json={"model": "llama3.2", "stream": False, "messages": []},
                ) as resp:
                    assert resp.status == 200
    finally:
        for _, writer in sockets:
            writer.close()
        child.terminate()
        await child.wait()
