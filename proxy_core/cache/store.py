"""The response cache on diskcache: bytes only, never pickle, failures are misses.

An entry is one native answer: a header line (JSON: created time, upstream duration,
whether Ollama streamed it) followed by the native NDJSON lines exactly as Ollama sent
them. One entry serves every dialect (see ``proxy_core.render``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache

from .keys import KEY_VERSION

log = logging.getLogger(__name__)
CLEAR_MARKER = "cleared"
# The on-disk format: the key scheme (keys.KEY_VERSION) and the entry layout (encode()).
# A cache written by another format is cleared at open, never misread (upgrades).
FORMAT_FILE = "format"
CACHE_FORMAT = f"keys {KEY_VERSION}, entries 1"
WRITE_RETRY_SECONDS = 30.0


def _is_corruption(exc: BaseException) -> bool:
    """A database that is damaged (rebuild it), as opposed to one that cannot grow."""
    if isinstance(exc, PickleRefused):
        return True
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return True  # "file is not a database", "database disk image is malformed"
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


MARKER_CHECK_SECONDS = 0.1  # a clear by another process is seen this soon


class PickleRefused(Exception):
    """A cache row asked to be unpickled (tampered database, CVE-2025-69872)."""


class BytesOnlyDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's ``Disk`` unpickles whatever mode a row claims; this one refuses."""

    def put(self, key: Any) -> Any:
        if not isinstance(key, str):
            raise TypeError("cache keys are hex strings")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise PickleRefused("pickled cache key refused")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if not isinstance(value, bytes):
            raise TypeError("cache values are bytes")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY):
            raise PickleRefused(f"cache row with mode {mode} refused")
        return super().fetch(mode, filename, value, read)


@dataclasses.dataclass(frozen=True, slots=True)
class CacheEntry:
    lines: tuple[bytes, ...]
    streamed: bool
    created: float
    upstream_seconds: float

    @property
    def size(self) -> int:
        """Bytes the answer holds in memory (roughly; for the in-memory layer's bound)."""
        return sum(len(line) for line in self.lines) + 64 * len(self.lines) + 200

    def encode(self) -> bytes:
        head = json.dumps(
            {"v": 1, "created": self.created, "dur": self.upstream_seconds, "stream": self.streamed}
        ).encode()
        return b"\n".join((head, *self.lines))

    @classmethod
    def decode(cls, data: bytes) -> CacheEntry:
        """Parse and check a stored entry: each line must replay (a JSON object), or the
        entry is refused (ValueError) rather than failing every request that hits it."""
        head, *lines = data.split(b"\n")
        meta = json.loads(head)
        if meta.get("v") != 1 or not lines:
            raise ValueError("unknown cache entry format")
        for line in lines:
            if not isinstance(json.loads(line), dict):
                raise ValueError("a stored line is not a JSON object")
        created, dur = float(meta["created"]), float(meta["dur"])
        if not (math.isfinite(created) and math.isfinite(dur)) or created < 0 or dur < 0:
            raise ValueError("a stored entry's times are not real times")  # never forever-fresh
        return cls(tuple(lines), bool(meta["stream"]), created, dur)


@dataclasses.dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bypasses: int = 0
    writes: int = 0
    errors: int = 0
    evictions: int = 0  # removed to stay under the size limit
    expirations: int = 0  # removed because their TTL ran out
    time_saved: float = 0.0


class ResponseStore:
    """Synchronous diskcache wrapper; callers run writes in an executor."""

    def __init__(
        self,
        directory: Path,
        *,
        size_limit: int,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.size_limit = size_limit
        self.ttl = ttl
        self.clock = clock
        self.stats = CacheStats()
        self._cache: diskcache.Cache | None = None
        self._failed_once = False
        self._bad_entry_logged = False
        # Writes pause after a write failure (disk full) until this clock time.
        self._writes_paused_until = 0.0
        self._write_warned = False
        self._marker_seen: tuple[int, int] | None = None
        self._marker_due = 0.0  # time.monotonic() of the next marker check

    def open(self) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._cache = self._open()
        except (sqlite3.Error, OSError, PickleRefused) as exc:
            self._report(exc)
            self._rebuild()
        self._check_format()
        if self._marker_identity() is None:
            self._touch_marker()  # a missing marker costs every lookup an exception
        self._marker_seen = self._marker_identity()

    def _check_format(self) -> None:
        """Clear a cache another version of the app wrote in another format (an upgrade
        or a downgrade), then record ours. A cache without a format file predates it."""
        if self._cache is None:
            return
        path = self.directory / FORMAT_FILE
        try:
            found = path.read_text().strip()
        except OSError:
            found = None
        if found == CACHE_FORMAT:
            return
        try:
            if len(self._cache):
                removed = self._cache.clear()
                log.warning(
                    "cleared %d cached answers written in another format (%s)",
                    removed,
                    found or "from before format files",
                )
            path.write_text(CACHE_FORMAT + "\n")
        except (sqlite3.Error, OSError) as exc:
            self._report(exc)

    def _open(self) -> diskcache.Cache:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        return diskcache.Cache(
            str(self.directory),
            disk=BytesOnlyDisk,
            size_limit=self.size_limit,
            eviction_policy="least-recently-stored",
            cull_limit=0,  # culled in put() instead, so evictions can be counted
            disk_min_file_size=1 << 20,  # keep answers in sqlite: one read per hit
            statistics=False,
        )

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def _report(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if not self._failed_once:
            self._failed_once = True
            log.warning("response cache failed (%s); rebuilding, requests go upstream", exc)

    def _rebuild(self) -> None:
        """Move a broken cache aside and start an empty one; give up quietly if that fails."""
        try:
            self.close()
        except Exception:  # a broken handle may fail to close; it is dropped either way
            self._cache = None
        try:
            if self.directory.exists():
                aside = self.directory.with_name(f"{self.directory.name}.broken-{int(time.time())}")
                shutil.move(str(self.directory), str(aside))
                shutil.rmtree(aside, ignore_errors=True)
            self._cache = self._open()
        except (sqlite3.Error, OSError) as exc:
            log.warning("response cache disabled: %s", exc)
            self._cache = None

    def get(self, key: str, max_age: float | None = None) -> CacheEntry | None:
        cache = self._cache
        if cache is None:
            return None
        try:
            data = cache.get(key)
        except Exception as exc:  # any cache failure is a miss, never a failed request
            self._report(exc)
            self._rebuild()
            return None
        if data is None:
            return None
        try:
            entry = CacheEntry.decode(data)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # One entry that cannot be replayed: a miss, removed, logged once.
            self.stats.errors += 1
            if not self._bad_entry_logged:
                self._bad_entry_logged = True
                log.warning("dropped a cache entry that cannot be replayed (%s)", exc)
            try:
                cache.delete(key)
            except Exception as delete_exc:  # a broken database is rebuilt as above
                self._report(delete_exc)
                self._rebuild()
            return None
        return entry if self.is_fresh(entry, max_age) else None

    def is_fresh(self, entry: CacheEntry, max_age: float | None) -> bool:
        """Within the TTL, and within the client's ``max-age`` when it sent one."""
        limit = self.ttl if max_age is None else min(self.ttl, max_age)
        return self.clock() - entry.created <= limit

    def put(self, key: str, entry: CacheEntry) -> None:
        cache = self._cache
        if cache is None or self.clock() < self._writes_paused_until:
            return
        try:
            cache.set(key, entry.encode(), expire=self.ttl)
            self.stats.writes += 1
            # diskcache's own cull on set() reports nothing; doing it here separates
            # expired rows from evictions for the size limit.
            self.stats.expirations += int(cache.expire())
            self.stats.evictions += int(cache.cull())
        except Exception as exc:  # a failed write loses this entry, never a reply
            self.stats.errors += 1
            if _is_corruption(exc):
                self._report(exc)
                self._rebuild()
                return
            # Disk full, read-only, quota: keep every stored entry, pause writes for a
            # while (answers are relayed, not stored), try again after.
            self._writes_paused_until = self.clock() + WRITE_RETRY_SECONDS
            if not self._write_warned:
                self._write_warned = True
                log.warning(
                    "cannot write the response cache (%s); answers are not stored for %g s, "
                    "then writing is tried again",
                    exc,
                    WRITE_RETRY_SECONDS,
                )
            return
        if self._write_warned:
            self._write_warned = False
            log.info("the response cache is writable again")

    def resize(self, size_limit: int) -> None:
        self.size_limit = size_limit
        cache = self._cache
        if cache is None:
            return
        try:
            cache.reset("size_limit", size_limit)
            self.stats.evictions += int(cache.cull())
        except Exception as exc:  # same rule as put(): a cache failure never fails a caller
            self._report(exc)
            self._rebuild()

    def clear(self) -> int:
        if self._cache is None:
            return 0
        try:
            removed = int(self._cache.clear())
        except (sqlite3.Error, OSError) as exc:
            self._report(exc)
            self._rebuild()
            removed = 0
        self._touch_marker()
        return removed

    # Processes that share a data dir each keep memory layers in front of the disk. A
    # clear replaces a marker file; lookups compare its identity (one stat of a file that
    # exists: a missing one, which would raise each time, is created at open) at most
    # every MARKER_CHECK_SECONDS, and a process that sees it change drops its memory
    # layers. Checked on every lookup, the stat was a tenth of a cache hit's CPU.
    @property
    def _marker(self) -> Path:
        return self.directory / CLEAR_MARKER

    @functools.cached_property
    def _marker_path(self) -> str:
        return str(self._marker)

    def _marker_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._marker_path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _touch_marker(self) -> None:
        try:
            temp = self._marker.with_suffix(f".{os.getpid()}")
            temp.write_bytes(str(time.time_ns()).encode())
            os.replace(temp, self._marker)  # a new inode: a change every reader notices
        except OSError as exc:
            log.warning("cannot mark the cache cleared for other processes: %s", exc)
        self._marker_seen = self._marker_identity()

    def cleared_elsewhere(self) -> bool:
        """True once after another process cleared the shared cache (seen within
        MARKER_CHECK_SECONDS)."""
        checked = time.monotonic()
        if checked < self._marker_due:
            return False
        self._marker_due = checked + MARKER_CHECK_SECONDS
        now = self._marker_identity()
        if now == self._marker_seen:
            return False
        self._marker_seen = now
        return True

    def volume(self) -> tuple[int, int]:
        """(entries, bytes on disk); blocking, call from an executor."""
        if self._cache is None:
            return 0, 0
        try:
            return len(self._cache), int(self._cache.volume())
        except (sqlite3.Error, OSError) as exc:
            self._report(exc)
            return 0, 0
