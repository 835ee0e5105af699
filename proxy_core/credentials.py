"""Which headers, query parameters and URL parts carry credentials: one list, used both to
drop them before any upstream request (forwarding.py) and to redact them wherever a
request is shown (the inspector, copy-as-curl, logs, /healthz).

A client's credential is meant for the proxy (its access token) or for a cloud service it
also talks to (an OpenAI, Anthropic, Azure or Google key). Neither is Ollama's: with a
remote Ollama host such a key would leave the machine. Beyond the names clients are known
to send, any header whose name looks like a credential is treated as one ("any similar"):
dropping a harmless header that merely looks like one costs nothing, since Ollama reads
none of them; forwarding a key is a leak.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"

# Names clients are known to send credentials in, lower-case.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",  # OpenAI SDKs, Claude Code, the proxy's token
        "proxy-authorization",
        "x-api-key",  # Anthropic SDKs
        "api-key",  # Azure OpenAI style (Copilot CLI's BYOK mode)
        "x-goog-api-key",  # Google's Gemini API (Gemini CLI)
        "openai-api-key",
        "anthropic-api-key",
        "ocp-apim-subscription-key",  # Azure API Management
        "x-functions-key",
        "x-amz-security-token",
        "x-auth-token",
        "x-access-token",
        "cookie",
        "set-cookie",
        "mcp-session-id",  # a session id is a capability: whoever holds it continues it
    }
)
# Substrings of a header name that mark "any similar" credential header.
_CREDENTIAL_MARKERS = (
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "cookie",
    "api-key",
    "apikey",
    "api_key",
    "session",
    "signature",
)
# Query parameters that carry keys (Google's ``?key=``, and the usual spellings).
CREDENTIAL_PARAMS = frozenset(
    {"key", "api_key", "apikey", "api-key", "token", "access_token", "auth", "password", "sig"}
)


@functools.lru_cache(maxsize=512)  # a handful of distinct header names per client
def is_credential_header(name: str) -> bool:
    lowered = name.lower()
    if lowered in CREDENTIAL_HEADERS or lowered.endswith(("-key", "_key")):
        return True
    return any(marker in lowered for marker in _CREDENTIAL_MARKERS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with every credential's value replaced (names kept: the reader sees
    that one was sent)."""
    return {
        name: REDACTED if is_credential_header(name) else value for name, value in headers.items()
    }


def is_credential_param(name: str) -> bool:
    return name.lower() in CREDENTIAL_PARAMS


def redact_query(query: str) -> str:
    """A raw query string with the values of credential parameters replaced."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_credential_param(name) for name, _ in pairs):
        return query
    return urlencode(
        [(name, REDACTED if is_credential_param(name) else value) for name, value in pairs],
        safe="<>",
    )


def drop_credential_params(query: str) -> str:
    """A raw query string without credential parameters (never sent upstream)."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not is_credential_param(name)]
    return query if len(kept) == len(pairs) else urlencode(kept)


_USERINFO = re.compile(r"//[^/@?#]*@")


def redact_url(url: str) -> str:
    """A URL fit to show: a password in it (``redis://:pw@host``, ``http://u:pw@host``)
    and credential query parameters replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(f"//{REDACTED}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        netloc = f"{user}:{REDACTED}@{host}" if user else f"{REDACTED}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=redact_query(parts.query)))


def redact_urls(urls: Iterable[str]) -> list[str]:
    """Each URL redacted; ``name=URL`` items (openai_upstreams) keep their name."""
    out = []
    for item in urls:
        name, sep, url = item.partition("=")
        if sep and "://" not in name and "://" in url:
            out.append(f"{name}={redact_url(url)}")
        else:
            out.append(redact_url(item))
    return out
