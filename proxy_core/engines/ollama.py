"""The HTTP clients to Ollama for the whole process, chosen by measurement
(``tests/perf/bench_upstream.py``, figures in docs/PERFORMANCE.md): whole replies (a
request with ``stream: false``, listings, embeddings) go through the lean httptools pool
(``pool.py``, about a quarter of aiohttp's CPU per request); streams and uploads
go through aiohttp's client (chosen over httpx), which relays chunks as they arrive.
Timeouts: a short connect timeout so "Ollama is down" answers fast; no total timeout,
because a generation may stream for minutes; a generous per-read timeout, because a cold
model load sends no byte until the model is in memory. Each client keeps up to
``max_connections`` connections, so Ollama may see twice that many at most.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from .base import Engine
from .connection import PoolReply
from .pool import LeanPool

# A reused keep-alive connection that Ollama closed (restart) fails with one of these
# before any byte of the reply; the request is safe to send once more on a new connection.
_STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class OllamaEngine(Engine):
    """Ollama: whole replies on the lean pool, streams and uploads relayed as bytes."""

    kind = "ollama"
    translating = False
    _pool: LeanPool | None = None  # from start() to close()

    async def start(self) -> None:
        await super().start()
        self._pool = LeanPool(
            self.base_url,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            limit=self._max_connections,
            default_headers=list((self._headers or {}).items()),
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        await super().close()

    async def fetch(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> PoolReply:
        """One request whose reply is read whole (never a stream: use request())."""
        if self._pool is None:
            raise RuntimeError("OllamaEngine.start() was not awaited")
        return await self._pool.request(method, path_qs, (headers or {}).items(), data)

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path_qs: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | AsyncIterator[bytes] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request; the response is released (and the upstream request closed
        if unfinished) when the block exits, including by cancellation."""
        # path_qs is already percent-encoded (see forwarding.encode_path); keep it as is.
        url = URL(self.base_url + path_qs, encoded=True)
        attempts = 2 if not _is_stream(data) else 1
        for attempt in range(attempts):
            try:
                resp = await self.session.request(
                    method, url, headers=headers, data=data, allow_redirects=False
                )
            except _STALE_CONNECTION as exc:
                if attempt + 1 < attempts and not isinstance(exc, aiohttp.ClientConnectorError):
                    continue
                raise self.map_error(exc) from exc
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise self.map_error(exc) from exc
            break
        try:
            yield resp
        finally:
            # close(), not release(): an unfinished stream must drop the connection so
            # that Ollama sees the disconnect and stops generating.
            if resp.content.at_eof():
                resp.release()
            else:
                resp.close()


def _is_stream(data: object) -> bool:
    return data is not None and not isinstance(data, bytes | bytearray)
