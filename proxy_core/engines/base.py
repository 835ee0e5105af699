"""What every engine is, whatever it speaks: where it is, what it is called, its
connections (one aiohttp session), and the one error mapper, which names the engine's
kind in every message ("Ollama at …", "the OpenAI-compatible server 'lmstudio' at …").

The interface the rest of the proxy uses, in native form (Ollama's API):
- ``fetch(method, path, headers, body)``: one request, its reply read whole or streamed
  as native NDJSON (:class:`PoolReply`); every engine answers every generation route here;
- ``request(...)``: the raw byte relay (streams, uploads, ``HEAD``), for an engine whose
  replies are already native (``translating`` False: Ollama); the others refuse it;
- ``start()`` / ``close()``.
Health and models are asked through ``fetch`` (``/api/version``, ``/api/tags``,
``/api/ps``: poller.py, observe/ollama_status.py), so a new kind answers them in native
form too. A new kind is one module with a subclass and one line in registry.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import ClassVar, NotRequired, TypedDict

import aiohttp

from ..credentials import redact_url
from ..errors import ProxyError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .connection import PoolReply

# Headers aiohttp would add on its own; the client's own headers are forwarded instead.
_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding"})


class EngineOptions(TypedDict):
    """How an engine is reached, whatever its kind (a subclass passes them on as they are)."""

    connect_timeout: float
    read_timeout: float
    max_connections: int
    authorization: NotRequired[str]  # the whole header value, e.g. "Bearer sk-…"
    name: NotRequired[str]
    prefix: NotRequired[str]


class Engine:
    kind: ClassVar[str] = "engine"
    # True: its replies are not Ollama's bytes; everything goes through fetch(), which
    # translates (no byte relay, no uploads).
    translating: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        authorization: str = "",
        name: str = "",
        prefix: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.prefix = prefix  # how its models are told apart when another engine has the name
        # Sent on every request to the engine and nowhere else (a gateway's key, a
        # server's API key); never the client's header (forwarding.request_headers).
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

    # what it is called ----------------------------------------------------------------------
    @property
    def who(self) -> str:
        """How messages name it: "Ollama", or "the OpenAI-compatible server 'name'"."""
        return "Ollama"

    def map_error(self, exc: BaseException) -> UpstreamError:
        """A library error as the proxy's, naming this engine (messages reach clients and
        logs: the URL is redacted)."""
        return map_error(exc, self.base_url, self.who)

    # connections ----------------------------------------------------------------------------
    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=30, enable_cleanup_closed=False
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,  # bytes reach the client exactly as the engine sent them
            skip_auto_headers=_SKIP_AUTO,
            trust_env=False,  # a system HTTP_PROXY must not capture localhost traffic
            headers=self._headers,
            # No cookie jar: a shared one would replay one client's cookies to the engine
            # for every other client.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not awaited")
        return self._session

    # the interface ---------------------------------------------------------------------------
    async def fetch(
        self,
        method: str,
        path_qs: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> PoolReply:
        raise NotImplementedError

    def request(
        self,
        method: str,
        path_qs: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | AsyncIterator[bytes] | None = None,
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """The raw byte relay; an engine that translates has none (uploads and blobs are
        Ollama's own, with no counterpart elsewhere)."""
        raise ProxyError(f"{path_qs} is not available from {self.who}")

    async def iter_body(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """Chunks as they arrive, with library errors mapped to the proxy's tree."""
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc

    async def read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.map_error(exc) from exc


def map_error(exc: BaseException, base_url: str, who: str = "Ollama") -> UpstreamError:
    """The one error mapper: a library error as the proxy's, naming the engine."""
    url = redact_url(base_url)  # the message reaches clients and logs
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{who} at {url} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailable(f"{who} is not reachable at {url}: {exc.os_error}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return UpstreamUnavailable(f"{who} at {url} closed the connection")
    return UpstreamUnavailable(f"{who} at {url} failed: {exc}")
