"""Where a command may write, and how much it may take: applied in the child between fork
and exec, so it covers the program and everything it starts.

- **Writes** (Linux with Landlock, kernel 5.13+): only beneath the workspace and the
  run's own scratch folder (its TMPDIR), and to ``/dev/null``. Reads and execution are
  not restricted. So no approved program, git or python3 alike, can rewrite the proxy's
  ``tool-policy.json``, its audit log, its settings or anything else of the user's outside
  the workspace. Where Landlock is missing (older kernels, macOS, Windows) commands run
  without it; :data:`AVAILABLE` says which, and docs/SECURITY.md says what that means.
- **Limits** (POSIX): CPU seconds, data memory, the size of any one file written, no
  core dumps; the number of processes of the user, where the OS enforces it (not for
  root), bounds a fork bomb.

The child runs only a few precomputed system calls (no imports, no allocation of note):
Python code between fork and exec must not need a lock another thread may hold.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import sys
from collections.abc import Callable

# Landlock (include/uapi/linux/landlock.h); the system call numbers are the same on every
# architecture (the unified table).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_WRITE_FILE = 1 << 1
_WRITES_BY_ABI = {
    1: _WRITE_FILE | sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12)),
    2: 1 << 13,  # REFER: linking or renaming a file in from elsewhere
    3: 1 << 14,  # TRUNCATE
}
_FILE_RIGHTS = _WRITE_FILE | (1 << 14)  # what a rule on a single file may grant


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - a libc ctypes cannot open
        return None


_LIBC = _libc()


def _abi() -> int:
    if _LIBC is None:
        return 0
    version = int(_LIBC.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION))
    return max(version, 0)


ABI = _abi()
AVAILABLE = ABI >= 1


@dataclasses.dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    data_bytes: int = 4 << 30
    file_bytes: int = 1 << 30
    processes: int = 0  # 0: not limited; else the user's processes may grow by this many


def preexec(
    writable: tuple[str, ...], limits: Limits, confine_writes: bool = True
) -> Callable[[], None] | None:
    """The function to run in the child, or None on Windows (nothing to apply there)."""
    if os.name != "posix":
        return None
    import resource

    handled = 0
    for abi, rights in _WRITES_BY_ABI.items():
        if abi <= ABI:
            handled |= rights
    ruleset = _RulesetAttr(handled)
    rules = [_PathBeneath(handled, -1) for _ in writable]
    null_rule = _PathBeneath(_FILE_RIGHTS & handled, -1)
    use_landlock = confine_writes and AVAILABLE and _LIBC is not None
    syscall = _LIBC.syscall if _LIBC is not None else None
    prctl = _LIBC.prctl if _LIBC is not None else None
    nproc_limit = _process_limit(limits.processes)
    rlimits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_DATA, limits.data_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
    ]
    if nproc_limit:
        rlimits.append((resource.RLIMIT_NPROC, nproc_limit))

    def apply() -> None:  # runs in the child: system calls only
        for which, value in rlimits:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, hard))
        if not use_landlock or syscall is None or prctl is None:
            return
        fd = syscall(_CREATE_RULESET, ctypes.byref(ruleset), ctypes.sizeof(ruleset), 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
        for path, rule in zip(writable, rules, strict=True):
            _add(syscall, fd, path, rule, os.O_PATH | os.O_DIRECTORY)
        _add(syscall, fd, os.devnull, null_rule, os.O_PATH)
        if prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if syscall(_RESTRICT_SELF, fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
        os.close(fd)

    return apply


def _add(
    syscall: Callable[..., int], ruleset: int, path: str, rule: _PathBeneath, flags: int
) -> None:
    try:
        target = os.open(path, flags | os.O_CLOEXEC)
    except OSError:
        return  # a folder that is gone grants nothing
    rule.parent_fd = target
    try:
        if syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(target)


def _process_limit(extra: int) -> int:
    """The user's current process count plus ``extra`` (RLIMIT_NPROC counts all of the
    user's processes, not the command's), or 0 for no limit."""
    if extra <= 0 or not sys.platform.startswith("linux"):
        return 0
    uid = os.getuid()
    count = 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        count += 1
                except OSError:
                    continue
    except OSError:
        return 0
    return count + extra
