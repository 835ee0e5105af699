"""Connect an IDE's Test button: one tiny request, sent the way that client sends it.

The proxy is asked exactly as the plugin would ask it (its dialect, its route, the token
when one is needed), so "Test" failing is what the plugin would see, in words."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

SAY_OK = [{"role": "user", "content": "Reply with OK."}]
_PROBES: dict[str, tuple[str, Any]] = {
    "native": ("/api/chat", {"messages": SAY_OK, "stream": False, "options": {"num_predict": 8}}),
    "openai": ("/v1/chat/completions", {"messages": SAY_OK, "max_tokens": 8}),
    "anthropic": ("/v1/messages", {"messages": SAY_OK, "max_tokens": 8}),
    "responses": ("/v1/responses", {"input": "Reply with OK.", "max_output_tokens": 8}),
    "gemini": (
        "/v1beta/models/{model}:generateContent",
        {
            "contents": [{"role": "user", "parts": [{"text": "Reply with OK."}]}],
            "generationConfig": {"maxOutputTokens": 8},
        },
    ),
}
_MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "ollama-tray-proxy-test", "version": "1"},
    },
}


async def probe_client(
    base_url: str,
    dialect: str,
    model: str,
    token: str,
    names: tuple[tuple[str, str], ...] = (),
) -> str:
    """One line for a person: what happened, how long it took, what came back. ``names``
    are the headers by which the client names itself (the inspector then shows it)."""
    headers = dict(names)
    if token:  # where that client sends its key
        headers["x-goog-api-key" if dialect == "gemini" else "Authorization"] = (
            token if dialect == "gemini" else f"Bearer {token}"
        )
    if dialect == "mcp":
        path, body = "/mcp", _MCP_INIT
        headers["Accept"] = "application/json, text/event-stream"
    elif dialect == "gemini":
        path, body = _PROBES[dialect]
        path = path.format(model=model)
    else:
        path, template = _PROBES[dialect]
        body = {"model": model, **template}
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.post(base_url.rstrip("/") + path, json=body, headers=headers) as resp,
        ):
            raw = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"Failed: the proxy did not answer at {base_url} ({exc or 'timed out'})."
    took = (time.perf_counter() - started) * 1000
    text = raw.decode("utf-8", "replace")
    if status == 404 and dialect == "mcp":
        return "Failed: /mcp is not there; turn Agent tools on in Settings first."
    if status >= 400:
        return f"Failed: {status} after {took:.0f} ms: {_error(text)}"
    return f"OK: {status} in {took:.0f} ms ({dialect} {path}): {_excerpt(text)}"


def _error(text: str) -> str:
    import json

    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:200]
    return str(error or parsed)[:200]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:140] + ("…" if len(flat) > 140 else "")
