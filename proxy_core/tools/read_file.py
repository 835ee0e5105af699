"""read_file: a text file of the workspace, whole or a range of lines, size-capped."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from . import arguments
from .base import Action, ToolContext, ToolSpec
from .sandbox import Refused

MAX_BYTES = 256 << 10

SPEC = ToolSpec(
    name="read_file",
    description="Read a text file of the workspace, optionally only lines start..end.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file relative to the workspace"},
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
        },
        "required": ["path"],
    },
    kind="read",
)


class ReadFile:
    spec = SPEC

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action:
        path = arguments.text(args, "path")
        return Action(f"read {path}", paths=(path,))

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        path = arguments.text(args, "path")
        start = arguments.whole(args, "start_line", None, 1, 10**9)
        end = arguments.whole(args, "end_line", None, 1, 10**9)
        if start is not None and end is not None and end < start:
            raise Refused("'end_line' must not be before 'start_line'")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, _read, ctx, path, start, end)


def _read(ctx: ToolContext, path: str, start: int | None, end: int | None) -> str:
    fd, real = ctx.workspace.open_read(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    truncated = len(data) > MAX_BYTES
    data = data[:MAX_BYTES]
    if b"\x00" in data[:8192]:
        raise Refused(f"{path!r} is a binary file; only text files are read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not truncated or exc.start < len(data) - 4:  # a cut multi-byte char is fine
            raise Refused(f"{path!r} is not UTF-8 text") from None
        text = data[: exc.start].decode("utf-8")
    if start is not None or end is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[(start or 1) - 1 : end])
    if truncated:
        text += f"\n[truncated: only the first {MAX_BYTES} bytes of {ctx.workspace.shown(real)}]"
    return text


TOOL = ReadFile()
