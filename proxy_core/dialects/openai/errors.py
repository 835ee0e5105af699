"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import json
from typing import Any

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_CODES = {
    404: "model_not_found",
    413: "request_too_large",
    502: "upstream_unavailable",
    503: "upstream_unavailable",
    504: "upstream_timeout",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error")


def error_object(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": error_type(status),
            "param": param,
            "code": code if code is not None else _CODES.get(status),
        }
    }


def from_native_error(status: int, body: bytes) -> dict[str, Any]:
    """Ollama's ``{"error": "..."}`` (or a plain-text body) in OpenAI's shape, same status."""
    message = body.decode("utf-8", "replace").strip() or f"upstream status {status}"
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        message = parsed["error"]
    return error_object(status, message)


class OpenAIError(Exception):
    """An error to send in OpenAI's shape with ``status``."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(payload["error"]["message"])
        self.status = status
        self.payload = payload
