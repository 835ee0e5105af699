"""A workspace beside the proxy's data dir, and a tool context with git and the programs
an attacker would reach for."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy_core.tools import ToolContext, Workspace
from proxy_core.tools.run_command import resolve_commands

PROGRAMS = ["true", "echo", "ls", "cat", "python3", "git", "find", "make", "npm", "env", "ln"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The proxy's data dir, outside the workspace, as by default."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "tool-policy.json").write_text('{"run_command": "ask"}\n')
    (folder / "audit.jsonl").write_text("")
    (folder / "access-token").write_text("token-0123456789abcdef\n")
    return folder


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.txt").write_text("one\n")
    return root


@pytest.fixture
def ctx(ws: Path, data: Path) -> ToolContext:
    return ToolContext(
        Workspace(ws, private=(data,)), resolve_commands(PROGRAMS), command_timeout=10.0
    )
