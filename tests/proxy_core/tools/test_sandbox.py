"""Issue 15 item 3: every escape is attempted and refused, with a message a model reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy_core.tools import Refused, ToolContext
from proxy_core.tools.read_file import TOOL as READ
from proxy_core.tools.write_file import TOOL as WRITE


@pytest.mark.parametrize(
    "path, words",
    [
        ("../secret.txt", "outside"),
        ("src/../../secret.txt", "outside"),
        ("../proj_evil/loot.txt", "outside"),  # a sibling whose name starts with ours
        ("/etc/passwd", "absolute"),
        ("~/.ssh/id_rsa", "absolute"),
        ("C:/Windows/win.ini", "absolute"),
        ("\\\\host\\share\\x", "absolute"),
        ("src/app.py\x00.txt", "NUL"),
        ("", "relative"),
    ],
)
async def test_paths_leaving_the_workspace_are_refused(
    ctx: ToolContext, path: str, words: str
) -> None:
    with pytest.raises(Refused, match=words):
        await READ.run({"path": path}, ctx)
    with pytest.raises(Refused):
        await WRITE.run({"path": path, "content": "x"}, ctx)


async def test_a_symlink_out_is_refused_for_reads_and_writes(
    ctx: ToolContext, root: Path, outside: Path
) -> None:
    (root / "to_secret").symlink_to(outside / "secret.txt")
    (root / "to_outside").symlink_to(outside, target_is_directory=True)
    for path in ("to_secret", "to_outside/secret.txt", "to_outside/proj_evil/loot.txt"):
        with pytest.raises(Refused, match="outside"):
            await READ.run({"path": path}, ctx)
        with pytest.raises(Refused, match="outside"):
            await WRITE.run({"path": path, "content": "pwned"}, ctx)
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_a_symlink_inside_the_workspace_is_followed(ctx: ToolContext, root: Path) -> None:
    (root / "link_to_app").symlink_to(root / "src" / "app.py")
    assert "print('hi')" in await READ.run({"path": "link_to_app"}, ctx)


async def test_a_hard_link_is_refused(ctx: ToolContext, root: Path, outside: Path) -> None:
    try:
        os.link(outside / "secret.txt", root / "innocent.txt")
    except OSError:
        pytest.skip("hard links not possible here")
    with pytest.raises(Refused, match="hard links"):
        await READ.run({"path": "innocent.txt"}, ctx)
    with pytest.raises(Refused, match="hard links"):
        await WRITE.run({"path": "innocent.txt", "content": "pwned"}, ctx)
    assert (outside / "secret.txt").read_text() == "top secret\n"


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".git/hooks/pre-commit",
        ".env",
        ".env.local",
        ".vscode/settings.json",
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        ".mcp.json",
        "sub/.git/config",
        ".bashrc",
        ".GIT/config",
    ],
)
async def test_protected_paths_are_refused_for_writes(
    ctx: ToolContext, root: Path, path: str
) -> None:
    with pytest.raises(Refused, match="protected"):
        await WRITE.run({"path": path, "content": "x"}, ctx)
    assert not (root / path).exists()


async def test_a_link_swapped_in_after_the_check_is_caught_at_open(
    ctx: ToolContext, root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check passes on a harmless file; before the open, the file becomes a link out
    # (a race with another process): the descriptor check refuses it.
    target = root / "racy.txt"
    target.write_text("fine\n")
    real_resolve = ctx.workspace.resolve

    def resolve_then_swap(path: object, *, write: bool = False) -> Path:
        real_resolve(path, write=write)  # the check passes...
        target.unlink()
        os.symlink(outside / "proj_evil", root / "racy_dir")
        return root / "racy_dir" / "loot.txt"  # what a swapped folder would give

    monkeypatch.setattr(ctx.workspace, "resolve", resolve_then_swap)
    with pytest.raises(Refused, match="outside"):
        await READ.run({"path": "racy.txt"}, ctx)
