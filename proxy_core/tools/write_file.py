"""write_file: create or replace a text file of the workspace, atomically.

The content goes to a temporary file in the same folder, is flushed to disk, then
replaces the target with ``os.replace``: a reader sees the old file or the new one, never
half of one, and a link at the target is replaced, never written through. Missing parent
folders are created, each checked to be inside the workspace. The result (and the
approval prompt) is a diff summary, never the content."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import arguments
from .base import Action, ToolContext, ToolSpec
from .sandbox import Refused

MAX_BYTES = 1 << 20

SPEC = ToolSpec(
    name="write_file",
    description="Create or replace a text file in the workspace with the given content.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file relative to the workspace"},
            "content": {"type": "string", "description": "the whole new content"},
        },
        "required": ["path", "content"],
    },
    kind="write",
)


class WriteFile:
    spec = SPEC

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action:
        path = arguments.text(args, "path")
        content = _content(args)
        loop = asyncio.get_running_loop()
        summary = await loop.run_in_executor(None, _summary, ctx, path, content)
        return Action(f"write {path} ({summary})", paths=(path,))

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        path = arguments.text(args, "path")
        content = _content(args)
        loop = asyncio.get_running_loop()
        summary = await loop.run_in_executor(None, _summary, ctx, path, content)
        await loop.run_in_executor(None, _write, ctx, path, content)
        return f"wrote {path}: {summary}"


def _content(args: Mapping[str, Any]) -> str:
    content = arguments.text(args, "content")
    if len(content.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise Refused(f"'content' is larger than {MAX_BYTES} bytes")
    return content


def _summary(ctx: ToolContext, path: str, content: str) -> str:
    real = ctx.workspace.resolve(path, write=True)
    new = content.splitlines()
    try:
        fd, _ = ctx.workspace.open_read(path)
    except Refused:
        if real.exists():
            raise
        return f"new file, {len(new)} lines"
    with os.fdopen(fd, "rb") as handle:
        old_bytes = handle.read(MAX_BYTES + 1)
    old = old_bytes.decode("utf-8", "replace").splitlines()
    added = removed = 0
    for line in difflib.unified_diff(old, new, lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return f"replaces {len(old)} lines: +{added} -{removed}"


def _write(ctx: ToolContext, path: str, content: str) -> None:
    real = ctx.workspace.resolve(path, write=True)
    if real.is_dir():
        raise Refused(f"{path!r} is a folder")
    _make_parents(ctx, real.parent)
    data = content.encode("utf-8", "surrogatepass")
    temp = f".{real.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    if os.open not in os.supports_dir_fd:  # Windows: paths, checked just before
        _write_at(real.parent / temp, real, data, flags, ctx, path)
        return
    # POSIX: the folder is opened once and checked; the temporary file is made and
    # renamed relative to that descriptor, so a folder swapped for a link afterwards
    # cannot redirect the write.
    try:
        folder = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:  # e.g. swapped for a link since the check
        raise Refused(f"{path!r} cannot be written ({exc.strerror})") from None
    try:
        ctx.workspace.verify(folder, path, real.name)
        fd = os.open(temp, flags, 0o644, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, real.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def _write_at(temp: Path, real: Path, data: bytes, flags: int, ctx: ToolContext, path: str) -> None:
    fd = os.open(temp, flags, 0o644)
    try:
        ctx.workspace.verify(fd, path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, real)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _make_parents(ctx: ToolContext, folder: Path) -> None:
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        checked = ctx.workspace.resolve(ctx.workspace.shown(each), write=True)
        checked.mkdir()
        if not ctx.workspace.inside(os.path.realpath(checked)):
            raise Refused(f"{ctx.workspace.shown(each)} resolves outside the workspace")


TOOL = WriteFile()
