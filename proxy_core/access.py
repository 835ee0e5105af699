"""Who may call, as data: the names and origins allowed, the per-install access token
(its file), and :class:`Policy`, the settings a request is judged by (parsed once per
settings change). The middleware that applies it is guard.py; docs/SECURITY.md explains
each rule."""

from __future__ import annotations

import fnmatch
import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from .errors import StartupError
from .settings import ProxySettings

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Ollama's default origins (envconfig.AllowedOrigins), any port.
DEFAULT_ORIGINS = (
    *(
        f"{scheme}://{host}{port}"
        for scheme in ("http", "https")
        for host in ("localhost", "127.0.0.1", "0.0.0.0")
        for port in ("", ":*")
    ),
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
)
MANAGEMENT_PATHS = ("/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete")
TOKEN_FILE = "access-token"
MCP_PATH = "/mcp"  # the tool server: the token is required there always, even on loopback
# Uploads streamed to Ollama chunk by chunk (model blobs, gigabytes): not bound by
# max_body_size, only by model management being allowed.
STREAMED_UPLOADS = "/api/blobs/"
PREFLIGHT_MAX_AGE = "600"
ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
EXPOSED_HEADERS = "X-Cache"


def cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def add_cors(policy: Policy, origin: str | None, headers: MutableMapping[str, str]) -> None:
    """An allowed origin's CORS headers onto a reply's, before its head is sent: by the
    boundary for every reply it returns, by ``prepare_stream`` (and the tool server) for a
    stream, whose head leaves inside the handler. (Not aiohttp's on_response_prepare
    signal: awaiting it cost every request a few microseconds, docs/PERFORMANCE.md.)"""
    if origin is not None and policy.origin_allowed(origin):
        for name, value in cors_headers(origin).items():
            headers.setdefault(name, value)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def host_name(header: str) -> str:
    """``Host`` without its port, brackets and trailing dot, lower-case."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return name.rstrip(".")


def matches(value: str, patterns: Iterable[str]) -> bool:
    value = value.lower()
    return any(fnmatch.fnmatchcase(value, pattern.lower()) for pattern in patterns)


def token_required(settings: ProxySettings) -> bool:
    return settings.require_token or not is_loopback(settings.host)


MIN_TOKEN_LENGTH = 16


def load_or_create_token(data_dir: Path) -> str:
    """The per-install token: created once (0600) in the data dir, read back after.

    A token the user wrote into the file is used as it is, never replaced: one that is
    too short or unreadable stops start-up with a clear message. A file readable by
    others is made 0600 again, with a warning."""
    path = data_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    except UnicodeDecodeError:
        raise StartupError(f"access token file {path}: is not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission
        raise StartupError(f"access token file {path}: cannot be read ({exc.strerror})") from None
    if token:
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise StartupError(
                f"access token file {path}: the token must be at least {MIN_TOKEN_LENGTH} "
                "characters without spaces; fix it, or delete the file to get a new one"
            )
        _tighten(path)
        return token
    token = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    path.chmod(0o600)
    return token


def _tighten(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(0o600)
            log.warning("access token file %s was readable by others; made it 0600", path)
    except OSError as exc:
        log.warning("access token file %s: cannot check its permissions: %s", path, exc)


class Policy:
    """The settings a request is judged by, parsed once per settings change."""

    def __init__(self, settings: ProxySettings, token: str) -> None:
        self.settings = settings
        self.loopback_only = is_loopback(settings.host)
        self.extra_hosts = split_list(settings.allowed_hosts)
        self.origins = (*DEFAULT_ORIGINS, *split_list(settings.allowed_origins))
        self.token = token.encode()
        self.token_required = token_required(settings)
        self._hosts: dict[str, bool] = {}  # Host header -> allowed: a handful per machine

    def host_allowed(self, header: str | None) -> bool:
        if header is None:
            return True  # HTTP/1.0 tools; browsers always send Host
        allowed = self._hosts.get(header)
        if allowed is None:
            allowed = self._judge_host(header)
            if len(self._hosts) < 64:  # clients choose the header: the memo stays bounded
                self._hosts[header] = allowed
        return allowed

    def _judge_host(self, header: str) -> bool:
        name = host_name(header)
        if name in LOOPBACK_NAMES:
            return True
        # Names the user listed are accepted on loopback too: Docker Desktop forwards
        # host.docker.internal to the host's loopback. A listed name is the user's, not an
        # attacker's domain, so it cannot be rebound by a web page.
        if self.extra_hosts and matches(name, self.extra_hosts):
            return True
        return not self.loopback_only and not self.extra_hosts

    def origin_allowed(self, origin: str) -> bool:
        return origin != "null" and matches(origin, self.origins)

    def token_ok(
        self, authorization: str | None, api_key: str | None = None, *, always: bool = False
    ) -> bool:
        """``Authorization: Bearer <token>`` (OpenAI clients, Claude Code) or
        ``x-api-key: <token>`` (the Anthropic SDKs); ``always``: even where the token is
        otherwise not required (the tool server, /mcp, runs programs)."""
        if not self.token_required and not always:
            return True
        if authorization is not None and authorization[:7].lower() == "bearer ":
            offered = authorization[7:].strip()
        elif api_key is not None:
            offered = api_key.strip()
        else:
            return False
        # Header bytes that are not UTF-8 arrive as surrogate escapes: never a match.
        return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), self.token)


def is_management(path: str) -> bool:
    return path in MANAGEMENT_PATHS or path.startswith("/api/blobs/")
