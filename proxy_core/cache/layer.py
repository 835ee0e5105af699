"""The cache as the request path sees it: on/off at run time, policy, store, flights."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .flight import FlightBoard
from .store import CacheEntry, CacheStats, ResponseStore


class CacheLayer:
    def __init__(
        self,
        directory: Path,
        *,
        enabled: bool,
        policy: str,
        ttl: float,
        size_limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.policy = policy
        self.store = ResponseStore(directory, size_limit=size_limit, ttl=ttl, clock=clock)
        self.flights = FlightBoard()
        self._pending: set[asyncio.Future[Any]] = set()

    @property
    def stats(self) -> CacheStats:
        return self.store.stats

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.store.open)

    async def close(self) -> None:
        await self.flights.close()
        await self.drain()
        await asyncio.get_running_loop().run_in_executor(None, self.store.close)

    def configure(self, *, enabled: bool, policy: str, ttl: float) -> None:
        self.enabled = enabled
        self.policy = policy
        self.store.ttl = ttl

    async def resize(self, size_limit: int) -> None:
        """A new size limit; culling down to it writes sqlite, so it runs in the executor."""
        await asyncio.get_running_loop().run_in_executor(None, self.store.resize, size_limit)

    def lookup(self, key: str, max_age: float | None) -> CacheEntry | None:
        # Measured in tests/perf/bench_cache.py: a hit reads one sqlite row in tens of
        # microseconds, cheaper than a hop to an executor, so reads stay on the loop.
        return self.store.get(key, max_age)

    def write(self, key: str, entry: CacheEntry) -> None:
        """Writes commit to sqlite (a disk sync), so they run in the executor."""
        future = asyncio.get_running_loop().run_in_executor(None, self.store.put, key, entry)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for queued writes (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def clear(self) -> int:
        await self.drain()
        return await asyncio.get_running_loop().run_in_executor(None, self.store.clear)

    async def volume(self) -> tuple[int, int]:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.volume)

    def new_entry(self, lines: list[bytes], streamed: bool, seconds: float) -> CacheEntry:
        return CacheEntry(tuple(lines), streamed, self.store.clock(), seconds)
