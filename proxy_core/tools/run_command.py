"""run_command: one program from the allow-list, with arguments, in the workspace.

Never a shell: the model gives an argv list, and ``;``, ``&&``, ``|``, ``$()`` are just
characters of an argument. The program is looked up in the allow-list, resolved to an
absolute path when the proxy starts (never through the workspace or a later PATH);
arguments that make an allowed program run or write something else are refused per
program (``git -c``, ``find -exec``, ``rg --pre``, ``sed -i``...). The process runs in the
workspace, with no stdin and a minimal environment (no keys or tokens), in its own process
group, which is killed whole when the timeout passes (a forked child included). stdout
and stderr are read in chunks and capped; what was cut is said.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import Action, ToolContext, ToolSpec, arguments
from .sandbox import Refused

DEFAULT_COMMANDS = (
    "git", "ls", "cat", "head", "tail", "wc", "grep", "rg", "find", "diff", "true", "echo",
    "python3", "pytest", "make", "npm", "node", "cargo", "go",
)  # fmt: skip
MAX_TIMEOUT = 600
# Arguments (or their prefixes) that turn an allowed program into something else.
DENIED_ARGS: Mapping[str, tuple[str, ...]] = {
    "git": ("-c", "--config-env", "--upload-pack", "--receive-pack", "--exec", "--ext-diff"),
    "find": ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fls", "-fprintf"),
    "rg": ("--pre", "--search-zip", "-z"),
    "sed": ("-i", "--in-place", "-e", "--expression", "-f", "--file"),
    "tail": ("--pid",),
}
ENV_KEPT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")

SPEC = ToolSpec(
    name="run_command",
    description=(
        "Run one allowed program with arguments in the workspace (no shell: pipes, ';' and "
        "'&&' are not interpreted). Returns the exit code, stdout and stderr."
    ),
    parameters={
        "type": "object",
        "properties": {
            "argv": {
                "type": "array",
                "items": {"type": "string"},
                "description": 'program and arguments, e.g. ["git", "status"]',
            },
            "timeout": {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT},
        },
        "required": ["argv"],
    },
    kind="command",
)


def resolve_commands(names: Iterable[str], workspace: str | None = None) -> dict[str, str]:
    """Allowed command names -> absolute executables, found on PATH once, at start; a
    program inside the workspace is never one of them (the model could write it)."""
    found: dict[str, str] = {}
    search = os.pathsep.join(
        folder
        for folder in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if folder and not (workspace and _within(workspace, os.path.realpath(folder)))
    )
    for name in names:
        if not name or os.sep in name or (os.altsep and os.altsep in name):
            continue
        path = shutil.which(name, path=search)
        if path is None:
            continue
        real = os.path.realpath(path)
        if workspace and _within(workspace, real):
            continue
        if sys.platform == "win32" and real.lower().endswith((".bat", ".cmd")):
            continue  # cmd.exe re-parses argv ("BatBadBut")
        found[name] = real
    return found


def _within(folder: str, path: str) -> bool:
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:
        return False


def _argv(args: Mapping[str, Any], ctx: ToolContext) -> list[str]:
    argv = args.get("argv")
    if isinstance(argv, str):
        raise Refused('\'argv\' must be a list of strings, e.g. ["git", "status"] (no shell)')
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise Refused("'argv' must be a non-empty list of strings")
    if any("\x00" in a for a in argv):
        raise Refused("an argument cannot contain a NUL character")
    name = argv[0]
    if name not in ctx.commands:
        allowed = ", ".join(sorted(ctx.commands)) or "none"
        raise Refused(f"{name!r} is not an allowed program (allowed: {allowed})")
    for arg in argv[1:]:
        for denied in DENIED_ARGS.get(name, ()):
            if arg == denied or (denied.startswith("--") and arg.startswith(denied + "=")):
                raise Refused(f"{name} {denied} is refused: it can run or write other things")
            if not denied.startswith("--") and len(denied) == 2 and arg.startswith(denied):
                raise Refused(f"{name} {denied} is refused: it can run or write other things")
    return argv


class RunCommand:
    spec = SPEC

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action:
        argv = _argv(args, ctx)
        shown = " ".join(argv)
        return Action(f"run {shown} in {ctx.workspace.root}", argv=tuple(argv))

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        argv = _argv(args, ctx)
        timeout = arguments.whole(args, "timeout", None, 1, MAX_TIMEOUT)
        seconds = float(timeout) if timeout is not None else ctx.command_timeout
        return await run_program(
            [ctx.commands[argv[0]], *argv[1:]], ctx, seconds, _environment(ctx.commands.values())
        )


def _environment(executables: Iterable[str]) -> dict[str, str]:
    """PATH of the allowed programs' folders, HOME, the locale; nothing else (no keys)."""
    folders = dict.fromkeys(os.path.dirname(path) for path in executables)
    env = {"PATH": os.pathsep.join(folders), "HOME": os.path.expanduser("~"), "TERM": "dumb"}
    for name in ENV_KEPT:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


async def run_program(
    argv: Sequence[str], ctx: ToolContext, seconds: float, env: Mapping[str, str]
) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ctx.workspace.root,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: killed whole on timeout
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = _Capped(ctx.output_limit)
    err = _Capped(ctx.output_limit)
    timed_out = False
    try:
        async with asyncio.timeout(seconds):
            await asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr), proc.wait())
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(proc.pid)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    head = (
        f"timed out after {seconds:g} s; the process group was killed"
        if timed_out
        else f"exit code {proc.returncode}"
    )
    return f"{head}\n--- stdout ---\n{out.text()}\n--- stderr ---\n{err.text()}"


def _kill_group(pid: int) -> None:
    """Kill everything left in the process group (a child that forked and outlived its
    parent included); nothing to do on Windows, where the group is the process."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


class _Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(1 << 16):
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        out = self.kept.decode("utf-8", "replace")
        if self.dropped:
            out += f"\n[{self.dropped} more bytes not shown]"
        return out


TOOL = RunCommand()
