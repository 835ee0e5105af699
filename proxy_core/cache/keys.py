"""Cache keys: a hash of a canonical form of everything that changes the answer.

Pure functions. Key order, ``keep_alive``, ``stream`` and client headers do not change the
key; a missing option is filled with Ollama's default so that "no temperature" (0.8) and
"temperature 0" never share an entry.

The key hashes ``{"v", "route", "digest", "body"}``: the route and the model's digest sit
beside the client's body, never inside it, so no field a client sends can stand in for
them (a body with ``"kind": "chat"`` on /api/embeddings once shared a key with a chat).
The digest is the model's as the proxy last saw it in /api/tags, so a model re-pulled
under the same name does not answer from its old weights' entries.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Literal

RouteKind = Literal["chat", "generate", "embed", "embeddings"]
KEY_VERSION = 2  # 2: route and digest beside the body; ASCII-escaped JSON

# Ollama's documented option defaults (reference/ollama-api.md §1).
OPTION_DEFAULTS: dict[str, Any] = {
    "num_keep": 4,
    "seed": -1,
    "num_predict": -1,
    "top_k": 40,
    "top_p": 0.9,
    "typical_p": 1.0,
    "repeat_last_n": 64,
    "temperature": 0.8,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "stop": [],
}
# Fields that never change the answer.
_IGNORED = frozenset({"keep_alive", "stream", "options"})


@functools.lru_cache(maxsize=4096)  # hot: every request, several times; names repeat
def normalize_model(name: str) -> str:
    name = name.strip().lower()
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or not name else f"{name}:latest"


def _number(value: Any) -> Any:
    # 0 and 0.0 (and 1 and 1.0) are the same option value.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def canonical_options(options: Any) -> dict[str, Any]:
    merged = dict(OPTION_DEFAULTS)
    if isinstance(options, dict):
        merged.update({k: v for k, v in options.items() if v is not None})
    stop = merged.get("stop")
    if isinstance(stop, str):
        merged["stop"] = [stop]
    return {k: _number(v) for k, v in merged.items()}


def _canonical_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if v not in (None, "", [])}
    if isinstance(out.get("role"), str):
        out["role"] = out["role"].lower()
    out.setdefault("content", "")
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [
            {
                "name": (c.get("function") or {}).get("name"),
                "arguments": (c.get("function") or {}).get("arguments"),
            }
            if isinstance(c, dict)
            else c
            for c in calls
        ]
    return out


def canonical_request(kind: RouteKind, body: dict[str, Any], digest: str = "") -> dict[str, Any]:
    return {"v": KEY_VERSION, "route": kind, "digest": digest, "body": canonical_body(kind, body)}


def canonical_body(kind: RouteKind, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in _IGNORED or value is None:
            continue
        out[name] = value
    out["model"] = normalize_model(str(body.get("model") or ""))
    if kind in ("chat", "generate"):
        out["options"] = canonical_options(body.get("options"))
    elif isinstance(body.get("options"), dict):
        out["options"] = {k: _number(v) for k, v in body["options"].items()}
    if kind == "chat":
        messages = body.get("messages")
        if isinstance(messages, list):
            out["messages"] = [_canonical_message(m) for m in messages]
        if not out.get("tools"):
            out.pop("tools", None)
    if kind == "embed":
        inputs = body.get("input")
        out["input"] = [inputs] if isinstance(inputs, str) else inputs
        out["truncate"] = body.get("truncate", True) is not False
    for flag in ("format", "think", "suffix", "system", "template"):
        if out.get(flag) in ("", None):
            out.pop(flag, None)
    if out.get("raw") is False:
        out.pop("raw")
    return out


def cache_key(kind: RouteKind, body: dict[str, Any], digest: str = "") -> str:
    canonical = canonical_request(kind, body, digest)
    # ASCII-escaped: a lone surrogate in a client's string must hash, not fail to encode.
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
