"""The checks every settings value passes (ProxySettings runs them on creation): each
against its Spec (finite, within bounds, one of its choices), then what spans several
(URL lists, the token's shape, the cache URL's scheme, profiles). Typed against the
attributes they read (:class:`Checked`), so this module needs nothing of the schema."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..credentials import redact_url
from ..profiles import ProfileError, parse_profiles
from .spec import NO_OLLAMA, SettingsError, Spec, check_url, split_urls

if TYPE_CHECKING:
    from ..engines.registry import EngineSpec


class Checked(Protocol):
    """What the checks read of a ProxySettings (read-only: it is frozen)."""

    @property
    def host(self) -> str: ...
    @property
    def ollama_url(self) -> str: ...
    @property
    def engines(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def cache_url(self) -> str: ...
    @property
    def upstream_authorization(self) -> str: ...
    @property
    def agent_tools(self) -> bool: ...
    @property
    def workspace(self) -> str: ...
    @property
    def models(self) -> Mapping[str, Any]: ...
    @property
    def num_ctx_defaults(self) -> Mapping[str, int]: ...
    @property
    def ollama_bases(self) -> tuple[str, ...]: ...
    @property
    def openai_servers(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def engine_specs(self) -> tuple[EngineSpec, ...]: ...
    @property
    def workers(self) -> str: ...


def _check_spec(s: Checked, name: str, spec: Spec) -> None:
    value = getattr(s, name)
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{name}: must be a finite number, not {value}")
    if spec.choices and value not in spec.choices:
        raise SettingsError(f"{name}: {value!r} must be one of {', '.join(spec.choices)}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if spec.positive and value <= 0:
        unit = " of seconds" if spec.unit == "s" else ""
        raise SettingsError(f"{name}: must be a positive number{unit}")
    if spec.minimum is not None and value < spec.minimum:
        what = "a positive whole number" if spec.minimum == 1 else f"at least {spec.minimum:g}"
        raise SettingsError(f"{name}: must be {what}")
    if spec.maximum is not None and value > spec.maximum:
        lo = 0 if spec.minimum is None else spec.minimum
        raise SettingsError(f"{name}: {value} is outside {lo:g}-{spec.maximum:g}")


def _check_engines(s: Checked) -> None:
    from ..engines.registry import SpecError

    try:
        urls = [spec.url for spec in s.engine_specs]
    except SpecError as exc:
        raise SettingsError(f"engines: {exc}") from None
    if len(set(urls)) != len(urls):
        raise SettingsError("engines: the same URL is listed twice (ollama_url, engines)")


def validate(s: Checked, specs: Mapping[str, Spec]) -> None:
    if not s.host or any(ch.isspace() for ch in s.host):
        raise SettingsError(f"host: {s.host!r} is not a host name or address")
    for name, spec in specs.items():
        _check_spec(s, name, spec)
    urls = s.ollama_bases
    others = s.openai_servers or s.engines.strip()
    if not urls and (split_urls(s.ollama_url) != (NO_OLLAMA,) or not others):
        raise SettingsError(
            "ollama_url: give at least one URL such as http://127.0.0.1:11434 (or none, "
            "with at least one other engine in openai_upstreams or engines)"
        )
    _check_engines(s)
    if len(set(urls)) != len(urls):
        raise SettingsError("ollama_url: the same URL is listed twice")
    for url in urls:
        check_url(url)
    for _, url in s.openai_servers:
        check_url(url, "openai_upstreams")
    if s.access_token and (len(s.access_token) < 16 or any(c.isspace() for c in s.access_token)):
        raise SettingsError("access_token: use at least 16 characters and no spaces")
    if s.cache_url and urlsplit(s.cache_url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            f"cache_url: {redact_url(s.cache_url)!r} must be empty (the data dir) or a redis:// URL"
        )
    if any(ch in s.upstream_authorization for ch in "\r\n\x00"):
        raise SettingsError("upstream_authorization: must be one header line")
    if s.workers != "auto" and not (s.workers.isdigit() and 1 <= int(s.workers) <= 64):
        raise SettingsError(f"workers: {s.workers!r} must be auto or a number from 1 to 64")
    if s.agent_tools and not s.workspace.strip():
        raise SettingsError("workspace: required when agent_tools is on (the folder tools use)")
    for model, ctx in s.num_ctx_defaults.items():
        if not isinstance(ctx, int) or isinstance(ctx, bool) or ctx <= 0:
            raise SettingsError(f"num_ctx_defaults: {model!r} needs a positive whole number")
    try:
        parse_profiles(s.models, s.num_ctx_defaults)
    except ProfileError as exc:
        raise SettingsError(str(exc)) from None
