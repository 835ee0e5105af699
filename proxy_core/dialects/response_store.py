"""Conversations kept for OpenAI Responses' ``previous_response_id`` (when ``store`` is not
false): the native messages of a response's whole conversation, by response id, in
``<data dir>/responses`` (diskcache, bytes only, never pickle). Bounded by a TTL and a
size limit, least recently stored evicted first; reads and writes run in the executor."""

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
        raw = await self._shared.get_raw(self._key(response_id))
        try:
            messages = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        return messages if isinstance(messages, list) else None

    def put(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        data = json.dumps(messages, separators=(",", ":")).encode()
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
        self._recent: collections.OrderedDict[str, list[dict[str, Any]]] = collections.OrderedDict()

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

    def _get(self, response_id: str) -> list[dict[str, Any]] | None:
        try:
            raw = self._open().get(response_id)
            messages = json.loads(raw) if raw is not None else None
        except Exception as exc:  # a broken store is a missing conversation, not a crash
            log.warning("stored responses cannot be read: %s", exc)
            return None
        return messages if isinstance(messages, list) else None

    def _put(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        try:
            data = json.dumps(messages, separators=(",", ":")).encode()
            self._open().set(response_id, data, expire=TTL_SECONDS)
        except Exception as exc:  # losing a stored conversation never fails a reply
            log.warning("a response could not be stored: %s", exc)

    async def get(self, response_id: str) -> list[dict[str, Any]] | None:
        recent = self._recent.get(response_id)
        if recent is not None:
            return recent
        return await asyncio.get_running_loop().run_in_executor(None, self._get, response_id)

    def put(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        self._recent[response_id] = messages
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        future = asyncio.get_running_loop().run_in_executor(None, self._put, response_id, messages)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._cache is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._cache.close)
            self._cache = None
