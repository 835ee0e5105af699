"""list_files: names under a folder of the workspace, by glob, with depth and count limits.

Links are listed (marked) but never followed, so a listing cannot leave the workspace;
version-control folders and the proxy's own data dir are skipped. A listing visits at
most MAX_VISITED entries, so a huge tree (node_modules, a home folder) costs bounded time
and memory whatever the pattern matches."""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import itertools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import arguments
from .base import Action, ToolContext, ToolSpec
from .sandbox import Refused

MAX_ENTRIES = 1000
MAX_DEPTH = 10
MAX_VISITED = 50_000
SKIPPED = frozenset({".git", ".hg", ".svn"})

SPEC = ToolSpec(
    name="list_files",
    description="List files and folders in the workspace (folders end with /).",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "folder relative to the workspace"},
            "pattern": {"type": "string", "description": "glob on names, e.g. *.py"},
            "max_depth": {"type": "integer", "minimum": 1, "maximum": MAX_DEPTH},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ENTRIES},
        },
    },
    kind="read",
)


class ListFiles:
    spec = SPEC

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action:
        path = arguments.text(args, "path", ".")
        return Action(f"list {path}", paths=(path,))

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        folder = ctx.workspace.resolve(arguments.text(args, "path", "."))
        pattern = arguments.text(args, "pattern", "*")
        depth = arguments.whole(args, "max_depth", 3, 1, MAX_DEPTH) or 3
        limit = arguments.whole(args, "limit", 200, 1, MAX_ENTRIES) or 200
        if not folder.is_dir():
            raise Refused(f"{ctx.workspace.shown(folder)} is not a folder")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, _list, ctx, folder, pattern, depth, limit)


def _list(ctx: ToolContext, folder: Path, pattern: str, depth: int, limit: int) -> str:
    matches = re.compile(fnmatch.translate(pattern)).match  # compiled once per call
    lines: list[str] = []
    more = False
    top = ctx.workspace.shown(folder)
    pending = collections.deque([("" if top == "." else top + "/", str(folder), 1)])
    visited = 0
    while pending and not more:
        prefix, current, level = pending.popleft()
        try:
            with os.scandir(current) as scan:
                entries = sorted(itertools.islice(scan, MAX_VISITED - visited), key=_name)
        except OSError:
            continue
        visited += len(entries)
        if visited >= MAX_VISITED:
            more = True
        for entry in entries:
            if entry.name in SKIPPED or ctx.workspace.is_private(entry.path):
                continue
            shown = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if matches(entry.name):
                if len(lines) >= limit:
                    more = True
                    break
                if entry.is_symlink():
                    lines.append(f"{shown} (link)")
                elif is_dir:
                    lines.append(f"{shown}/")
                else:
                    lines.append(f"{shown} ({entry.stat(follow_symlinks=False).st_size} bytes)")
            if is_dir and level < depth:
                pending.append((shown + "/", entry.path, level + 1))
    if more:
        why = f"visited {MAX_VISITED} entries" if visited >= MAX_VISITED else f"limit {limit}"
        lines.append(f"... more entries not shown ({why})")
    return "\n".join(lines) if lines else "(no entries)"


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


TOOL = ListFiles()
