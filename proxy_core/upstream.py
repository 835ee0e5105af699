"""The HTTP clients to Ollama for the whole process, chosen by measurement
(``tests/perf/bench_upstream.py``, figures in docs/PERFORMANCE.md): whole replies (a
request with ``stream: false``, listings, embeddings) go through the lean httptools pool
(``upstream_pool.py``, about a quarter of aiohttp's CPU per request); streams and uploads
go through aiohttp's client (chosen over httpx), which relays chunks as they arrive.
Timeouts: a short connect timeout so "Ollama is down" answers fast; no total timeout,
because a generation may stream for minutes; a generous per-read timeout, because a cold
model load sends no byte until the model is in memory. Each client keeps up to
``max_connections`` connections, so Ollama may see twice that many at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from .credentials import redact_url
from .errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .upstream_pool import LeanPool, PoolReply

# Headers aiohttp would add on its own; the client's own headers are forwarded instead.
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding"})
# A reused keep-alive connection that Ollama closed (restart) fails with one of these
# before any byte of the reply; the request is safe to send once more on a new connection.
_STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class UpstreamClient:
    # An OpenAI-compatible server behind a native facade (openai_upstream.py) says so:
    # everything goes through fetch(), which translates.
    translating = False
    prefix = ""  # how its models are told apart when another upstream has the same name

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        authorization: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Sent on every upstream request and nowhere else (a gateway in front of a remote
        # Ollama); never the client's header, which forwarding.request_headers drops.
        self._headers = {"Authorization": authorization} if authorization else None
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._pool: LeanPool | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=30, enable_cleanup_closed=False
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,  # bytes reach the client exactly as Ollama sent them
            skip_auto_headers=_SKIP_AUTO,
            trust_env=False,  # a system HTTP_PROXY must not capture localhost traffic
            headers=self._headers,
            # No cookie jar: a shared one would replay one client's cookies to Ollama for
            # every other client.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> PoolReply:
        """One request whose reply is read whole (never a stream: use request())."""
        if self._pool is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        return await self._pool.request(method, path_qs, (headers or {}).items(), data)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        return self._session

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
                raise map_error(exc, self.base_url) from exc
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise map_error(exc, self.base_url) from exc
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

    async def iter_body(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """Chunks as they arrive, with library errors mapped to the proxy's tree."""
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise map_error(exc, self.base_url) from exc

    async def read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise map_error(exc, self.base_url) from exc


def _is_stream(data: object) -> bool:
    return data is not None and not isinstance(data, bytes | bytearray)


def map_error(exc: BaseException, base_url: str) -> UpstreamError:
    base_url = redact_url(base_url)  # the message reaches clients and logs
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"Ollama at {base_url} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailable(f"Ollama is not reachable at {base_url}: {exc.os_error}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return UpstreamUnavailable(f"Ollama at {base_url} closed the connection")
    return UpstreamUnavailable(f"Ollama at {base_url} failed: {exc}")
