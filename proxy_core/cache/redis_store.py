"""The answer store in Redis (``cache_url = redis://…``), shared by every proxy pointed at
it: a team's proxies behind a load balancer answer each other's questions.

Same entries as the disk store (store.py: a header line and the native lines, bytes only),
same keys, TTL and freshness checks; Redis expires entries itself (``SET … EX ttl``) and
evicts by its own ``maxmemory`` policy. A clear deletes this store's keys and is
announced on a channel, so every proxy drops its in-memory layers at once. A short lock
per key (``SET NX PX``) lets one proxy generate an answer while the others wait for it.

Redis down is never a failed request: the first error logs one warning, lookups and
writes are skipped (requests go to Ollama) and Redis is tried again every few seconds;
the first success logs that caching resumed. redis-py is imported only when configured.

Whatever is in Redis is read as untrusted (anyone with access to it can write there): a
value is fetched only when it is a string no larger than MAX_VALUE_BYTES (one script,
one round trip), and is decoded and checked before use; anything else is a miss, dropped,
never a crash, an unbounded read, or a reason to call Redis down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ..errors import StartupError
from .store import CacheEntry, CacheStats

log = logging.getLogger(__name__)
RETRY_SECONDS = 3.0  # after a failure, Redis is left alone this long
TIMEOUT = 0.5  # a slow Redis is a down Redis: a cache must never slow a request down
LOCK_SECONDS = 60.0  # how long one proxy may hold a key while generating its answer
WAIT_STEP = 0.05  # how often a waiting proxy looks for the answer
SCAN_BATCH = 500
VOLUME_SECONDS = 30.0  # how often the entry count is refreshed (a SCAN of the keys)
MAX_VALUE_BYTES = 64 << 20
CLOCK_SKEW = 5.0  # seconds another proxy's clock may run ahead of this one's
# GET, but only a string value within the limit: nil when missing, {size} when too big,
# {-1} when the key holds another type.
_BOUNDED_GET = """
local size = redis.pcall('STRLEN', KEYS[1])
if type(size) == 'table' then return {-1} end
if size == 0 then return redis.call('GET', KEYS[1]) end
if size > tonumber(ARGV[1]) then return {size} end
return redis.call('GET', KEYS[1])
"""


class _Invalid:
    """A value that is not what this store writes (another type, too big)."""


INVALID = _Invalid()


class RedisAnswerStore:
    shared = True  # an AnswerStore (stores.py) whose answers every proxy sees

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        prefix: str = "ollama-tray-proxy",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.clock = clock
        self.prefix = prefix
        self.stats = CacheStats()
        self.size_limit = 0  # Redis's maxmemory decides
        self._redis: Any = None
        self._down_until = 0.0  # time.monotonic(): skip Redis until then
        self._warned = False
        self._cleared = False  # another proxy cleared: drop the memory layers once
        self._listener: asyncio.Task[None] | None = None
        self.volume_seen: tuple[int, int] = (0, 0)
        self._volume_due = 0.0
        self._bounded_get: Any = None

    # keys ------------------------------------------------------------------------------------
    def _answer(self, key: str) -> str:
        return f"{self.prefix}:answer:{key}"

    def _lock(self, key: str) -> str:
        return f"{self.prefix}:lock:{key}"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:cleared"

    # life ------------------------------------------------------------------------------------
    async def open(self) -> None:
        try:
            import redis.asyncio as redis
        except ImportError:
            raise StartupError(
                "cache_url: a Redis cache needs redis-py: pip install 'ollama-tray-proxy[redis]'"
            ) from None

        self._redis = redis.Redis.from_url(
            self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self._bounded_get = self._redis.register_script(_BOUNDED_GET)
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(), name="cache-clear-listener"
        )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    async def _listen(self) -> None:
        """Clears announced by any proxy (this one too) drop the memory layers."""
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._cleared = True
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down: the next subscribe is the retry
                self._cleared = True  # a clear may have been missed: forget, to be safe
                await asyncio.sleep(RETRY_SECONDS)

    # health ----------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        self._down_until = time.monotonic() + RETRY_SECONDS
        if not self._warned:
            self._warned = True
            log.warning(
                "the shared cache at %s failed (%s); requests go to Ollama uncached until it "
                "answers again (tried every %g s)",
                _safe(self.url),
                exc,
                RETRY_SECONDS,
            )

    def _answered(self) -> None:
        if self._warned:
            self._warned = False
            log.warning("the shared cache at %s answers again; caching resumed", _safe(self.url))

    # the store -------------------------------------------------------------------------------
    def is_fresh(self, entry: CacheEntry, max_age: float | None) -> bool:
        limit = self.ttl if max_age is None else min(self.ttl, max_age)
        # An entry from the future (another proxy's clock, or a forged one) is not fresh:
        # it would otherwise be served until that time came.
        age = self.clock() - entry.created
        return -CLOCK_SKEW <= age <= limit

    def get_now(self, key: str, max_age: float | None) -> CacheEntry | None:
        return None  # every read is a round trip: always the async get()

    async def resize(self, size_limit: int) -> None:
        return None  # Redis's maxmemory policy bounds it

    def volume_now(self) -> tuple[int, int]:
        return self.volume_seen

    async def _read(self, name: str) -> bytes | _Invalid | None:
        """A value by its full name, bounded (see the module's docstring); None when
        missing or when Redis fails (a miss, never a failed request)."""
        if not self.available:
            return None
        try:
            value = await self._bounded_get(keys=[name], args=[MAX_VALUE_BYTES])
        except Exception as exc:
            self._failed(exc)
            return None
        self._answered()
        if isinstance(value, list):
            log.warning("the shared cache holds a value at %s that is not ours; dropped", name)
            self.stats.errors += 1
            with contextlib.suppress(Exception):
                await self._redis.delete(name)
            return INVALID
        return bytes(value) if value is not None else None

    async def get(self, key: str, max_age: float | None = None) -> CacheEntry | None:
        data = await self._read(self._answer(key))
        if data is None or isinstance(data, _Invalid):
            return None
        try:
            entry = CacheEntry.decode(data)
        except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
            self.stats.errors += 1
            with contextlib.suppress(Exception):
                await self._redis.delete(self._answer(key))
            return None
        return entry if self.is_fresh(entry, max_age) else None

    async def put(self, key: str, entry: CacheEntry) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(self._answer(key), entry.encode(), ex=max(1, math.ceil(self.ttl)))
        except Exception as exc:
            self._failed(exc)
            return
        self._answered()
        self.stats.writes += 1

    async def clear(self) -> int:
        """Delete every answer of this store and tell every proxy (their memory layers)."""
        removed = 0
        try:
            async for batch in self._batches(f"{self.prefix}:answer:*"):
                removed += int(await self._redis.unlink(*batch))
            await self._redis.publish(self.channel, b"1")
        except Exception as exc:
            self._failed(exc)
        return removed

    async def _batches(self, pattern: str) -> Any:
        batch: list[bytes] = []
        async for name in self._redis.scan_iter(match=pattern, count=SCAN_BATCH):
            batch.append(name)
            if len(batch) >= SCAN_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def volume(self) -> tuple[int, int]:
        """(answers, bytes Redis uses): counted with SCAN at most every VOLUME_SECONDS
        (the monitor asks every second; a big shared cache must not pay a full scan for
        each), the last count otherwise or when Redis does not answer."""
        now = time.monotonic()
        if not self.available or now < self._volume_due:
            return self.volume_seen
        self._volume_due = now + VOLUME_SECONDS
        count = 0
        try:
            async for batch in self._batches(f"{self.prefix}:answer:*"):
                count += len(batch)
            memory = await self._redis.info("memory")
        except Exception as exc:
            self._failed(exc)
            return self.volume_seen
        self.volume_seen = (count, int(memory.get("used_memory", 0)))
        return self.volume_seen

    def cleared_elsewhere(self) -> bool:
        cleared, self._cleared = self._cleared, False
        return cleared

    async def get_raw(self, name: str) -> bytes | None:
        """Any value of this store by its full name (the Responses conversations)."""
        value = await self._read(name)
        return None if isinstance(value, _Invalid) else value

    async def set_raw(self, name: str, value: bytes, ttl: float) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(name, value, ex=max(1, math.ceil(ttl)))
        except Exception as exc:
            self._failed(exc)

    # coalescing across proxies ---------------------------------------------------------------
    async def claim(self, key: str) -> bool:
        """True: this proxy generates the answer (or Redis is down: everyone does)."""
        if not self.available:
            return True
        try:
            got = await self._redis.set(self._lock(key), b"1", nx=True, px=int(LOCK_SECONDS * 1000))
        except Exception as exc:
            self._failed(exc)
            return True
        return bool(got)

    async def release(self, key: str) -> None:
        if self.available:
            with contextlib.suppress(Exception):
                await self._redis.delete(self._lock(key))

    async def wait_for(self, key: str, max_age: float | None, seconds: float) -> CacheEntry | None:
        """Another proxy holds the key: its answer once stored, or None when its lock is
        gone without one (it failed; this proxy then asks Ollama itself) or time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.available:
            entry = await self.get(key, max_age)
            if entry is not None:
                return entry
            try:
                if not await self._redis.exists(self._lock(key)):
                    return await self.get(key, max_age)
            except Exception as exc:
                self._failed(exc)
                return None
            await asyncio.sleep(WAIT_STEP)
        return None


def _safe(url: str) -> str:
    """The URL without a password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
