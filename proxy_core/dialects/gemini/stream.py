"""A native answer as Gemini's ``GenerateContentResponse``: whole, as a server-sent-event
stream (``alt=sse``) or as a streamed JSON array (without it), and the models list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...ids import secret_id
from ...ndjson import dumps
from ..kit import Event, Framing, sse
from ..shapes import google_error


def finish_reason(done_reason: Any) -> str:
    if done_reason == "length":
        return "MAX_TOKENS"
    return "STOP"  # a stop, a stop sequence and a function call are all STOP in Gemini


def usage(final: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count") or 0)
    answer = int(final.get("eval_count") or 0)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt + answer,
    }


def _parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.get("thinking"):
        parts.append({"text": message["thinking"], "thought": True})
    if message.get("content"):
        parts.append({"text": message["content"]})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        function_call: dict[str, Any] = {
            "name": fn.get("name", ""),
            "args": fn.get("arguments") or {},
        }
        if call.get("id"):
            function_call["id"] = str(call["id"])
        parts.append({"functionCall": function_call})
    return parts


def _response(
    model: str, ident: str, parts: list[dict[str, Any]], final: Mapping[str, Any] | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": ident}
    if final is not None:
        candidate["finishReason"] = finish_reason(final.get("done_reason"))
        out["usageMetadata"] = usage(final)
    return out


def whole(model: str, merged: dict[str, Any]) -> dict[str, Any]:
    parts = _parts(merged.get("message") or {})
    return _response(model, secret_id("resp"), parts or [{"text": ""}], merged)


class CandidateStream:
    """Native chat chunks -> one GenerateContentResponse each; the last carries the finish
    reason and the usage (Gemini CLI treats a stream without a finish reason as broken)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = secret_id("resp")

    def feed(self, native: dict[str, Any]) -> list[Event]:
        parts = _parts(native.get("message") or {})
        done = bool(native.get("done"))
        if not parts and not done:
            return []
        if not parts:
            parts = [{"text": ""}]
        return [(None, _response(self.model, self.id, parts, native if done else None))]

    def error(self, status: int, message: str) -> list[Event]:
        return [(None, google_error(status, message))]


SSE = Framing(lambda event: sse(None, event[1]))  # alt=sse: data lines, no [DONE]


def json_array() -> Framing:
    """Without ``alt=sse`` Gemini streams one JSON array, element by element; one per
    request, since it remembers whether the opening bracket was written."""
    opened = False

    def encode(event: Event) -> bytes:
        nonlocal opened
        head = b"," if opened else b"["
        opened = True
        return head + dumps(event[1]) + b"\n"

    def close() -> bytes:
        return b"]" if opened else b"[]"

    return Framing(encode, close=close, content_type="application/json")


def model_entry(tag: Mapping[str, Any], context: int | None) -> dict[str, Any]:
    """A native tag as Gemini's Model resource."""
    name = str(tag.get("model") or tag.get("name") or "")
    details = tag.get("details")
    details = details if isinstance(details, dict) else {}
    entry: dict[str, Any] = {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": str(tag.get("digest") or "")[:12] or "local",
        "displayName": name,
        "description": " ".join(
            str(details.get(k))
            for k in ("family", "parameter_size", "quantization_level")
            if details.get(k)
        ),
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    }
    if context is not None:
        entry["inputTokenLimit"] = context
    return entry
