"""How a setting is described (:class:`Spec`, declared with :func:`setting`), the error
a bad value raises, and the URL lists settings hold: the parts of the settings schema
that do not depend on the schema itself."""

from __future__ import annotations

import dataclasses
import os
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


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How one setting is described, once: the CLI flag, validation, the README table and
    the tray's field ranges are all made from these (``ProxySettings`` fields)."""

    help: str
    flag: str | None = None  # command-line flag; None: environment and settings file only
    flag_value: Any = None  # for a bool flag: the value it sets (True unless stated)
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False  # must be above zero (a zero timeout never works)
    choices: tuple[str, ...] = ()
    secret: bool = False  # never logged, never a flag (argv is visible to every user)
    unit: str = ""  # "s" seconds, "bytes"
    default_text: str = ""  # the default as the README says it, when repr() will not do
    repeatable: bool = False  # the flag may be given again; the values join with ", "
    # What a change of it touches while running (ProxyService.apply reacts per scope):
    # live (read per request), listen, engines, cache_store, cache, profiles, access,
    # inspector, tools, or restart (read once at start: takes effect at the next start).
    scope: str = "live"


def setting(default: Any = dataclasses.MISSING, *, factory: Any = None, **spec: Any) -> Any:
    """A ``ProxySettings`` field with its :class:`Spec`."""
    described = Spec(**spec)
    metadata = {"spec": described}
    shown = not described.secret  # secrets stay out of repr() (and so out of logs)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata, repr=shown)
    return dataclasses.field(default=default, metadata=metadata, repr=shown)


_SECONDS = {"positive": True, "unit": "s"}


NO_OLLAMA = "none"  # ollama_url for a proxy in front of OpenAI-compatible servers only


def split_urls(text: str) -> tuple[str, ...]:
    """``"http://a:11434, http://b:11434"`` -> both, without trailing slashes."""
    return tuple(part.rstrip("/") for part in text.replace(",", " ").split() if part.strip())


def named_url(item: str) -> tuple[str, str]:
    name, sep, url = item.partition("=")
    if not sep:
        url = item
        name = urlsplit(item).netloc
    return name, url


def check_url(url: str, setting_name: str = "ollama_url") -> None:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 bracket)
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https"):
        raise SettingsError(
            f"{setting_name}: {url!r} must be an http(s) URL such as http://127.0.0.1:11434"
        )
    try:
        _ = parts.port
    except ValueError:
        raise SettingsError(f"{setting_name}: {url!r} has an invalid port") from None
