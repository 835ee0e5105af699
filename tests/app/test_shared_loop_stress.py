"""Shared-loop stress: the proxy on qasync's loop under thousands of concurrent requests.

PySide6 6.12.0 + qasync 0.28 died here ("Fatal Python error: none_dealloc") in our
measurement; the ``gui`` extra is pinned to a pair this test proves (docs/QT_LOOP.md).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Sim

pytest.importorskip("PySide6")
pytest.importorskip("qasync")

TOTAL = 6000
CONCURRENCY = 64


async def test_qasync_loop_survives_thousands_of_concurrent_requests(
    sim: Sim, tmp_path: Path
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.app.qasync_proxy_child",
        sim.url,
        str(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        port = int((await asyncio.wait_for(child.stdout.readline(), 30)).strip())
        base = f"http://127.0.0.1:{port}"
        bodies = [
            ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "s"}]}),
            (
                "/api/chat",
                {
                    "model": "llama3.2",
                    "stream": False,
                    "messages": [{"role": "user", "content": "n"}],
                },
            ),
            (
                "/v1/chat/completions",
                {
                    "model": "llama3.2",
                    "stream": True,
                    "messages": [{"role": "user", "content": "o"}],
                },
            ),
            ("/api/tags", None),
        ]
        errors: list[str] = []
        done = 0
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(TOTAL):
            queue.put_nowait(i)

        async def worker(http: aiohttp.ClientSession) -> None:
            nonlocal done
            while not queue.empty():
                i = queue.get_nowait()
                path, body = bodies[i % len(bodies)]
                try:
                    method = "GET" if body is None else "POST"
                    async with http.request(method, base + path, json=body) as resp:
                        raw = await resp.read()
                    if resp.status != 200 or b'"error"' in raw:
                        errors.append(f"{path}: {resp.status} {raw[:80]!r}")
                    elif path == "/api/chat" and body and body.get("stream") is not False:
                        assert json.loads(raw.splitlines()[-1])["done"] is True
                    done += 1
                except (aiohttp.ClientError, AssertionError) as exc:
                    errors.append(f"{path}: {exc!r}")

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as http:
            await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
        assert errors == []
        assert done == TOTAL
        assert child.returncode is None, "the tray-loop process died under load"
        child.stdin.close()
        out, err = await asyncio.wait_for(child.communicate(), 30)
        assert child.returncode == 0, err.decode()[-2000:]
        assert b"clean exit" in out
        assert b"Fatal Python error" not in err
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
