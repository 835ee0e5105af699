"""A workspace with neighbours worth stealing: a sibling whose name starts with the
workspace's, and a secret outside both."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy_core.tools import ToolContext, Workspace
from proxy_core.tools.run_command import resolve_commands


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    sibling = tmp_path / "proj_evil"
    sibling.mkdir()
    (sibling / "loot.txt").write_text("sibling loot\n")
    return tmp_path


@pytest.fixture
def root(outside: Path) -> Path:
    proj = outside / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "app.py").write_text("print('hi')\nx = 1\n")
    (proj / "README.md").write_text("# proj\n")
    return proj


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    commands = resolve_commands(["true", "echo", "ls", "cat", "sh", "python3", "git", "find", "ln"])
    return ToolContext(Workspace(root), commands, command_timeout=5.0, output_limit=4096)
