"""Pure helpers for forwarding: hop-by-hop headers and the upstream path."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import quote, unquote

from .credentials import drop_credential_params, is_credential_header

# RFC 9110 §7.6.1 connection-specific headers, plus those aiohttp sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded upstream: Host and length are re-derived; aiohttp has already inflated a
# compressed body, so its Content-Encoding no longer applies. Credentials (the proxy's
# own token, a client's cloud keys: credentials.py) are never Ollama's; upstream
# credentials are the separate upstream_authorization setting, added by the upstream client.
_REQUEST_DROP = HOP_BY_HOP | {
    "host",
    "expect",  # answered by the proxy itself; the body is already read when it forwards
    "content-length",
    "content-encoding",
}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length", "date", "server"}


def _connection_tokens(headers: Mapping[str, str]) -> set[str]:
    """Header names a ``Connection`` header declares hop-by-hop (RFC 9110 §7.6.1); the
    headers are aiohttp's case-insensitive multidicts."""
    value = headers.get("Connection", "")
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def _filter(
    headers: Iterable[tuple[str, str]],
    drop: frozenset[str],
    extra: set[str],
    credentials: bool = False,
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in drop or lower in extra or (credentials and is_credential_header(lower)):
            continue
        out[name] = value
    return out


def request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers to send upstream: end-to-end ones only (Host and length are re-derived),
    never a credential."""
    return _filter(headers.items(), _REQUEST_DROP, _connection_tokens(headers), True)


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers to send to the client; aiohttp frames the body itself."""
    return _filter(headers.items(), _RESPONSE_DROP, _connection_tokens(headers))


@lru_cache(maxsize=256)  # the guard asks for every request; clients use a few paths
def upstream_path(raw_path: str) -> str | None:
    """The normalized path to request from Ollama, or None when it leaves Ollama's API.

    Decodes percent-escapes before normalizing, so ``/api/%2e%2e/x`` and ``/api/../x``
    are judged by what they resolve to; empty segments (``//``) collapse. The guard
    judges this path too (model management), never the one the client spelled.
    """
    decoded = unquote(raw_path)
    if "\x00" in decoded or "\\" in decoded:
        return None
    normal = posixpath.normpath("/" + decoded.lstrip("/"))
    if normal == "/":
        return "/"
    if normal == "/api" or normal.startswith("/api/"):
        return normal
    return None


def encode_path(path: str, query_string: str) -> str:
    """Re-encode a normalized path (and the client's raw query, less any credential
    parameter such as ``?key=``) for the upstream URL."""
    encoded = quote(path, safe="/:@!$&'()*+,;=-._~")
    query = drop_credential_params(query_string)
    return f"{encoded}?{query}" if query else encoded
