"""run_command: one program from the allow-list, with arguments, in the workspace.

Never a shell: the model gives an argv list, and ``;``, ``&&``, ``|``, ``$()`` are just
characters of an argument. The program is looked up in the allow-list, resolved to an
absolute path when the proxy starts (never through the workspace or a later PATH); its
arguments are checked by command_rules.py (git: a few subcommands with their options;
the others: what runs or writes something else is refused). The process runs in the
workspace, with no stdin and a minimal environment (no keys or tokens), confined by
confine.py (writes only in the workspace and a scratch folder; CPU, memory, file size and
process limits), in its own process group, which is killed whole when the command ends
or the timeout passes (a forked child included; one that left the group is found by the
run's marker in its environment). stdout and stderr are read in chunks and capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import arguments, command_rules, confine
from .base import Action, ToolContext, ToolSpec
from .sandbox import Refused, within

RUN_MARKER = "OTP_COMMAND_RUN"  # in every command's environment: finds escaped children
END_GRACE = 5.0  # seconds to read a killed command's pipes to their end
log = logging.getLogger(__name__)

DEFAULT_COMMANDS = (
    "git", "ls", "cat", "head", "tail", "wc", "grep", "rg", "find", "diff", "true", "echo",
    "python3", "pytest", "make", "npm", "node", "cargo", "go",
)  # fmt: skip
MAX_TIMEOUT = 600
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
        if folder and not (workspace and within(workspace, os.path.realpath(folder)))
    )
    for name in names:
        if not name or os.sep in name or (os.altsep and os.altsep in name):
            continue
        path = shutil.which(name, path=search)
        if path is None:
            continue
        real = os.path.realpath(path)
        if workspace and within(workspace, real):
            continue
        if sys.platform == "win32" and real.lower().endswith((".bat", ".cmd")):
            continue  # cmd.exe re-parses argv ("BatBadBut")
        found[name] = real
    return found


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
    return command_rules.check(name, argv)  # git's gains its forced options


def shown(argv: Sequence[str]) -> str:
    """The argv exactly, for a person: each argument quoted as a shell would need it and
    every control character escaped, so what is shown is all that runs, on one line."""
    return " ".join(_quoted(arg) for arg in argv)


def _quoted(arg: str) -> str:
    if arg and all(c.isalnum() or c in "@%+=:,./-_" for c in arg):
        return arg
    escaped = "".join(
        c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii")
        for c in arg
    )
    return "'" + escaped.replace("'", "'\\''") + "'"


class RunCommand:
    spec = SPEC

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action:
        argv = _argv(args, ctx)
        # What "always allow" would approve: the program, or for a program that runs
        # code (python3, make...) this exact command only.
        scope = "" if argv[0] in command_rules.RUNS_ANYTHING else argv[0]
        return Action(f"run {shown(argv)} in {ctx.workspace.root}", argv=tuple(argv), scope=scope)

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        argv = _argv(args, ctx)
        timeout = arguments.whole(args, "timeout", None, 1, MAX_TIMEOUT)
        seconds = float(timeout) if timeout is not None else ctx.command_timeout
        executable = ctx.commands[argv[0]]
        env = _environment(ctx.commands.values())
        loop = asyncio.get_running_loop()
        if argv[0] == "git":
            root = str(ctx.workspace.root)
            env = await loop.run_in_executor(
                None, command_rules.git_environment, executable, root, env
            )
        return await run_program([executable, *argv[1:]], ctx, seconds, env)


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
    loop = asyncio.get_running_loop()
    scratch = await loop.run_in_executor(None, tempfile.mkdtemp, "", "otp-run-")
    try:
        return await _run_confined(argv, ctx, seconds, _scratch_env(env, scratch), scratch)
    finally:
        await loop.run_in_executor(None, shutil.rmtree, scratch, True)


def _scratch_env(env: Mapping[str, str], scratch: str) -> dict[str, str]:
    """Temporary files and tool caches go to the run's scratch folder, the one place
    outside the workspace a command may write (confine.py)."""
    marker = secrets.token_hex(8)
    return {
        **env,
        "TMPDIR": scratch,
        "TMP": scratch,
        "TEMP": scratch,
        "XDG_CACHE_HOME": os.path.join(scratch, "cache"),
        "npm_config_cache": os.path.join(scratch, "npm"),
        RUN_MARKER: marker,
    }


async def _run_confined(
    argv: Sequence[str], ctx: ToolContext, seconds: float, env: dict[str, str], scratch: str
) -> str:
    loop = asyncio.get_running_loop()
    limits = dataclasses.replace(ctx.limits, cpu_seconds=int(seconds) + 1)
    writable = (str(ctx.workspace.root), scratch)
    setup = await loop.run_in_executor(None, confine.preexec, writable, limits, ctx.confine_writes)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=ctx.workspace.root,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: killed whole on timeout
            preexec_fn=setup,
        )
    except subprocess.SubprocessError as exc:  # the confinement could not be applied
        raise Refused(f"the command could not be confined to the workspace ({exc})") from None
    return await _collect(proc, ctx, seconds, env[RUN_MARKER])


async def _collect(
    proc: asyncio.subprocess.Process, ctx: ToolContext, seconds: float, marker: str
) -> str:
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
        await _end(proc, out, err, marker)
    head = (
        f"timed out after {seconds:g} s; the process group was killed"
        if timed_out
        else f"exit code {proc.returncode}"
    )
    return f"{head}\n--- stdout ---\n{out.text()}\n--- stderr ---\n{err.text()}"


async def _end(proc: asyncio.subprocess.Process, out: _Capped, err: _Capped, marker: str) -> None:
    """Kill everything the run started, then read the pipes to their end. asyncio's
    ``wait()`` returns only once both pipes are closed, and a pipe whose reader stopped
    (its buffer full when the timeout cancelled the reads) is never read to its end: the
    pipes must be drained while waiting, or a command that flooded its output until the
    timeout would hang the tool call for ever."""
    assert proc.stdout is not None and proc.stderr is not None
    _kill_group(proc.pid)
    # An escaped child (setsid) holding the pipes would keep them open: it goes too.
    await asyncio.get_running_loop().run_in_executor(None, _kill_escaped, marker)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    try:
        async with asyncio.timeout(END_GRACE):
            await asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr), proc.wait())
    except TimeoutError:  # a writer that could not be killed still holds a pipe
        log.warning("a command's output pipes stayed open after it was killed; closed")
        transport = getattr(proc, "_transport", None)  # asyncio has no public way
        if transport is not None:
            transport.close()


def _kill_escaped(marker: str) -> None:
    """Kill what is left of a run outside its process group (a child that called setsid
    keeps the run's marker in its environment). Linux only; blocking: the executor."""
    if not sys.platform.startswith("linux"):
        return
    needle = f"{RUN_MARKER}={marker}".encode()
    uid = os.getuid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


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
