"""Ctrl-C (SIGINT) and SIGTERM stop the tray app started from a terminal, cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Sim


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_signal_stops_the_tray_app(sim: Sim, tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "--port",
        str(port),
        "--ollama-url",
        sim.url,
        "--data-dir",
        str(tmp_path / "data"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the tray app did not start listening")
        await asyncio.sleep(0.3)  # idle: Qt is waiting for events, no Python is running
        child.send_signal(sig)
        out, err = await asyncio.wait_for(child.communicate(), 15)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, err.decode()[-2000:]
    assert b"stopped" in out
    assert b"KeyboardInterrupt" not in err
