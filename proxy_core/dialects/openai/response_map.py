"""Native Ollama chunks -> OpenAI responses and SSE chunks. Pure, stateful only per reply.

Streams: the first chunk carries ``role``; thinking goes out as ``reasoning_content``; tool
calls are accepted on any native chunk (the final one included) and numbered across the
reply; the finish chunk has an empty delta; usage always has all three counts.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Iterable
from typing import Any

from ...ids import secret_id, unique_id
from ...ndjson import dumps, merge_chunks

FINGERPRINT = "fp_ollama"


def usage(final: dict[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count") or 0)
    completion = int(final.get("eval_count") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def finish_reason(done_reason: Any, had_tool_calls: bool) -> str:
    if had_tool_calls:
        return "tool_calls"
    return "length" if done_reason == "length" else "stop"


def _openai_call(call: dict[str, Any], index: int) -> dict[str, Any]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    return {
        "index": index,
        "id": call.get("id") or secret_id("call", 6),
        "type": "function",
        "function": {
            "name": fn.get("name", ""),
            "arguments": args
            if isinstance(args, str)
            else json.dumps(args or {}, ensure_ascii=False),
        },
    }


class ChatStream:
    """Maps native chat chunks to ``chat.completion.chunk`` objects, one reply at a time."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = unique_id("chatcmpl")
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self._sent_role = False
        self._calls = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _delta(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not self._sent_role:
            self._sent_role = True
            return {"role": "assistant", **fields}
        return fields

    def feed(self, native: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        message = native.get("message") or {}
        thinking = message.get("thinking")
        content = message.get("content") or ""
        calls = message.get("tool_calls") or []
        if thinking:
            out.append(self._chunk(self._delta({"content": "", "reasoning_content": thinking})))
        if content or (not native.get("done") and not thinking and not calls):
            out.append(self._chunk(self._delta({"content": content})))
        if calls:
            mapped = []
            for call in calls:
                mapped.append(_openai_call(call, self._calls))
                self._calls += 1
            out.append(self._chunk(self._delta({"content": "", "tool_calls": mapped})))
        if native.get("done"):
            if not self._sent_role:
                out.append(self._chunk(self._delta({"content": ""})))
            out.append(self._chunk({}, finish_reason(native.get("done_reason"), self._calls > 0)))
            if self.include_usage:
                chunk = self._chunk({})
                chunk["choices"] = []
                chunk["usage"] = usage(native)
                out.append(chunk)
        return out


def chat_completion(model: str, chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The non-stream ``chat.completion`` from a whole native reply (folded by
    ``ndjson.merge_chunks``, as every dialect folds a stream)."""
    final = merge_chunks(chunks)
    message = final.get("message") or {}
    calls = [_openai_call(call, i) for i, call in enumerate(message.get("tool_calls") or [])]
    message_out: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("thinking"):
        message_out["reasoning_content"] = message["thinking"]
    if calls:
        message_out["tool_calls"] = calls
    return {
        "id": unique_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message_out,
                "logprobs": None,
                "finish_reason": finish_reason(final.get("done_reason"), bool(calls)),
            }
        ],
        "usage": usage(final),
    }


class CompletionStream:
    """Maps native generate chunks to ``text_completion`` SSE chunks."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = unique_id("cmpl")
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

    def _chunk(self, text: str, finish: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        }

    def feed(self, native: dict[str, Any]) -> list[dict[str, Any]]:
        text = native.get("response") or ""
        if not native.get("done"):
            return [self._chunk(text, None)]
        out = [self._chunk(text, finish_reason(native.get("done_reason"), False))]
        if self.include_usage:
            chunk = self._chunk("", None)
            chunk["choices"] = []
            chunk["usage"] = usage(native)
            out.append(chunk)
        return out


def completion(model: str, chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    final = merge_chunks(chunks)
    return {
        "id": unique_id("cmpl"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "text": final.get("response") or "",
                "index": 0,
                "logprobs": None,
                "finish_reason": finish_reason(final.get("done_reason"), False),
            }
        ],
        "usage": usage(final),
    }


def _encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings(model: str, native: dict[str, Any], encoding: str) -> dict[str, Any]:
    vectors = native.get("embeddings") or []
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encode_base64(v) if encoding == "base64" else v,
        }
        for i, v in enumerate(vectors)
    ]
    tokens = int(native.get("prompt_eval_count") or 0)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def model_object(tag: dict[str, Any], requested: str | None = None) -> dict[str, Any]:
    name = str(tag.get("model") or tag.get("name") or "")
    owner = name.split("/")[-2] if name.count("/") >= 1 else "library"
    entry: dict[str, Any] = {
        "id": requested or name,
        "object": "model",
        "created": _unix(tag.get("modified_at")),
        "owned_by": owner,
    }
    if isinstance(tag.get("context_length"), int):  # an engine that fixes its context
        entry["context_length"] = tag["context_length"]
    return entry


def _unix(stamp: Any) -> int:
    if not isinstance(stamp, str):
        return 0
    from datetime import datetime

    try:
        # Python 3.11 parses at most 6 fraction digits; Ollama may send up to 9.
        head, _, rest = stamp.partition(".")
        if rest:
            digits = "".join(ch for ch in rest if ch.isdigit())[:6]
            zone = rest[len("".join(ch for ch in rest if ch.isdigit())) :]
            stamp = f"{head}.{digits}{zone}"
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
