"""The one settings model, :class:`ProxySettings`: every setting with its :class:`Spec`,
and the checks every value passes, so that a bad value stops start-up with one clear
line (:class:`SettingsError`) instead of a traceback deep in the server."""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..credentials import redact_urls
from .checks import validate
from .spec import (
    _SECONDS,
    LOG_LEVELS,
    NO_OLLAMA,
    CachePolicy,
    Spec,
    default_data_dir,
    named_url,
    setting,
    split_urls,
)

if TYPE_CHECKING:
    from ..engines.registry import EngineSpec


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    host: str = setting(
        "127.0.0.1",
        flag="--host",
        help="address to listen on (keep loopback unless you know why)",
        scope="listen",
    )
    port: int = setting(
        11435,
        flag="--port",
        minimum=0,
        maximum=65535,
        help="port to listen on (0 picks a free one)",
        scope="listen",
    )
    ollama_url: str = setting(
        "http://127.0.0.1:11434",
        flag="--ollama-url",
        repeatable=True,
        help="where Ollama answers; several hosts: repeat the flag or separate URLs with "
        "commas (requests go to a healthy host that has the model; the first is the primary); "
        "none: no Ollama, only the OpenAI-compatible servers of --openai-upstream",
        scope="engines",
    )
    openai_upstreams: str = setting(
        "",
        flag="--openai-upstream",
        repeatable=True,
        default_text="(none)",
        help="OpenAI-compatible servers to route to beside Ollama (llama.cpp's llama-server, "
        "LM Studio, vLLM): URL or name=URL, repeat the flag or separate with commas; their "
        "models are served in every dialect, the native API included",
        scope="engines",
    )
    engines: str = setting(
        "",
        flag="--engine",
        repeatable=True,
        default_text="(none)",
        help="more engines as kind:name=URL (kinds: ollama, openai), options after ';': "
        "key_env=VARIABLE (the API key's environment variable), connect_timeout, "
        "read_timeout; e.g. openai:vllm=http://gpu:8000;key_env=VLLM_KEY (README, Engines)",
        scope="engines",
    )
    openai_api_key: str = setting(
        "",
        secret=True,
        help="the API key sent to the OpenAI-compatible servers (environment or settings "
        "file only)",
        scope="engines",
    )
    data_dir: Path = setting(
        factory=default_data_dir,
        flag="--data-dir",
        default_text="~/.local/share/ollama-tray-proxy",
        help="folder for the settings file, the cache and stored responses (created 0700)",
        scope="restart",
    )
    cache_enabled: bool = setting(
        True,
        flag="--no-cache",
        flag_value=False,
        default_text="on",
        help="caching on or off (the flag switches it off; the tray switches it at run time)",
        scope="cache",
    )
    cache_url: str = setting(
        "",
        flag="--cache-url",
        default_text="(the data dir)",
        help="where answers are cached: empty for the data dir (diskcache), or redis://host:6379/0 "
        "for a Redis shared by several proxies (a password belongs in the environment, "
        "not on the command line)",
        scope="cache_store",
    )
    cache_ttl: float = setting(
        300.0,
        flag="--cache-ttl",
        **_SECONDS,
        help="seconds a cached answer stays valid",
        scope="cache",
    )
    cache_size_limit: int = setting(
        1 << 30,
        flag="--cache-size-limit",
        minimum=1,
        unit="bytes",
        help="cache size on disk before eviction",
        scope="cache",
    )
    cache_policy: CachePolicy = setting(
        "deterministic",
        flag="--cache-policy",
        choices=("deterministic", "all"),
        help="cache only deterministic requests (temperature 0 or a fixed seed), or all",
        scope="cache",
    )
    log_level: str = setting(
        "info",
        flag="--log-level",
        choices=LOG_LEVELS,
        help="log verbosity; debug logs one line per request (method, path, route, model, "
        "status, cache, duration, time to first byte, refusing rule; no bodies)",
        scope="live",
    )
    log_bodies: bool = setting(
        False,
        flag="--log-bodies",
        help="with debug, also log request bodies (the first 4 KiB; prompts are private)",
    )
    connect_timeout: float = setting(
        5.0,
        flag="--connect-timeout",
        **_SECONDS,
        help="seconds to connect to Ollama",
        scope="engines",
    )
    read_timeout: float = setting(
        600.0,
        flag="--read-timeout",
        **_SECONDS,
        help="seconds to wait for each byte from Ollama (a cold model load can take minutes)",
        scope="engines",
    )
    max_connections: int = setting(
        64, minimum=1, help="connections to Ollama at once", scope="engines"
    )
    upstream_poll_interval: float = setting(
        2.0,
        **_SECONDS,
        help="seconds between asking each engine for its models and health "
        "(one engine: only while the monitor is on)",
        scope="engines",
    )
    breaker_failures: int = setting(
        3,
        minimum=1,
        help="with several Ollama hosts: failures in a row that take a host out of rotation",
        scope="engines",
    )
    breaker_backoff: float = setting(
        10.0,
        **_SECONDS,
        help="with several Ollama hosts: seconds a failing host is skipped before one request "
        "tries it again",
        scope="engines",
    )
    shutdown_grace: float = setting(
        5.0,
        **_SECONDS,
        help="seconds in-flight streams get to finish when the proxy stops",
        scope="restart",
    )
    max_body_size: int = setting(
        64 << 20, minimum=1, unit="bytes", help="largest request body read into memory (413 above)"
    )
    models: Mapping[str, Any] = setting(
        factory=dict,
        default_text="{}",
        help='model profiles, JSON {"model": {"num_ctx": 8192, "keep_alive": "30m", "mode": '
        '"enforce", "num_parallel": 1, "priority": "background"}}; "*" for every model '
        "(README, Model profiles)",
        scope="profiles",
    )
    num_ctx_defaults: Mapping[str, int] = setting(
        factory=dict,
        default_text="{}",
        help='older form of models: JSON {"model": num_ctx}, the same as '
        '{"model": {"num_ctx": n}} for models that models does not name',
        scope="profiles",
    )
    default_num_parallel: int = setting(
        4,
        minimum=1,
        help="generations of one model sent to Ollama at once when its profile does not "
        "say (Ollama's OLLAMA_NUM_PARALLEL picks 4 or 1 by memory; match it)",
    )
    # Seconds between hardware / cache-volume samples; 0 switches the monitor off.
    monitor_interval: float = setting(
        1.0,
        minimum=0,
        unit="s",
        help="seconds between hardware samples (0: off, and one engine is then not polled)",
        scope="restart",
    )
    # Security (docs/SECURITY.md). A token is always required on a non-loopback address.
    require_token: bool = setting(
        False,
        flag="--require-token",
        help="require the access token on every route (always on beyond loopback)",
        scope="access",
    )
    access_token: str = setting(
        "",
        secret=True,
        default_text="per install",
        help="the token (16+ characters); default: generated into the data dir's "
        "access-token file (0600). Clients send it as Authorization: Bearer, x-api-key, "
        "x-goog-api-key or ?key=",
        scope="access",
    )
    allowed_origins: str = setting(
        "",
        flag="--allowed-origins",
        help="extra browser origins allowed to call the proxy, comma-separated, * wildcards",
        scope="access",
    )
    allowed_hosts: str = setting(
        "",
        flag="--allowed-hosts",
        help="extra Host names accepted (e.g. host.docker.internal), comma-separated",
        scope="access",
    )
    allow_model_management: bool = setting(
        False,
        flag="--allow-model-management",
        help="pass /api/pull, push, create, copy, delete and blobs through",
        scope="access",
    )
    # Idle keep-alive and slowloris alike (slow_clients.py). 65 s as the server guide says
    # (KEEPALIVE_TIMEOUT): clients close idle connections first. Formerly idle_timeout.
    keepalive_timeout: float = setting(
        65.0,
        **_SECONDS,
        flag="--keepalive-timeout",
        help="seconds a client connection may sit without a complete request head (idle "
        "keep-alive between requests, or a head sent too slowly) before it is closed",
        scope="restart",
    )
    # Several processes on one port (proxy_core/workers/), headless only.
    workers: str = setting(
        "1",
        flag="--workers",
        help="proxy processes sharing the port, headless only (auto: one per core); "
        "they share the cache, the model slots and the metrics; the tray app runs one",
        scope="restart",
    )
    body_timeout: float = setting(60.0, **_SECONDS, help="408 when a request body takes longer")
    # Only from the environment or the settings file (never a flag: argv is visible to
    # every user), only sent upstream, never logged.
    upstream_authorization: str = setting(
        "",
        secret=True,
        help="Authorization header sent to Ollama only (e.g. Bearer abc, for a gateway in "
        "front of a remote Ollama); clients' own Authorization is never forwarded",
        scope="engines",
    )
    max_line_bytes: int = setting(
        16 << 20,
        minimum=1,
        unit="bytes",
        help="longest reply line translated to another dialect; longer ends the reply "
        "with an error",
    )
    inspector_size: int = setting(
        200,
        flag="--inspector-size",
        minimum=0,
        help="requests the request inspector keeps in memory (0: none); bodies only with "
        "log_bodies",
        scope="inspector",
    )
    # Agent mode (issue 15): off by default; the workspace is the only folder tools touch.
    agent_tools: bool = setting(
        False,
        flag="--agent-tools",
        help="run the built-in workspace tools (list_files, read_file, write_file, "
        "run_command) for models; off by default; needs workspace",
        scope="tools",
    )
    workspace: str = setting(
        "",
        flag="--workspace",
        default_text="none",
        help="the only folder the built-in tools may list, read, write and run programs in",
        scope="tools",
    )
    max_client_connections: int = setting(
        2048,
        minimum=1,
        help="client connections each worker holds at once; past it the oldest idle ones "
        "are closed (also kept 128 below the open-file limit, raised at start)",
        scope="restart",
    )

    def __post_init__(self) -> None:
        validate(self, SPECS)

    def replace(self, **changes: Any) -> ProxySettings:
        return dataclasses.replace(self, **changes)

    @property
    def ollama_bases(self) -> tuple[str, ...]:
        """Every Ollama host, in the order given (the first is the primary); none when
        ``ollama_url`` is ``none`` (only OpenAI-compatible servers, say a llama-server)."""
        urls = split_urls(self.ollama_url)
        return () if urls == (NO_OLLAMA,) else urls

    @property
    def openai_servers(self) -> tuple[tuple[str, str], ...]:
        """(name, URL) per OpenAI-compatible server; the name defaults to host:port."""
        return tuple(named_url(item) for item in split_urls(self.openai_upstreams))

    @property
    def engine_specs(self) -> tuple[EngineSpec, ...]:
        """Every engine, in order: ``ollama_url``'s hosts, ``openai_upstreams``' servers
        (both aliases for ``engines`` specs), then ``engines``; the first is the primary."""
        from ..engines.registry import EngineSpec, parse_spec

        specs = [EngineSpec("ollama", "", url) for url in self.ollama_bases]
        specs += [EngineSpec("openai", name, url) for name, url in self.openai_servers]
        specs += [parse_spec(item) for item in self.engines.split(",") if item.strip()]
        return tuple(specs)

    @property
    def ollama_base(self) -> str:
        """The primary host (model management, /api/version, the tray's checks): the
        first Ollama host, or the first OpenAI-compatible server when there is none."""
        return self.engine_specs[0].url

    def to_json(self, *, redact: bool = False) -> dict[str, Any]:
        """The settings as JSON; ``redact`` hides secrets (for logs and displays)."""
        out = dataclasses.asdict(self)
        out["data_dir"] = str(self.data_dir)
        out["num_ctx_defaults"] = dict(self.num_ctx_defaults)
        out["models"] = {k: dict(v) for k, v in self.models.items()}
        if redact:
            for name in SECRET_SETTINGS:
                if out[name]:
                    out[name] = "<redacted>"
            for name in URL_SETTINGS:  # a password in a URL (redis://:pw@host) is one too
                out[name] = ",".join(redact_urls(str(out[name]).split(","))) if out[name] else ""
        return out


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(ProxySettings)}
SPECS: dict[str, Spec] = {name: f.metadata["spec"] for name, f in FIELDS.items()}
SECRET_SETTINGS = tuple(name for name, spec in SPECS.items() if spec.secret)
TYPES: dict[str, Any] = typing.get_type_hints(ProxySettings)  # the real types, not their names


def kind_of(name: str) -> str:
    """A setting's type in one word, from its real type: bool, int, float, path, mapping
    or str (what the CLI, the environment, the settings file and the tray convert by)."""
    hint = TYPES[name]
    if hint in (bool, int, float):
        return str(hint.__name__)
    if hint is Path:
        return "path"
    if typing.get_origin(hint) is collections.abc.Mapping:
        return "mapping"
    return "str"


SCOPES = frozenset(
    {"live", "listen", "engines", "cache_store", "cache", "profiles", "access", "inspector",
     "tools", "restart"}
)  # fmt: skip


def changed_scopes(old: ProxySettings, new: ProxySettings) -> frozenset[str]:
    """The scopes (Spec.scope) of the settings whose values differ."""
    return frozenset(
        spec.scope for name, spec in SPECS.items() if getattr(old, name) != getattr(new, name)
    )


URL_SETTINGS = ("ollama_url", "openai_upstreams", "cache_url")
