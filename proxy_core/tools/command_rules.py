"""What each allowed program may be asked to do: argument rules checked before a command
runs, and the environment that keeps git from running anything else.

git gets an allow-list, not a deny-list: a deny-list of options cannot win against git
(it accepts unique abbreviations, ``--upload-pac=`` is ``--upload-pack=``; aliases,
hooks, filters, ``difftool --extcmd``, ``rebase -x``, ``grep -O`` and ``log --output=``
all run or write something else). So a git command is one of a few subcommands, each
with the exact options it may take, and git runs with its configuration's ways to start
programs switched off (:func:`git_environment`): no hooks, no fsmonitor, no external diff
or text conversion, no clean/smudge filter, no signing, no submodule recursion, no pager,
no system or global configuration, and no repository above the workspace.

The other programs keep a deny-list of the arguments that make them run or write
something else (``find -exec``, ``rg --pre``...), matched the way each program parses its
arguments (short options cluster: ``rg -iz``). Programs that interpret code (python3,
node, make, npm...) cannot be constrained by their arguments at all: a person's approval
is what guards them, and "always allow" for them covers one exact command
(:data:`RUNS_ANYTHING`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence

from .sandbox import Refused

# Programs that run code from their arguments or from workspace files: approving the
# program would approve anything, so "always allow" remembers the exact command for them.
RUNS_ANYTHING = frozenset(
    {"python", "python3", "node", "npm", "npx", "make", "cargo", "go", "pytest", "sh",
     "bash", "zsh", "perl", "ruby", "awk", "gawk", "sed", "deno", "bun", "uv", "pip",
     "pip3", "java", "gradle", "mvn", "tox", "nox", "yarn", "pnpm", "just", "cmake"}
)  # fmt: skip

# Option prefixes that make a program run or write something else.
DENIED_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "find": ("-exec", "-ok", "-delete", "-fprint", "-fls"),
    "rg": ("--pre", "--search-zip", "--hostname-bin"),
    "sed": ("-i", "--in-place", "-e", "--expression", "-f", "--file"),
    "tail": ("--pid",),
}
# Short options (clustered or not: ``-iz``) that do the same.
DENIED_SHORT: Mapping[str, str] = {"rg": "z", "sed": "ief"}

# git: subcommand -> its allowed options. "--x=" takes a value after "=", "-x " the next
# argument, "-x#" digits attached; anything else is exact. Arguments that do not start
# with "-" are revisions, paths or patterns (git keeps paths inside the repository).
_DIFF = (
    "--stat", "--numstat", "--shortstat", "--name-only", "--name-status", "--summary",
    "-p", "--patch", "-u", "-U#", "--unified=", "--no-color", "--color=never", "-w",
    "--ignore-all-space", "-b", "--ignore-space-change", "--word-diff", "--check", "-M",
    "--find-renames", "-R", "--minimal", "--diff-filter=", "--relative", "--exit-code",
    "--quiet", "--raw", "--full-index", "--binary", "--abbrev", "--no-renames",
)  # fmt: skip
_LOG = (
    *_DIFF, "--oneline", "-n ", "-n#", "--max-count=", "--skip=", "--graph", "--decorate",
    "--no-decorate", "--all", "--branches", "--tags", "--format=", "--pretty=", "--since=",
    "--after=", "--until=", "--before=", "--author=", "--committer=", "--grep=", "-i",
    "--regexp-ignore-case", "--follow", "--no-merges", "--merges", "--first-parent",
    "--reverse", "--abbrev-commit", "--date=", "--topo-order", "--date-order",
    "--left-right", "--cherry-pick", "-S ", "-G ", "--pickaxe-regex", "--source", "-m",
)  # fmt: skip
GIT_SUBCOMMANDS: Mapping[str, tuple[str, ...]] = {
    "status": ("-s", "--short", "-b", "--branch", "--porcelain", "--porcelain=", "--long",
               "-u", "-uno", "-unormal", "-uall", "--untracked-files=", "--ignored", "-z",
               "-v", "--show-stash", "--ahead-behind", "--no-ahead-behind"),
    "diff": (*_DIFF, "--cached", "--staged", "--merge-base"),
    "log": _LOG,
    "show": (*_LOG, "-s", "--no-patch"),
    "blame": ("-L ", "-w", "-e", "-s", "-l", "-t", "--porcelain", "--line-porcelain",
              "--date=", "-M", "--root", "--show-name", "--show-number"),
    "grep": ("-n", "--line-number", "-i", "--ignore-case", "-w", "--word-regexp", "-l",
             "--files-with-matches", "-L", "--files-without-match", "-c", "--count", "-e ",
             "-E", "--extended-regexp", "-F", "--fixed-strings", "-G", "-P", "-v",
             "--invert-match", "-h", "-H", "--cached", "--untracked", "-I", "-A ", "-B ",
             "-C ", "-A#", "-B#", "-C#", "--context=", "--break", "--heading", "-W",
             "--function-context", "--max-depth=", "-q", "--quiet", "-o", "--only-matching",
             "--full-name", "-z", "--all-match", "--and", "--or", "--not", "--column"),
    "ls-files": ("-c", "--cached", "-m", "--modified", "-o", "--others", "-d", "--deleted",
                 "--exclude-standard", "-s", "--stage", "-z", "--full-name", "-i",
                 "--ignored", "--directory", "-t", "--error-unmatch"),
    "ls-tree": ("-r", "-t", "-d", "--name-only", "--name-status", "-l", "--long", "-z",
                "--full-name", "--full-tree", "--abbrev"),
    "rev-parse": ("--abbrev-ref", "--short", "--short=", "--verify", "--show-toplevel",
                  "--is-inside-work-tree", "--show-prefix", "--show-cdup", "--git-dir",
                  "--symbolic-full-name", "-q", "--quiet"),
    "rev-list": ("--count", "--all", "-n ", "--max-count=", "--reverse", "--first-parent",
                 "--left-right", "--no-merges", "--merges", "--since=", "--until="),
    "branch": ("-a", "--all", "-r", "--remotes", "-v", "-vv", "--list", "-l",
               "--show-current", "--contains", "--merged", "--no-merged", "--sort=",
               "--no-color", "--color=never"),
    "tag": ("-l", "--list", "-n", "-n#", "--sort=", "--contains", "--points-at"),
    "describe": ("--tags", "--always", "--long", "--abbrev=", "--dirty", "--all",
                 "--exact-match"),
    "shortlog": ("-s", "--summary", "-n", "--numbered", "-e", "--email", "HEAD"),
    "cat-file": ("-p", "-t", "-s", "-e"),
    "show-ref": ("--heads", "--tags", "-s", "--hash", "--verify", "-q", "--quiet"),
    "merge-base": ("--is-ancestor", "--all", "--fork-point"),
    "add": ("-A", "--all", "-u", "--update", "-N", "--intent-to-add", "-v", "--verbose",
            "-n", "--dry-run", "-f", "--force"),
    "rm": ("--cached", "-r", "-f", "--force", "-n", "--dry-run", "-q", "--quiet"),
    "mv": ("-f", "--force", "-n", "--dry-run", "-k", "-v", "--verbose"),
    "commit": ("-m ", "--message=", "-a", "--all", "--allow-empty", "-q", "--quiet",
               "--author=", "-s", "--signoff", "--no-verify", "-n", "-v"),
    "init": ("-q", "--quiet", "-b ", "--initial-branch="),
}  # fmt: skip
# Global options allowed before the subcommand.
GIT_GLOBAL = ("--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs")
# Forced options, so a diff shown never runs a configured external diff or textconv.
GIT_FORCED: Mapping[str, tuple[str, ...]] = {
    "diff": ("--no-ext-diff", "--no-textconv"),
    "log": ("--no-ext-diff", "--no-textconv"),
    "show": ("--no-ext-diff", "--no-textconv"),
    "blame": ("--no-textconv",),
}
# Pretty formats that run gpg to verify signatures.
_SIGNATURE_FORMAT = re.compile(r"%G")


def check(name: str, argv: Sequence[str]) -> list[str]:
    """The argv to run for ``name`` (``argv[0]``), or Refused naming what is not allowed.
    git's argv gains its forced options; the others come back as they are."""
    if name == "git":
        return _git(argv)
    denied = DENIED_PREFIXES.get(name, ())
    short = DENIED_SHORT.get(name, "")
    for arg in argv[1:]:
        if arg == "--" and name != "find":  # find reads its expression after "--" too
            break
        for prefix in denied:
            if arg.startswith(prefix):
                raise Refused(f"{name} {prefix} is refused: it can run or write other things")
        if short and arg.startswith("-") and not arg.startswith("--"):
            hit = next((c for c in arg[1:] if c in short), None)
            if hit is not None:
                raise Refused(f"{name} -{hit} is refused: it can run or write other things")
    return list(argv)


def _git(argv: Sequence[str]) -> list[str]:
    index = 1
    while index < len(argv) and argv[index].startswith("-"):
        if argv[index] not in GIT_GLOBAL:
            raise Refused(
                f"git {argv[index]} is refused: only {', '.join(GIT_GLOBAL)} may come before "
                "the subcommand (-c, -C, --git-dir, --exec-path... can run or write elsewhere)"
            )
        index += 1
    if index == len(argv):
        raise Refused(f"name a git subcommand ({', '.join(GIT_SUBCOMMANDS)})")
    sub = argv[index]
    allowed = GIT_SUBCOMMANDS.get(sub)
    if allowed is None:
        raise Refused(
            f"git {sub} is not allowed (allowed: {', '.join(GIT_SUBCOMMANDS)}); aliases, "
            "network, history rewriting and external tools are refused"
        )
    rest = list(argv[index + 1 :])
    _git_options(sub, rest, allowed)
    if sub == "commit" and not any(a in ("-m", "-a") or a.startswith("--message=") for a in rest):
        raise Refused("git commit needs -m <message> (no editor can be opened)")
    forced = GIT_FORCED.get(sub, ())
    return ["git", "--no-pager", *argv[1:index], sub, *forced, *rest]


def _git_options(sub: str, rest: list[str], allowed: tuple[str, ...]) -> None:
    exact = {o for o in allowed if not o.endswith(("=", " ", "#"))}
    valued = tuple(o for o in allowed if o.endswith("="))
    separate = {o[:-1] for o in allowed if o.endswith(" ")}
    digits = tuple(o[:-1] for o in allowed if o.endswith("#"))
    index = 0
    while index < len(rest):
        arg = rest[index]
        index += 1
        if arg == "--":
            return  # the rest are paths
        if not arg.startswith("-") or arg in exact:
            continue
        if re.fullmatch(r"-\d+", arg) and sub in ("log", "show", "rev-list"):
            continue
        if arg in separate:
            index += 1  # its value, whatever it looks like
            continue
        if any(arg.startswith(o) for o in valued):
            if _SIGNATURE_FORMAT.search(arg) and arg.startswith(("--format=", "--pretty=")):
                raise Refused("git formats with %G (signature checks) are refused: they run gpg")
            continue
        if any(arg.startswith(o) and arg[len(o) :].isdigit() for o in digits):
            continue
        raise Refused(
            f"git {sub} {arg} is not allowed (options git {sub} may take: "
            f"{', '.join(_spelled(o) for o in allowed)})"
        )


def _spelled(option: str) -> str:
    """An allow-list entry as a model should read it: ``-U<n>``, ``--format=<value>``."""
    if option.endswith("#"):
        return option[:-1] + "<n>"
    if option.endswith("="):
        return option + "<value>"
    return option.replace(" ", " <value>") if option.endswith(" ") else option


# Configuration that would start another program, switched off for every git command.
_GIT_OFF = {
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "core.pager": "",
    "core.editor": "",
    "core.sshCommand": "",
    "core.gitProxy": "",
    "core.askPass": "",
    "core.attributesFile": os.devnull,
    "diff.external": "",
    "diff.ignoreSubmodules": "all",
    "status.submoduleSummary": "false",
    "submodule.recurse": "false",
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "log.showSignature": "false",
    "gpg.program": "",
    "gpg.ssh.program": "",
    "gpg.x509.program": "",
    "credential.helper": "",
    "protocol.allow": "never",
    "uploadpack.packObjectsHook": "",
}
# Per-driver keys: every driver the repository's configuration names is switched off.
_DRIVER_KEYS = {
    "filter": ("clean", "smudge", "process"),
    "diff": ("command", "textconv"),
    "merge": ("driver",),
}


def git_environment(git: str, workspace: str, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus what keeps git to itself: no system or global configuration, no
    repository above the workspace, and every configured way to start a program off
    (``GIT_CONFIG_COUNT`` entries outrank the repository's own configuration)."""
    env = {
        **base,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": os.path.dirname(workspace),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
    }
    settings = dict(_GIT_OFF)
    for section, name in _configured_drivers(git, workspace, env):
        for key in _DRIVER_KEYS[section]:
            settings[f"{section}.{name}.{key}"] = ""
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for number, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


def _configured_drivers(git: str, workspace: str, env: Mapping[str, str]) -> set[tuple[str, str]]:
    """(section, driver) pairs the repository's configuration defines (includes followed).
    Reading configuration runs nothing. Blocking: called from the executor."""
    try:
        listed = subprocess.run(
            [git, "config", "--includes", "--name-only", "--get-regexp", r"^(filter|diff|merge)\."],
            cwd=workspace,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout.decode("utf-8", "surrogateescape")
    except (OSError, subprocess.TimeoutExpired):
        return set()
    found: set[tuple[str, str]] = set()
    for line in listed.splitlines():
        section, _, remainder = line.partition(".")
        name, _, _ = remainder.rpartition(".")
        if section in _DRIVER_KEYS and name:
            found.add((section, name))
    return found
