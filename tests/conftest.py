"""Shared fixtures: the Ollama simulator and a proxy in front of it, both on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService, ProxySettings
from proxy_core.cache import CacheLayer
from tests.fakes.ollama_sim import SIM_CONFIG, SIM_RECORDER, SimConfig, SimRecorder, create_sim_app
from tests.fakes.redis_server import RedisServer, installed


@dataclasses.dataclass
class Sim:
    server: TestServer

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def config(self) -> SimConfig:
        return self.server.app[SIM_CONFIG]

    @property
    def recorder(self) -> SimRecorder:
        return self.server.app[SIM_RECORDER]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    server = TestServer(create_sim_app())
    await server.start_server()
    try:
        yield Sim(server)
    finally:
        await server.close()


def make_settings(tmp_path: Path, ollama_url: str, **changes: object) -> ProxySettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "ollama_url": ollama_url,
        "data_dir": tmp_path / "data",
        "shutdown_grace": 1.0,
        # The background monitor polls Ollama; tests that count upstream calls want quiet.
        "monitor_interval": 0,
    }
    values.update(changes)
    return ProxySettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    """Settings the ``proxy`` fixture changes; a test module overrides this fixture."""
    return {}


@pytest.fixture
async def proxy(
    sim: Sim, tmp_path: Path, proxy_changes: dict[str, object]
) -> AsyncIterator[ProxyService]:
    async with serving(make_settings(tmp_path, sim.url, **proxy_changes)) as service:
        yield service


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


async def wait_polled(service: ProxyService) -> None:
    """Until the router has polled every upstream once (models learnt), or two seconds."""
    assert service.state is not None
    for _ in range(100):
        if all(b.polled for b in service.state.router.backends):
            return
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(
    settings: ProxySettings, *, polled: bool = False, cache: CacheLayer | None = None
) -> AsyncIterator[ProxyService]:
    """A started proxy (once every engine was polled, when ``polled``), stopped after."""
    service = ProxyService(settings, cache=cache)
    await service.start()
    try:
        if polled:
            await wait_polled(service)
        yield service
    finally:
        await service.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Debian's redis-server on a free port; CI (OTP_REQUIRE_REDIS) never skips it."""
    if not installed():
        if os.environ.get("OTP_REQUIRE_REDIS"):
            raise AssertionError("redis-server is required here (scripts/system-deps.sh redis)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def agents() -> Path:
    """The real coding agents' commands (tests/agent_clis.py installs them once)."""
    from tests.agent_clis import install_agents

    return install_agents()


@pytest.fixture(scope="session")
def aider() -> Path:
    """aider's command (tests/agent_clis.py installs it once, from PyPI)."""
    from tests.agent_clis import install_aider

    return install_aider()
