"""Where answers live: the plug-in shape for cache stores.

``CacheLayer`` (layer.py) keeps its memory layers in front of one ``AnswerStore``: the
disk (diskcache in the data dir, the default) or Redis shared by several proxies
(``cache_url``). A new store implements this protocol and is chosen in ``open_store``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .redis_store import RedisAnswerStore
from .store import CacheEntry, CacheStats, ResponseStore


class AnswerStore(Protocol):
    ttl: float
    shared: bool  # other proxies see its answers (and may be generating one right now)

    @property
    def stats(self) -> CacheStats: ...

    @property
    def size_limit(self) -> int:
        """0: the store bounds itself (Redis's maxmemory)."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def is_fresh(self, entry: CacheEntry, max_age: float | None) -> bool: ...

    def get_now(self, key: str, max_age: float | None) -> CacheEntry | None:
        """A lookup cheap enough for the event loop (a sqlite row), else None: ask get()."""
        ...

    async def get(self, key: str, max_age: float | None) -> CacheEntry | None: ...

    async def put(self, key: str, entry: CacheEntry) -> None: ...

    async def clear(self) -> int: ...

    async def resize(self, size_limit: int) -> None: ...

    async def volume(self) -> tuple[int, int]: ...

    def volume_now(self) -> tuple[int, int]:
        """(entries, bytes) without waiting on I/O the loop cannot afford (metrics)."""
        ...

    def cleared_elsewhere(self) -> bool: ...

    async def claim(self, key: str) -> bool:
        """True: this proxy generates the answer for ``key``; False: another one is."""
        ...

    async def release(self, key: str) -> None: ...

    async def wait_for(
        self, key: str, max_age: float | None, seconds: float
    ) -> CacheEntry | None: ...


class DiskAnswerStore:
    """The disk store (store.py) as an AnswerStore: reads inline (tens of microseconds),
    writes and maintenance in the executor; one process generates each answer."""

    shared = False

    def __init__(self, store: ResponseStore) -> None:
        self.disk = store

    @property
    def stats(self) -> CacheStats:
        return self.disk.stats

    @property
    def ttl(self) -> float:
        return self.disk.ttl

    @ttl.setter
    def ttl(self, value: float) -> None:
        self.disk.ttl = value

    @property
    def size_limit(self) -> int:
        return self.disk.size_limit

    async def _run(self, call: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def open(self) -> None:
        await self._run(self.disk.open)

    async def close(self) -> None:
        await self._run(self.disk.close)

    def is_fresh(self, entry: CacheEntry, max_age: float | None) -> bool:
        return self.disk.is_fresh(entry, max_age)

    def get_now(self, key: str, max_age: float | None) -> CacheEntry | None:
        return self.disk.get(key, max_age)

    async def get(self, key: str, max_age: float | None) -> CacheEntry | None:
        return self.disk.get(key, max_age)

    async def put(self, key: str, entry: CacheEntry) -> None:
        await self._run(self.disk.put, key, entry)

    async def clear(self) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self.disk.clear)

    async def resize(self, size_limit: int) -> None:
        await self._run(self.disk.resize, size_limit)

    async def volume(self) -> tuple[int, int]:
        return await asyncio.get_running_loop().run_in_executor(None, self.disk.volume)

    def volume_now(self) -> tuple[int, int]:
        return self.disk.volume()

    def cleared_elsewhere(self) -> bool:
        return self.disk.cleared_elsewhere()

    async def claim(self, key: str) -> bool:
        return True

    async def release(self, key: str) -> None:
        return None

    async def wait_for(self, key: str, max_age: float | None, seconds: float) -> CacheEntry | None:
        return None


def open_store(
    directory: Path,
    *,
    url: str,
    ttl: float,
    size_limit: int,
    clock: Callable[[], float],
) -> tuple[AnswerStore, ResponseStore]:
    """The store ``url`` names ("" the disk) and the disk store (kept for maintenance)."""
    disk = ResponseStore(directory, size_limit=size_limit, ttl=ttl, clock=clock)
    if url:
        return RedisAnswerStore(url, ttl=ttl, clock=clock), disk
    return DiskAnswerStore(disk), disk
