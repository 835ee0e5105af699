"""Issue 24 item 4: with only git allowed, git runs no other program and writes nothing
outside the workspace: a few subcommands with parsed options, and the repository's
configuration cannot start anything (aliases, hooks, fsmonitor, filters, textconv,
external diff, pager, gpg), nor can a repository above the workspace."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from proxy_core.tools import Refused, ToolContext
from proxy_core.tools.command_rules import check
from proxy_core.tools.run_command import TOOL as RUN

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX programs")


async def run(ctx: ToolContext, *argv: str) -> str:
    return await RUN.run({"argv": list(argv)}, ctx)


def git_sync(ws: Path, *argv: str) -> None:
    """Set a repository up as its owner would (the real git, not the tool)."""
    import subprocess

    subprocess.run(["git", *argv], cwd=ws, check=True, capture_output=True)


@pytest.fixture
def repo(ws: Path) -> Path:
    git_sync(ws, "init", "-q")
    git_sync(ws, "config", "user.email", "dev@example.com")
    git_sync(ws, "config", "user.name", "Dev")
    git_sync(ws, "add", "a.txt")
    git_sync(ws, "commit", "-qm", "first")
    return ws


def evil_script(folder: Path, name: str) -> Path:
    """A program that leaves a mark in the workspace when something runs it."""
    script = folder / name
    script.write_text(f"#!/bin/sh\ntouch '{folder}/PWNED-{name}'\ncat\n")
    script.chmod(0o755)
    return script


def pwned(ws: Path) -> list[str]:
    return sorted(p.name for p in ws.glob("PWNED-*"))


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "config", "alias.x", "!touch pwned"],
        ["git", "x"],
        ["git", "--upload-pac=touch x", "ls-remote", "."],
        ["git", "fetch", "--upload-pac=touch x", "."],
        ["git", "ls-remote", "--upload-pack=touch x", "."],
        ["git", "clone", "-u", "touch x", ".", "copy"],
        ["git", "grep", "-O", "x"],
        ["git", "grep", "--open-files-in-pager=touch x", "x"],
        ["git", "difftool", "--extcmd=touch x"],
        ["git", "rebase", "-x", "touch x", "HEAD"],
        ["git", "log", "--output=/tmp/tool-policy.json"],
        ["git", "diff", "--output=../data/audit.jsonl"],
        ["git", "log", "--outp=x"],
        ["git", "-c", "core.pager=touch x", "log"],
        ["git", "-C", "/", "status"],
        ["git", "--git-dir=/elsewhere/.git", "status"],
        ["git", "--exec-path=.", "status"],
        ["git", "--work-tree=/", "status"],
        ["git", "--config-env=core.pager=X", "log"],
        ["git", "log", "--format=%G?"],
        ["git", "show", "--pretty=format:%GS"],
        ["git", "commit"],  # would open an editor
        ["git", "submodule", "foreach", "touch x"],
        ["git", "filter-branch", "--tree-filter", "touch x"],
        ["git", "archive", "--output=/tmp/x.tar", "HEAD"],
        ["git", "bisect", "run", "touch", "x"],
        ["git"],
    ],
)
def test_what_git_may_not_do_is_refused(argv: list[str]) -> None:
    with pytest.raises(Refused):
        check("git", argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "status", "--short"],
        ["git", "diff", "--stat", "HEAD~1", "--", "a.txt"],
        ["git", "log", "--oneline", "-n", "5"],
        ["git", "log", "-3", "--format=%h %s"],
        ["git", "show", "HEAD:a.txt"],
        ["git", "grep", "-n", "-e", "--upload-pack", "--", "*.py"],
        ["git", "commit", "-m", "a message"],
        ["git", "--no-pager", "blame", "-L", "1,2", "a.txt"],
    ],
)
def test_ordinary_git_use_is_allowed(argv: list[str]) -> None:
    assert check("git", argv)[0] == "git"


async def test_allowed_subcommands_work(ctx: ToolContext, repo: Path) -> None:
    (repo / "a.txt").write_text("one\ntwo\n")
    assert "M a.txt" in await run(ctx, "git", "status", "--short")
    assert "+two" in await run(ctx, "git", "diff")
    assert (await run(ctx, "git", "add", "a.txt")).startswith("exit code 0")
    assert (await run(ctx, "git", "commit", "-m", "second")).startswith("exit code 0")
    assert "second" in await run(ctx, "git", "log", "--oneline")


async def test_configured_programs_never_run(ctx: ToolContext, repo: Path) -> None:
    hooks = repo / "hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "commit-msg", "post-commit", "post-index-change"):
        evil_script(hooks, hook).rename(hooks / hook)
    settings = {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": str(evil_script(repo, "fsmonitor")),
        "core.pager": str(evil_script(repo, "pager")),
        "pager.log": str(evil_script(repo, "pagerlog")),
        "diff.external": str(evil_script(repo, "external")),
        "diff.evil.textconv": str(evil_script(repo, "textconv")),
        "diff.evil.command": str(evil_script(repo, "diffcommand")),
        "filter.evil.clean": str(evil_script(repo, "clean")),
        "filter.evil.smudge": str(evil_script(repo, "smudge")),
        "filter.evil.process": str(evil_script(repo, "process")),
        "commit.gpgSign": "true",
        "gpg.program": str(evil_script(repo, "gpg")),
        "log.showSignature": "true",
        "alias.status": f"!{evil_script(repo, 'alias')}",
        "core.sshCommand": str(evil_script(repo, "ssh")),
        "include.path": str(repo / "extra.cfg"),
    }
    (repo / "extra.cfg").write_text(f'[filter "other"]\n\tclean = {evil_script(repo, "inc")}\n')
    for key, value in settings.items():
        git_sync(repo, "config", key, value)
    (repo / ".gitattributes").write_text("*.txt filter=evil diff=evil\n*.md filter=other\n")
    (repo / "a.txt").write_text("changed\n")
    (repo / "b.md").write_text("new\n")
    before = pwned(repo)
    assert before == []
    for argv in (
        ["status"],
        ["diff"],
        ["diff", "--cached"],
        ["log", "-p"],
        ["show"],
        ["blame", "a.txt"],
        ["add", "a.txt", "b.md"],
        ["commit", "-m", "x"],
        ["log", "--format=%h"],
        ["grep", "-n", "changed"],
    ):
        out = await run(ctx, "git", *argv)
        assert "exit code" in out
        assert pwned(repo) == [], (argv, out)


async def test_a_repository_above_the_workspace_is_not_used(
    ctx: ToolContext, ws: Path, tmp_path: Path
) -> None:
    # The workspace is inside a repository someone else configured.
    git_sync(tmp_path, "init", "-q")
    git_sync(tmp_path, "config", "core.fsmonitor", str(evil_script(ws, "parent")))
    out = await run(ctx, "git", "status")
    assert "not a git repository" in out and pwned(ws) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Landlock is Linux's")
async def test_git_cannot_write_outside_the_workspace(
    ctx: ToolContext, repo: Path, data: Path
) -> None:
    from proxy_core.tools.confine import AVAILABLE

    if not AVAILABLE:
        pytest.skip("this kernel has no Landlock")
    policy = (data / "tool-policy.json").read_text()
    # Whatever option slipped through, the process cannot write there.
    out = await run(ctx, "python3", "-c", f"open({str(data / 'tool-policy.json')!r}, 'w')")
    assert "Permission denied" in out
    assert (data / "tool-policy.json").read_text() == policy
    out = await run(ctx, "python3", "-c", f"open({str(data / 'audit.jsonl')!r}, 'a').write('x')")
    assert "Permission denied" in out and (data / "audit.jsonl").read_text() == ""


async def test_many_git_commands_at_once_stay_correct(ctx: ToolContext, repo: Path) -> None:
    outs = await asyncio.gather(*(run(ctx, "git", "log", "--oneline") for _ in range(8)))
    assert all("first" in out for out in outs)
