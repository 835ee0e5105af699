"""One settings model for headless mode and the tray app.

Sources, highest first: command line > environment (``OLLAMA_PROXY_*``) > ``settings.json``
in the data dir > defaults. Every value is validated here, so a bad value stops start-up
with one clear line (:class:`SettingsError`) instead of a traceback deep in the server.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

ENV_PREFIX = "OLLAMA_PROXY_"
SETTINGS_FILE = "settings.json"

CachePolicy = Literal["deterministic", "all"]
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A setting has a value we cannot run with; the message names the setting."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ollama-tray-proxy"


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    host: str = "127.0.0.1"
    port: int = 11435
    ollama_url: str = "http://127.0.0.1:11434"
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    cache_enabled: bool = True
    cache_ttl: float = 300.0
    cache_size_limit: int = 1 << 30
    cache_policy: CachePolicy = "deterministic"
    log_level: str = "info"
    log_bodies: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 600.0
    max_connections: int = 64
    shutdown_grace: float = 5.0
    max_body_size: int = 64 << 20
    num_ctx_defaults: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # Seconds between hardware / cache-volume samples; 0 switches the monitor off.
    monitor_interval: float = 1.0
    # Security (docs/SECURITY.md). A token is always required on a non-loopback address.
    require_token: bool = False
    access_token: str = ""  # empty: the per-install token in <data_dir>/access-token
    allowed_origins: str = ""  # extra browser origins, comma-separated, * wildcards
    allowed_hosts: str = ""  # Host names accepted when listening beyond loopback
    allow_model_management: bool = False  # pull/push/create/copy/delete/blobs
    # A connection with no complete request head this long after opening or after its
    # last reply is closed (idle keep-alive and slowloris alike); clients keep idle
    # connections 4-15 s, so they close first.
    idle_timeout: float = 30.0
    body_timeout: float = 60.0  # a request body must arrive within this many seconds
    # The Authorization header sent to Ollama (a gateway in front of a remote Ollama), e.g.
    # "Bearer abc". Only from the environment or the settings file (never a flag: argv is
    # visible to every user), only sent upstream, never logged.
    upstream_authorization: str = dataclasses.field(default="", repr=False)
    # A reply line (one NDJSON object) longer than this ends a translated reply with an
    # error instead of being held in memory without bound.
    max_line_bytes: int = 16 << 20
    # Client connections held at once (idle keep-alive ones included); past it the oldest
    # idle ones are closed first. Capped below the process's file descriptor limit.
    max_client_connections: int = 2048

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> ProxySettings:
        return dataclasses.replace(self, **changes)

    @property
    def ollama_base(self) -> str:
        return self.ollama_url.rstrip("/")

    def to_json(self, *, redact: bool = False) -> dict[str, Any]:
        """The settings as JSON; ``redact`` hides secrets (for logs and displays)."""
        out = dataclasses.asdict(self)
        out["data_dir"] = str(self.data_dir)
        out["num_ctx_defaults"] = dict(self.num_ctx_defaults)
        if redact:
            for name in SECRET_SETTINGS:
                if out[name]:
                    out[name] = "<redacted>"
        return out


SECRET_SETTINGS = ("access_token", "upstream_authorization")
FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(ProxySettings)}


def validate(s: ProxySettings) -> None:
    if not s.host or any(ch.isspace() for ch in s.host):
        raise SettingsError(f"host: {s.host!r} is not a host name or address")
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"port: {s.port} is outside 0-65535")
    try:
        parts = urlsplit(s.ollama_url)
        hostname = parts.hostname
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 bracket)
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https"):
        raise SettingsError(
            f"ollama_url: {s.ollama_url!r} must be an http(s) URL such as http://127.0.0.1:11434"
        )
    try:
        _ = parts.port
    except ValueError:
        raise SettingsError(f"ollama_url: {s.ollama_url!r} has an invalid port") from None
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"{f.name}: must be a finite number, not {value}")
    if s.cache_policy not in ("deterministic", "all"):
        raise SettingsError(f"cache_policy: {s.cache_policy!r} must be 'deterministic' or 'all'")
    if s.log_level not in LOG_LEVELS:
        raise SettingsError(f"log_level: {s.log_level!r} must be one of {', '.join(LOG_LEVELS)}")
    if s.access_token and (len(s.access_token) < 16 or any(c.isspace() for c in s.access_token)):
        raise SettingsError("access_token: use at least 16 characters and no spaces")
    if any(ch in s.upstream_authorization for ch in "\r\n\x00"):
        raise SettingsError("upstream_authorization: must be one header line")
    for name in (
        "cache_ttl",
        "connect_timeout",
        "read_timeout",
        "shutdown_grace",
        "idle_timeout",
        "body_timeout",
    ):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be a positive number of seconds")
    if s.monitor_interval < 0:
        raise SettingsError("monitor_interval: must be 0 (off) or a positive number of seconds")
    for name in (
        "cache_size_limit",
        "max_connections",
        "max_body_size",
        "max_line_bytes",
        "max_client_connections",
    ):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be a positive whole number")
    for model, ctx in s.num_ctx_defaults.items():
        if not isinstance(ctx, int) or ctx <= 0:
            raise SettingsError(f"num_ctx_defaults: {model!r} needs a positive whole number")


def coerce(name: str, value: Any) -> Any:
    """Turn a raw value (a string from env/CLI, or JSON) into the field's type."""
    field = FIELDS.get(name)
    if field is None:
        raise SettingsError(f"{name}: unknown setting")
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "Path":
            return Path(str(value)).expanduser()
        if name == "num_ctx_defaults":
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise ValueError
            return {str(k): int(v) for k, v in parsed.items()}
        return str(value).lower() if name in ("log_level", "cache_policy") else str(value)
    except (TypeError, ValueError, OverflowError, json.JSONDecodeError):
        raise SettingsError(f"{name}: {value!r} is not a valid {kind or 'value'}") from None


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            out[name] = coerce(name, environ[key])
    return out


def from_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"settings file {path}: cannot be read ({exc})") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"settings file {path}: must hold a JSON object")
    return {name: coerce(name, value) for name, value in raw.items()}


def resolve(
    cli: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    stored: Mapping[str, Any] | None = None,
) -> ProxySettings:
    """Merge the sources with precedence CLI > env > ``stored`` > file > defaults.

    ``stored`` is the tray app's QSettings (already typed); headless mode has none.
    """
    env = from_env(os.environ if environ is None else environ)
    saved = {k: coerce(k, v) for k, v in (stored or {}).items()}
    data_dir = cli.get("data_dir") or env.get("data_dir") or saved.get("data_dir")
    data_dir = data_dir or default_data_dir()
    merged: dict[str, Any] = {}
    merged.update(from_file(Path(data_dir) / SETTINGS_FILE))
    merged.update(saved)
    merged.update(env)
    merged.update({k: coerce(k, v) for k, v in cli.items() if v is not None})
    merged["data_dir"] = Path(data_dir).expanduser()
    return ProxySettings(**merged)


def save(settings: ProxySettings) -> Path:
    """Write the settings file (the tray app's QSettings mirror it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.data_dir / SETTINGS_FILE
    data = settings.to_json()
    data.pop("data_dir")
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
