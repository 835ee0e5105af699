"""Conversations kept for OpenAI Responses' ``previous_response_id`` (when ``store`` is not
false): the native messages of a response's whole conversation, by response id, in
``<data dir>/responses`` (diskcache, bytes only, never pickle). Bounded by a TTL and a
size limit, least recently stored evicted first; reads and writes run in the executor.

A chain of follow-ups grows its conversation with every step, so one conversation is
bounded too (MAX_CONVERSATION_BYTES): a longer one is not kept, and a follow-up to it is
told so (:class:`TooLong`) instead of being answered without its history. The copies
kept in memory are the serialized bytes, bounded in total (MEMORY_BYTES)."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import diskcache

from ..cache.redis_store import RedisAnswerStore
from ..cache.store import BytesOnlyDisk

log = logging.getLogger(__name__)
TTL_SECONDS = 7 * 24 * 3600  # a week: long enough to come back to a session
SIZE_LIMIT = 256 << 20
RECENT = 256  # conversations also kept in memory: a follow-up may arrive before the write
MEMORY_BYTES = 64 << 20  # ...and no more than this many bytes of them
MAX_CONVERSATION_BYTES = 32 << 20


class TooLong(Exception):
    """The conversation behind a response id grew past MAX_CONVERSATION_BYTES."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the conversation is too long to continue ({size} bytes stored at most "
            f"{MAX_CONVERSATION_BYTES}); start a new one with the input you need"
        )


def encode(messages: list[dict[str, Any]]) -> bytes:
    """The stored form; a conversation past the limit is stored as a marker of its size."""
    data = json.dumps(messages, separators=(",", ":")).encode()
    if len(data) > MAX_CONVERSATION_BYTES:
        return json.dumps({"too_long": len(data)}).encode()
    return data


def decode(raw: bytes | None) -> list[dict[str, Any]] | None:
    """Stored bytes as messages; None for nothing (or anything that is not a
    conversation); TooLong for a conversation that was too long to keep."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("too_long"), int):
        raise TooLong(value["too_long"])
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return value
    return None


class ConversationStore(Protocol):
    """Where Responses conversations live: the data dir, or Redis shared by proxies."""

    async def get(self, response_id: str) -> list[dict[str, Any]] | None: ...

    def put(self, response_id: str, messages: list[dict[str, Any]]) -> None: ...

    async def close(self) -> None: ...


class SharedResponseStore:
    """The conversations in the shared Redis (``cache_url``): a follow-up may reach any
    proxy behind the load balancer. Redis down: a missing conversation (the client gets
    Responses' "not found" error), never a crash."""

    def __init__(self, shared: RedisAnswerStore) -> None:
        self._shared = shared
        self._pending: set[asyncio.Future[Any]] = set()

    def _key(self, response_id: str) -> str:
        return f"{self._shared.prefix}:response:{response_id}"

    async def get(self, response_id: str) -> list[dict[str, Any]] | None:
        return decode(await self._shared.get_raw(self._key(response_id)))

    def put(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        data = encode(messages)
        future = asyncio.ensure_future(
            self._shared.set_raw(self._key(response_id), data, TTL_SECONDS)
        )
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


class ResponseStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: diskcache.Cache | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._recent: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._recent_bytes = 0

    def _open(self) -> diskcache.Cache:
        if self._cache is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._cache = diskcache.Cache(
                str(self.directory),
                disk=BytesOnlyDisk,
                size_limit=SIZE_LIMIT,
                eviction_policy="least-recently-stored",
                statistics=False,
            )
        return self._cache

    def _get(self, response_id: str) -> bytes | None:
        try:
            raw = self._open().get(response_id)
        except Exception as exc:  # a broken store is a missing conversation, not a crash
            log.warning("stored responses cannot be read: %s", exc)
            return None
        return raw if isinstance(raw, bytes) else None

    def _put(self, response_id: str, data: bytes) -> None:
        try:
            self._open().set(response_id, data, expire=TTL_SECONDS)
        except Exception as exc:  # losing a stored conversation never fails a reply
            log.warning("a response could not be stored: %s", exc)

    async def get(self, response_id: str) -> list[dict[str, Any]] | None:
        raw = self._recent.get(response_id)
        if raw is None:
            raw = await asyncio.get_running_loop().run_in_executor(None, self._get, response_id)
        return decode(raw)

    def put(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        data = encode(messages)
        self._recent[response_id] = data
        self._recent_bytes += len(data)
        while self._recent and (len(self._recent) > RECENT or self._recent_bytes > MEMORY_BYTES):
            self._recent_bytes -= len(self._recent.popitem(last=False)[1])
        future = asyncio.get_running_loop().run_in_executor(None, self._put, response_id, data)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._cache is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._cache.close)
            self._cache = None
