"""Issue 15 item 2: run_command runs an allowed program, never a shell, within limits."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from proxy_core.tools import Refused, ToolContext
from proxy_core.tools.run_command import TOOL as RUN
from proxy_core.tools.run_command import resolve_commands
from proxy_core.tools.write_file import TOOL as WRITE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX programs")


async def test_an_allowed_program_runs_in_the_workspace(ctx: ToolContext, root: Path) -> None:
    out = await RUN.run({"argv": ["ls"]}, ctx)
    assert out.startswith("exit code 0") and "README.md" in out and "src" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["echo", "hi; cat /etc/passwd"],
        ["echo", "$(id)", "&&", "rm", "-rf", "/"],
        ["echo", "`whoami`", "|", "sh"],
    ],
)
async def test_shell_metacharacters_are_just_characters(ctx: ToolContext, argv: list[str]) -> None:
    out = await RUN.run({"argv": argv}, ctx)
    assert out.split("--- stdout ---\n")[1].startswith(" ".join(argv[1:]) + "\n")


@pytest.mark.parametrize(
    "args, words",
    [
        ({"argv": "ls -la"}, "list of strings"),
        ({"argv": []}, "non-empty"),
        ({"argv": ["rm", "-rf", "/"]}, "not an allowed program"),
        ({"argv": ["/bin/sh", "-c", "id"]}, "not an allowed program"),
        ({"argv": ["git", "-c", "core.pager=sh", "log"]}, "git -c"),
        ({"argv": ["git", "--upload-pack=touch x", "fetch"]}, "git --upload-pack"),
        ({"argv": ["find", ".", "-exec", "sh", ";"]}, "find -exec"),
        ({"argv": ["find", ".", "-delete"]}, "find -delete"),
    ],
)
async def test_refused_programs_and_arguments(
    ctx: ToolContext, args: dict[str, object], words: str
) -> None:
    with pytest.raises(Refused, match=words):
        await RUN.run(args, ctx)


async def test_the_environment_holds_no_secrets(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak")
    monkeypatch.setenv("OLLAMA_PROXY_ACCESS_TOKEN", "token-leak-123456")
    out = await RUN.run({"argv": ["python3", "-c", "import os; print(sorted(os.environ))"]}, ctx)
    assert "OPENAI_API_KEY" not in out and "ACCESS_TOKEN" not in out
    assert "'PATH'" in out and "'HOME'" in out


async def test_a_command_that_forks_and_outlives_its_timeout_is_killed_whole(
    ctx: ToolContext, root: Path
) -> None:
    marker = root / "child.pid"
    script = (
        "import os, time, sys\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    open('child.pid', 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "    open('survived', 'w').write('yes')\n"
        "else:\n"
        "    time.sleep(60)\n"
    )
    started = time.monotonic()
    out = await RUN.run({"argv": ["python3", "-c", script], "timeout": 1}, ctx)
    assert time.monotonic() - started < 10
    assert out.startswith("timed out after 1 s")
    child = int(marker.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the forked child outlived the timeout")


async def test_output_floods_are_capped(ctx: ToolContext) -> None:
    flood = "import sys; sys.stdout.write('z' * 5_000_000); sys.stderr.write('e' * 100_000)"
    out = await RUN.run({"argv": ["python3", "-c", flood]}, ctx)
    stdout = out.split("--- stdout ---\n")[1].split("\n--- stderr ---")[0]
    assert stdout.count("z") == 4096 and "[4995904 more bytes not shown]" in stdout
    assert "[95904 more bytes not shown]" in out


async def test_a_link_made_by_a_command_cannot_be_written_through(
    ctx: ToolContext, root: Path, outside: Path
) -> None:
    # CVE-2026-39861's shape: the command makes a link, the writer is asked to follow it.
    out = await RUN.run({"argv": ["ln", "-s", str(outside / "secret.txt"), "notes.txt"]}, ctx)
    assert out.startswith("exit code 0")
    with pytest.raises(Refused, match="outside"):
        await WRITE.run({"path": "notes.txt", "content": "pwned"}, ctx)
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_programs_are_resolved_once_and_never_from_the_workspace(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = root / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\necho pwned\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    found = resolve_commands(["git", "no-such-program-xyz", "../bin/git"], str(root))
    assert "no-such-program-xyz" not in found and "../bin/git" not in found
    assert "git" not in found or not found["git"].startswith(str(root))
