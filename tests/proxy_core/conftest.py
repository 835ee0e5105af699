"""Fixtures shared by the proxy_core tests: a proxy whose cache runs on a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy_core import ProxyService
from proxy_core.cache import CacheLayer
from tests.conftest import Sim, make_settings, serving
from tests.fakes.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cached(sim: Sim, tmp_path: Path, clock: Clock) -> AsyncIterator[ProxyService]:
    settings = make_settings(tmp_path, sim.url)
    layer = CacheLayer(
        settings.data_dir / "cache",
        enabled=True,
        policy="deterministic",
        ttl=300,
        size_limit=1 << 30,
        clock=clock,
    )
    async with serving(settings, cache=layer) as service:
        yield service
