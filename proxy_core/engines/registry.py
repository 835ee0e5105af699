"""Engine kinds by name, and the ``kind:name=url`` specs that say which engines to use.

A spec is ``kind:url`` or ``kind:name=url``, then options after ``;``:
``openai:vllm=http://gpu:8000;key_env=VLLM_API_KEY;read_timeout=600``. The key is never
written in the spec itself (settings files and command lines are read by others): it is
named by the environment variable that holds it. ``name`` tells the engine apart in
messages and model listings (``name/model`` when two engines have the same model); it
defaults to the URL's host:port.
"""

from __future__ import annotations

import dataclasses
import math
import os
from urllib.parse import urlsplit

from .base import Engine
from .ollama import OllamaEngine
from .openai_compat import OpenAICompatEngine

KINDS: dict[str, type[Engine]] = {
    "ollama": OllamaEngine,
    "openai": OpenAICompatEngine,
}
_TIMEOUTS = ("connect_timeout", "read_timeout")


class SpecError(ValueError):
    """A spec that cannot be used, said in the user's words."""


@dataclasses.dataclass(frozen=True, slots=True)
class EngineSpec:
    kind: str
    name: str
    url: str
    key_env: str = ""  # the environment variable holding its API key
    connect_timeout: float | None = None  # None: the proxy's setting
    read_timeout: float | None = None


def parse_spec(text: str) -> EngineSpec:
    head, *options = text.strip().split(";")
    kind, sep, rest = head.partition(":")
    if not sep or kind not in KINDS or rest.startswith("//"):
        known = ", ".join(sorted(KINDS))
        raise SpecError(f"{text!r}: start with the engine's kind ({known}), e.g. ollama:URL")
    name, sep, url = rest.partition("=")
    if not sep or "://" in name:
        name, url = "", rest
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"{text!r}: {url!r} is not an http(s) URL")
    if parts.password is not None:
        raise SpecError(
            "no password in an engine's URL (settings are read by others): put the key "
            "in an environment variable and name it with ;key_env=VARIABLE"
        )
    values: dict[str, object] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if key == "key_env" and sep and value.strip():
            values[key] = value.strip()
        elif key in _TIMEOUTS and sep:
            values[key] = _seconds(text, key, value)
        else:
            raise SpecError(
                f"{text!r}: unknown option {option!r} (key_env, {', '.join(_TIMEOUTS)})"
            )
    return EngineSpec(kind, name or parts.netloc, url.rstrip("/"), **values)  # type: ignore[arg-type]


def _seconds(text: str, key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise SpecError(f"{text!r}: {key} must be a positive number of seconds")
    return seconds


def build(
    spec: EngineSpec,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 600.0,
    max_connections: int = 64,
    authorization: str = "",
    prefix: str = "",
) -> Engine:
    """The engine a spec names (not started); the spec's own key (``key_env``) and
    timeouts win over the proxy-wide ones given here."""
    if spec.key_env:
        key = os.environ.get(spec.key_env, "")
        authorization = f"Bearer {key}" if key else ""
    return KINDS[spec.kind](
        spec.url,
        connect_timeout=spec.connect_timeout or connect_timeout,
        read_timeout=spec.read_timeout or read_timeout,
        max_connections=max_connections,
        authorization=authorization,
        name=spec.name,
        prefix=prefix,
    )
