"""A real inference engine under the proxy (issue 26): llama.cpp's llama-server with
Gemma 3 270M, set up by scripts/real-engine.sh (``make test`` runs it). The tests skip
when the engine is not set up, except where ``OTP_REQUIRE_ENGINE=1`` (CI) makes that a
failure. In most tests the simulator stands beside it as the Ollama host (a proxy that
routes between both); ``alone`` is the proxy with no Ollama at all (``ollama_url=none``),
as a llama.cpp user runs it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings, serving
from tests.real_engine import engine as real
from tests.real_engine.engine import Engine


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    if real.installed() is None:
        if os.environ.get("OTP_REQUIRE_ENGINE"):
            where = real.engine_dir()
            raise AssertionError(f"the real engine is required: scripts/real-engine.sh ({where})")
        pytest.skip("the real engine is not set up (scripts/real-engine.sh)")
    started = real.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def proxy(engine: Engine, sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    settings = make_settings(
        tmp_path, sim.url, openai_upstreams=f"llamacpp={engine.url}", upstream_poll_interval=0.05
    )
    async with serving(settings, polled=True) as service:
        yield service


@pytest.fixture
async def alone(engine: Engine, tmp_path: Path) -> AsyncIterator[ProxyService]:
    settings = make_settings(
        tmp_path, "none", openai_upstreams=f"llamacpp={engine.url}", upstream_poll_interval=0.05
    )
    async with serving(settings, polled=True) as service:
        yield service
