"""Reading a model's tool arguments: wrong types are a Refused the model can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .sandbox import Refused


def text(args: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise Refused(f"'{name}' must be a string")
    return value


def whole(
    args: Mapping[str, Any], name: str, default: int | None, lowest: int, highest: int
) -> int | None:
    value = args.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(f"'{name}' must be a whole number")
    if not lowest <= value <= highest:
        raise Refused(f"'{name}' must be between {lowest} and {highest}")
    return value
