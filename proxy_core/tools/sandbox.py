"""The workspace sandbox: every path a tool touches is checked here, at the moment of use.

Rules (docs/SECURITY.md, "Agent tools"; the incidents in shared/reference/security.md):
- a path is relative to the workspace; absolute, drive, UNC, ``~`` and NUL are refused;
- containment is decided on real paths with ``os.path.commonpath``, never a string prefix
  (a sibling folder ``proj_evil`` is outside ``proj``);
- a symbolic link, to a file or a folder, that resolves outside is refused when it is
  used, so a link an earlier ``run_command`` made is caught; after opening, the file's
  real location is checked again through its descriptor (no swap between check and use);
- a file with more than one hard link is refused (its other name may be outside);
- writes to protected paths (version control, secrets, editor, CI and agent settings)
  are refused: a model must not approve itself (Copilot CVE-2025-53773). Names are
  compared as a case-insensitive or normalising file system would see them (``.GIT``,
  ``.Git.``, ``.g\u200cit``, fullwidth letters, ``GIT~1``, ``.git::$DATA``);
- the proxy's own folders (its data dir: token, settings, tool policy, audit log, cache)
  are neither read nor written, even when the workspace contains them (a workspace of
  ``~`` holds ``~/.local/share/ollama-tray-proxy``);
- a path too long for the OS is refused as such, never an error.

A refusal is :class:`Refused`, whose message the model reads as the tool's result.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

# Compared case-insensitively on each path component (first component for folders).
PROTECTED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".vscode", ".idea", ".claude", ".cursor", ".continue", ".zed",
     ".github", ".gitlab", ".circleci", ".devcontainer", ".ssh", ".aws", ".config"}
)  # fmt: skip
PROTECTED_NAMES = (
    ".env*", ".gitmodules", ".gitattributes", ".mcp.json", ".gitlab-ci.yml", ".travis.yml",
    "azure-pipelines.yml", ".*rc", ".profile", ".bash_profile", ".netrc", ".npmrc",
    ".pypirc", "*.pem", "*.key",
)  # fmt: skip


_SHORT_NAME = re.compile(r"^(.{1,6})~\d+$")  # NTFS 8.3 names: GIT~1 is .git


class Refused(Exception):
    """A tool call the sandbox will not carry out; the message says why, for the model."""


def comparable(name: str) -> str:
    """A file name as a case-insensitive, normalising file system compares it: NFKC and
    case-folded (macOS, Windows), without default-ignorable characters (HFS+ ignores
    U+200C and friends), without an NTFS stream suffix (``.git::$INDEX_ALLOCATION``) and
    trailing dots and spaces (Windows drops them)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return kept.split(":", 1)[0].rstrip(". ")


def _protected_dir(name: str) -> bool:
    if name in PROTECTED_DIRS:
        return True
    short = _SHORT_NAME.match(name)
    return short is not None and any(d.lstrip(".").startswith(short[1]) for d in PROTECTED_DIRS)


class Workspace:
    def __init__(self, root: Path, private: Iterable[Path] = ()) -> None:
        real = Path(os.path.realpath(root))
        if not real.is_dir():
            raise ValueError(f"workspace {root} is not a folder")
        self.root = real
        self._root_text = str(real)
        # The proxy's own folders: never read, written or listed by a tool.
        self.private = tuple(os.path.realpath(p) for p in private)

    # -- checks --------------------------------------------------------------------------
    def relative(self, path: object) -> PurePosixPath:
        """The model's path as a clean relative path, or Refused."""
        if not isinstance(path, str) or not path.strip():
            raise Refused("give a path relative to the workspace, e.g. src/main.py")
        text = path.strip().replace("\\", "/")
        if "\x00" in text:
            raise Refused("a path cannot contain a NUL character")
        if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
            raise Refused(f"{path!r} is not relative to the workspace; absolute paths are refused")
        clean = PurePosixPath(os.path.normpath(text).replace("\\", "/"))
        if clean.parts and clean.parts[0] == "..":
            raise Refused(f"{path!r} leads outside the workspace")
        return clean

    def is_private(self, real: str) -> bool:
        return any(within(folder, real) for folder in self.private)

    def inside(self, real: str) -> bool:
        return within(self._root_text, real)

    def resolve(self, path: object, *, write: bool = False) -> Path:
        """The real path for ``path``; refused when it (or, for a new file, its folder)
        resolves outside the workspace, or when a write targets a protected path."""
        clean = self.relative(path)
        joined = os.path.join(self._root_text, *clean.parts)
        real = os.path.realpath(joined)
        if not self.inside(real):
            raise Refused(f"{path!r} resolves outside the workspace (through a link or '..')")
        if self.is_private(real):
            raise Refused(f"{path!r} is the proxy's own data (token, settings, policy); refused")
        if write:
            self._check_protected(Path(real))
        try:
            info = os.lstat(real)
        except FileNotFoundError:
            return Path(real)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise Refused(
                    f"the path is too long for this system ({len(real)} characters)"
                ) from None
            raise Refused(f"{path!r} cannot be used ({exc.strerror})") from None
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            raise Refused(f"{path!r} has other hard links (which may be outside); refused")
        return Path(real)

    def shown(self, real: Path) -> str:
        """A real path inside the workspace as the model should see it."""
        rel = os.path.relpath(real, self._root_text)
        return "." if rel == "." else rel.replace(os.sep, "/")

    def _check_protected(self, real: Path) -> None:
        parts = Path(os.path.relpath(real, self._root_text)).parts
        for part in parts[:-1]:
            if _protected_dir(comparable(part)):
                raise Refused(f"writing inside {part}/ is refused (protected)")
        name = comparable(parts[-1]) if parts else ""
        if _protected_dir(name) or any(fnmatch.fnmatchcase(name, p) for p in PROTECTED_NAMES):
            raise Refused(f"writing {parts[-1]} is refused (protected)")

    # -- use -----------------------------------------------------------------------------
    def open_read(self, path: object) -> tuple[int, Path]:
        """An open descriptor for reading a regular file inside the workspace."""
        real = self.resolve(path)
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
        except FileNotFoundError:
            raise Refused(f"{path!r} does not exist") from None
        except IsADirectoryError:
            raise Refused(f"{path!r} is a folder, not a file") from None
        except OSError as exc:
            raise Refused(f"{path!r} cannot be opened ({exc.strerror})") from None
        try:
            self.verify(fd, path)
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise Refused(f"{path!r} is a folder, not a file")
            if not stat.S_ISREG(mode):
                raise Refused(f"{path!r} is not a regular file")
        except BaseException:
            os.close(fd)
            raise
        return fd, real

    def verify(self, fd: int, path: object, written_name: str | None = None) -> None:
        """Where an open descriptor really is must be inside the workspace (a link
        swapped in between the check and the open is caught here); for the folder a
        file is written into (``written_name``), that file must not be protected there
        (a folder swapped for a link to ``.git`` is caught too)."""
        where = _fd_path(fd)
        if where is not None and (not self.inside(where) or self.is_private(where)):
            raise Refused(f"{path!r} resolves outside the workspace")
        if where is not None and written_name is not None:
            self._check_protected(Path(where) / written_name)
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            raise Refused(f"{path!r} has other hard links (which may be outside); refused")


def within(folder: str, path: str) -> bool:
    """``path`` is ``folder`` or beneath it (real paths; never a string prefix)."""
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:  # different drives (Windows)
        return False


def _fd_path(fd: int) -> str | None:
    """The real path of an open descriptor, where the OS can tell."""
    platform: str = sys.platform  # a variable: each branch is checked on every OS
    if platform.startswith("linux"):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
    if platform == "darwin":
        return _darwin_fd_path(fd)
    return None


def _darwin_fd_path(fd: int) -> str | None:  # pragma: no cover - macOS only
    import fcntl

    try:
        raw = fcntl.fcntl(fd, 50, b"\0" * 1024)  # F_GETPATH
    except OSError:
        return None
    return bytes(raw).split(b"\0", 1)[0].decode(errors="surrogateescape")
