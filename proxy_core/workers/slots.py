"""The per-model slot counters every worker shares: a small table in a memory-mapped file
of the supervisor's, changed under an exclusive lock on that file (two system calls).

Why not ask the broker for every slot: a round trip over its socket cost each generation
about 130 µs of CPU in the workers and the supervisor, so two workers served fewer
pass-through requests than one (docs/PERFORMANCE.md). With the table a worker takes a free
slot itself, and goes to the broker only to wait in line, where the priority lanes and
supersede are kept; a release tells the broker only when someone waits.

Each entry is a model's: the hash of its name, how many wait at the broker, and how many
slots each worker holds (so a worker that dies gives back exactly its own)."""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

MODELS = 256  # distinct models at once (two names with one hash share their slots)
MAX_WORKERS = 64
_HEAD = struct.Struct("<Ii")  # name hash, waiting
_COUNT = struct.Struct("<i")
_COUNTS = struct.Struct(f"<{MAX_WORKERS}i")
ENTRY = _HEAD.size + _COUNTS.size
SIZE = MODELS * ENTRY


def create(path: Path) -> None:
    """The supervisor's empty table."""
    with open(path, "wb") as table:
        table.truncate(SIZE)
    os.chmod(path, 0o600)


def model_hash(model: str) -> int:
    return zlib.crc32(model.encode()) or 1  # 0 marks a free entry


class SlotTable:
    def __init__(self, path: Path, worker: int) -> None:
        self.worker = worker  # this process's column (the broker's own index is unused)
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self._map = mmap.mmap(self._fd, SIZE)
        self._offsets: dict[str, int] = {}  # an entry, once claimed, never moves

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # -- under the lock ----------------------------------------------------------------------
    def entry(self, model: str) -> int | None:
        """The model's entry offset, claiming a free one; None when the table is full."""
        known = self._offsets.get(model)
        if known is not None:
            return known
        wanted = model_hash(model)
        start = wanted % MODELS
        for step in range(MODELS):
            offset = ((start + step) % MODELS) * ENTRY
            found, _ = _HEAD.unpack_from(self._map, offset)
            if found == 0:
                _HEAD.pack_into(self._map, offset, wanted, 0)
            if found in (0, wanted):
                self._offsets[model] = offset
                return offset
        return None

    def running(self, offset: int) -> int:
        return sum(_COUNTS.unpack_from(self._map, offset + _HEAD.size))

    def waiting(self, offset: int) -> int:
        return int(_HEAD.unpack_from(self._map, offset)[1])

    def add_waiting(self, offset: int, change: int) -> None:
        found, waiting = _HEAD.unpack_from(self._map, offset)
        _HEAD.pack_into(self._map, offset, found, max(0, waiting + change))

    def add_running(self, offset: int, worker: int, change: int) -> None:
        at = offset + _HEAD.size + worker * _COUNT.size
        (held,) = _COUNT.unpack_from(self._map, at)
        _COUNT.pack_into(self._map, at, max(0, held + change))

    def forget_worker(self, worker: int) -> None:
        """A dead worker's slots, everywhere, back to the pool."""
        for index in range(MODELS):
            self.add_running(index * ENTRY, worker, -(1 << 30))

    # -- a worker's two moves ----------------------------------------------------------------
    def try_take(self, model: str, slots: int) -> bool:
        """A free slot, when nobody waits for one (past MODELS models at once, a model the
        table cannot hold is not limited)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # by hand: on every generation's path
        try:
            offset = self.entry(model)
            if offset is None:
                return True
            if self.waiting(offset) or self.running(offset) >= slots:
                return False
            self.add_running(offset, self.worker, 1)
            return True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def give_back(self, model: str) -> bool:
        """Return a slot this worker held; True when someone waits at the broker for it."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            offset = self.entry(model)
            if offset is None:
                return False
            self.add_running(offset, self.worker, -1)
            return self.waiting(offset) > 0
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def depth(self, model: str) -> tuple[int, int]:
        with self.locked():
            offset = self.entry(model)
            return (0, 0) if offset is None else (self.running(offset), self.waiting(offset))
