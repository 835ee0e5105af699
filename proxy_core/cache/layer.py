"""The cache as the request path sees it: on/off at run time, policy, store, flights.

Two small in-memory layers keep repeated hits off the slow paths (measured in
tests/perf/bench_cache.py): an index from the exact request bytes to the cache key, which
skips canonicalizing and hashing a body seen before, and the most recently used entries,
which skips the sqlite read. Both live on the event loop thread only; the disk store stays
the source of truth (TTL, max-age and clear() apply to both).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .answers import Answer, AnswerIndex
from .flight import FlightBoard
from .keys import RouteKind, cache_key, normalize_model
from .redis_store import LOCK_SECONDS, RedisAnswerStore
from .store import CacheEntry, CacheStats
from .stores import open_store

HOT_ENTRY_BYTES = 32 << 20  # recently used answers kept decoded in memory
KEY_INDEX_BYTES = 8 << 20  # request bodies remembered for the bytes -> key index
MAX_INDEXED_BODY = 64 << 10  # bigger bodies are rare repeats; hash them each time
MAX_ENTRY_BYTES = 16 << 20  # a bigger answer is relayed, not buffered for the cache


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
        shared_url: str = "",
    ) -> None:
        self.enabled = enabled
        self.policy = policy
        # The answers' store (stores.py): the disk, or with cache_url = redis://… Redis,
        # shared by every proxy using it (the disk store then stays closed). ``store`` is
        # the disk store either way (its maintenance and tests); ``shared`` the Redis one.
        self.backend, self.store = open_store(
            directory, url=shared_url, ttl=ttl, size_limit=size_limit, clock=clock
        )
        self.shared = self.backend if isinstance(self.backend, RedisAnswerStore) else None
        self._claimed: set[str] = set()  # keys this proxy holds the Redis lock of
        self.flights = FlightBoard(self.max_entry_bytes)
        self._pending: set[asyncio.Future[Any]] = set()
        self._keys: dict[tuple[str, bytes], str] = {}
        self._keys_bytes = 0
        self._hot: collections.OrderedDict[str, CacheEntry] = collections.OrderedDict()
        self._hot_bytes = 0
        self._digests: dict[str, str] = {}
        self.answers = AnswerIndex()  # the fast hit path (answers.py)

    @property
    def max_entry_bytes(self) -> int:
        """The largest answer worth buffering for the store (a quarter of its size limit)."""
        return min(MAX_ENTRY_BYTES, self.store.size_limit // 4)

    @property
    def stats(self) -> CacheStats:
        return self.backend.stats

    async def open(self) -> None:
        await self.backend.open()

    async def close(self) -> None:
        await self.flights.close()
        await self.drain()
        await self.backend.close()

    def configure(self, *, enabled: bool, policy: str, ttl: float) -> None:
        if (enabled, policy) != (self.enabled, self.policy):
            self.answers.clear()  # what is cacheable changed
        self.enabled = enabled
        self.policy = policy
        self.backend.ttl = ttl

    def learn_digests(self, models: Any) -> None:
        """Model digests from an /api/tags list; a changed one makes new keys for it."""
        if not isinstance(models, list):
            return
        fresh: dict[str, str] = {}
        for m in models:
            if isinstance(m, dict) and isinstance(m.get("digest"), str):
                fresh[normalize_model(str(m.get("model") or m.get("name") or ""))] = m["digest"]
        changed = any(self._digests.get(name) != digest for name, digest in fresh.items())
        self._digests.update(fresh)
        if changed:  # remembered keys were made with the old (or no) digest
            self.forget_keys()

    def digest_of(self, model: Any) -> str:
        return self._digests.get(normalize_model(str(model or "")), "")

    def key_for(self, kind: RouteKind, raw: bytes, body: dict[str, Any]) -> str:
        """The cache key of ``body``; the same bytes as before give the key remembered."""
        if len(raw) > MAX_INDEXED_BODY:
            return cache_key(kind, body, self.digest_of(body.get("model")))
        index_key = (kind, raw)
        key = self._keys.get(index_key)
        if key is None:
            key = self._keys[index_key] = cache_key(kind, body, self.digest_of(body.get("model")))
            self._keys_bytes += len(raw)
            while self._keys_bytes > KEY_INDEX_BYTES:  # oldest first (dicts keep order)
                oldest = next(iter(self._keys))
                del self._keys[oldest]
                self._keys_bytes -= len(oldest[1])
        return key

    def _remember(self, key: str, entry: CacheEntry) -> None:
        size = entry.size
        if size > HOT_ENTRY_BYTES // 8:
            return  # one huge answer must not flush everything else
        old = self._hot.pop(key, None)
        if old is not None:
            self._hot_bytes -= old.size
        self._hot[key] = entry
        self._hot_bytes += size
        while self._hot_bytes > HOT_ENTRY_BYTES:
            _, evicted = self._hot.popitem(last=False)
            self._hot_bytes -= evicted.size

    def forget_keys(self) -> None:
        """Forget the request-bytes -> key index (what a request means has changed)."""
        self._keys.clear()
        self._keys_bytes = 0
        self.answers.clear()

    def drop_memory(self) -> None:
        """Forget the in-memory layers, as a restart would (the disk keeps everything)."""
        self.forget_keys()
        self._hot.clear()
        self._hot_bytes = 0

    async def resize(self, size_limit: int) -> None:
        """A new size limit; culling down to it writes sqlite, so it runs in the executor."""
        await self.backend.resize(size_limit)
        self.flights.replay_limit = self.max_entry_bytes
        self.drop_memory()  # evicted on disk must not live on in memory

    def lookup(self, key: str, max_age: float | None) -> CacheEntry | None:
        """Memory, then the store when it can answer on the loop (the disk; a shared store
        is asked by ``fetch``)."""
        if self.backend.cleared_elsewhere():
            self.drop_memory()  # another process (or proxy) cleared the cache
        hot = self._hot.get(key)
        if hot is not None:
            if self.backend.is_fresh(hot, max_age):
                self._hot.move_to_end(key)
                return hot
            if not self.backend.is_fresh(hot, None):
                self._hot_bytes -= self._hot.pop(key).size
            return None
        # A miss in memory reads one sqlite row on the loop: tens of microseconds
        # (tests/perf/bench_cache.py), cheaper than a hop to an executor and back.
        entry = self.backend.get_now(key, max_age)
        if entry is not None:
            self._remember(key, entry)
        return entry

    async def fetch(self, key: str, max_age: float | None) -> CacheEntry | None:
        """``lookup``, then the shared store when there is one."""
        entry = self.lookup(key, max_age)
        if entry is None and self.backend.shared:
            entry = await self.backend.get(key, max_age)
            if entry is not None:
                self._remember(key, entry)
        return entry

    async def shared_answer(
        self, key: str, max_age: float | None, flight_key: str, wait_limit: float
    ) -> CacheEntry | None:
        """The shared store's answer; when another proxy is generating it right now (it
        holds the key's short lock), that answer once stored (at most ``wait_limit``
        seconds), instead of asking the engine twice. A flight in this proxy is joined as
        usual (no lock needed)."""
        entry = await self.fetch(key, max_age)
        if entry is not None or self.flights.live(flight_key) or await self.claim(key):
            return entry
        return await self.backend.wait_for(key, max_age, min(wait_limit, LOCK_SECONDS))

    # what the request path did, for the hit rate --------------------------------------------
    def count_hit(self, entry: CacheEntry) -> None:
        self.stats.hits += 1
        self.stats.time_saved += entry.upstream_seconds

    def count_miss(self) -> None:
        self.stats.misses += 1

    def count_bypass(self) -> None:
        self.stats.bypasses += 1

    async def claim(self, key: str) -> bool:
        """Several proxies, one answer: True when this proxy should ask Ollama (it holds
        the key's lock, or there is no shared store); False: another proxy is on it."""
        if not self.backend.shared:
            return True
        claimed = await self.backend.claim(key)
        if claimed:
            self._claimed.add(key)
        return claimed

    def unclaim(self, key: str) -> None:
        """The flight ended without storing an answer: let the others try themselves."""
        if key in self._claimed:
            self._claimed.discard(key)
            self._track(asyncio.ensure_future(self.backend.release(key)))

    async def _put(self, key: str, entry: CacheEntry) -> None:
        await self.backend.put(key, entry)
        if key in self._claimed:  # the answer is there before the lock goes
            self._claimed.discard(key)
            await self.backend.release(key)

    def _track(self, future: asyncio.Future[Any]) -> None:
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def answer_for(self, route: str, raw: bytes) -> Answer | None:
        """The rendered answer to these exact request bytes, while its entry is the one
        the cache holds and is fresh (the same checks as a full lookup)."""
        if not self.enabled or not len(self.answers):
            return None
        answer = self.answers.get(route, raw)
        if answer is None:
            return None
        if self.lookup(answer.key, None) is not answer.entry:
            self.answers.drop(route, raw)  # expired, cleared, evicted or replaced
            return None
        return answer

    def write(self, key: str, entry: CacheEntry) -> None:
        """Off the request: a disk write commits to sqlite (the store's executor), a Redis
        write is a round trip."""
        self._remember(key, entry)
        self._track(asyncio.ensure_future(self._put(key, entry)))

    async def drain(self) -> None:
        """Wait for queued writes (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def clear(self) -> int:
        await self.drain()
        self.drop_memory()
        return await self.backend.clear()

    async def volume(self) -> tuple[int, int]:
        return await self.backend.volume()

    def volume_now(self) -> tuple[int, int]:
        """Blocking (a sqlite read) for the disk store; the last count for Redis."""
        return self.backend.volume_now()

    def new_entry(self, lines: list[bytes], streamed: bool, seconds: float) -> CacheEntry:
        return CacheEntry(tuple(lines), streamed, self.store.clock(), seconds)
