"""A real inference engine under the proxy (issue 26): llama.cpp's llama-server with
Gemma 3 270M, set up by scripts/real-engine.sh (``make test`` runs it). The tests skip
when the engine is not set up, except where ``OTP_REQUIRE_ENGINE=1`` (CI) makes that a
failure. The simulator stands beside it as the Ollama host: the proxy needs one."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

VERSION = "11434.0.0"  # scripts/real-engine.sh pins the same
MODEL = "gemma3-270m"  # the alias the server lists
CONTEXT = 2048


def engine_dir() -> Path:
    default = Path.home() / ".cache" / "ollama-tray-proxy" / "engine"
    return Path(os.environ.get("OTP_ENGINE_DIR") or default)


@dataclass
class Engine:
    url: str
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    server = engine_dir() / f"llama-server-{VERSION}"
    model = engine_dir() / "gemma-3-270m-q4_k_m.gguf"
    if not (server.is_file() and model.is_file()):
        if os.environ.get("OTP_REQUIRE_ENGINE"):
            raise AssertionError(
                f"the real engine is required here: run scripts/real-engine.sh ({server})"
            )
        pytest.skip("the real engine is not set up (scripts/real-engine.sh)")
    port = _free_port()
    process = subprocess.Popen(
        [str(server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
         "-c", str(CONTEXT), "-np", "1", "-t", "2", "--alias", MODEL, "--slots",
         "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("llama-server did not start")
        time.sleep(0.2)
    try:
        yield Engine(url, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
async def proxy(engine: Engine, sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    settings = make_settings(
        tmp_path, sim.url, openai_upstreams=f"llamacpp={engine.url}", upstream_poll_interval=0.05
    )
    service = ProxyService(settings)
    await service.start()
    assert service.state is not None
    for _ in range(200):
        if all(b.polled for b in service.state.router.backends):
            break
        await asyncio.sleep(0.02)
    try:
        yield service
    finally:
        await service.stop()
