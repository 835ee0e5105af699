"""Who may run what: per tool ``allow``, ``ask`` or ``deny``, and the program allow-list.

Defaults: reads are allowed; writes and commands ask. ``tool-policy.json`` in the data
dir overrides them (the only way a headless proxy runs a write or a command, since
headless "ask" is a denial), e.g.::

    {"write_file": "allow", "run_command": "ask", "allow_commands": ["git", "pytest"]}

"Always allow in this workspace", answered in the tray, is kept under ``"workspaces"``
in the same file. For a write it approves writes in that workspace; for a command it
approves that one program (``"programs"``), or, for a program that runs code (python3,
make...: command_rules.RUNS_ANYTHING), that exact command (``"commands"``), never every
later command. Nothing a tool returns can change the policy: it is read from the file at
start and changed only by a person's answer.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .base import Action, Kind
from .run_command import DEFAULT_COMMANDS

log = logging.getLogger(__name__)

Decision = Literal["allow", "ask", "deny"]
DECISIONS: tuple[Decision, ...] = ("allow", "ask", "deny")
DEFAULTS: Mapping[Kind, Decision] = {"read": "allow", "write": "ask", "command": "ask"}
POLICY_FILE = "tool-policy.json"
PROGRAMS, COMMANDS = "programs", "commands"  # a workspace's approved programs and argvs


class PolicyError(ValueError):
    """tool-policy.json is not what the README describes."""


class ToolPolicy:
    def __init__(
        self,
        rules: Mapping[str, Decision] | None = None,
        commands: tuple[str, ...] = DEFAULT_COMMANDS,
        workspaces: Mapping[str, Mapping[str, Any]] | None = None,
        path: Path | None = None,
    ) -> None:
        self.rules = dict(rules or {})
        self.commands = commands
        self.workspaces = {k: dict(v) for k, v in (workspaces or {}).items()}
        self.path = path

    def decide(
        self, tool: str, kind: Kind, workspace: str, action: Action | None = None
    ) -> Decision:
        """Deny wins over everything; then a person's "always" for this workspace (for a
        command: its program, or this exact command); then the file's rule; then the
        default for the tool's kind."""
        rule = self.rules.get(tool)
        if rule == "deny":
            return "deny"
        approved = self.workspaces.get(workspace, {})
        if kind == "command":
            if action is not None and _command_approved(approved, action):
                return "allow"
        elif approved.get(tool) == "allow":
            return "allow"
        return rule or DEFAULTS[kind]

    def always_allow(self, tool: str, workspace: str, action: Action | None = None) -> None:
        """A person chose "Always allow in this workspace": remembered and saved. For a
        command, only what the prompt named: the program, or this exact command."""
        approved = self.workspaces.setdefault(workspace, {})
        if action is not None and action.argv:
            if action.scope:
                _add_once(approved.setdefault(PROGRAMS, []), action.scope)
            else:
                _add_once(approved.setdefault(COMMANDS, []), list(action.argv))
        else:
            approved[tool] = "allow"
        if self.path is not None:
            save(self, self.path)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.rules)
        out["allow_commands"] = list(self.commands)
        if self.workspaces:
            out["workspaces"] = self.workspaces
        return out


def _command_approved(approved: Mapping[str, Any], action: Action) -> bool:
    if not action.argv:
        return False
    if action.scope and action.scope in approved.get(PROGRAMS, ()):
        return True
    return list(action.argv) in approved.get(COMMANDS, ())


def _add_once(items: list[Any], item: Any) -> None:
    if item not in items:
        items.append(item)


def load(data_dir: Path) -> ToolPolicy:
    """The policy in ``data_dir`` (defaults when there is no file); PolicyError names
    what is wrong with a file that exists."""
    path = data_dir / POLICY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ToolPolicy(path=path)
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: must hold a JSON object")
    return parse(raw, path)


def parse(raw: Mapping[str, Any], path: Path | None = None) -> ToolPolicy:
    from . import TOOLS

    rules: dict[str, Decision] = {}
    commands = DEFAULT_COMMANDS
    workspaces: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        if key == "allow_commands":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError("allow_commands: must be a list of program names")
            commands = tuple(value)
        elif key == "workspaces":
            if not isinstance(value, dict):
                raise PolicyError("workspaces: must be an object")
            for folder, tools in value.items():
                if not isinstance(tools, dict):
                    raise PolicyError(f"workspaces.{folder}: must be an object")
                workspaces[str(folder)] = _workspace(str(folder), tools)
        elif key in TOOLS:
            rules[key] = _decision(key, value)
        else:
            raise PolicyError(f"{key}: unknown (tools: {', '.join(TOOLS)}, allow_commands)")
    return ToolPolicy(rules, commands, workspaces, path)


def _workspace(folder: str, tools: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool, value in tools.items():
        where = f"workspaces.{folder}.{tool}"
        if tool == PROGRAMS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError(f"{where}: must be a list of program names")
            out[PROGRAMS] = list(value)
        elif tool == COMMANDS:
            if not isinstance(value, list) or not all(
                isinstance(v, list) and all(isinstance(a, str) for a in v) for v in value
            ):
                raise PolicyError(f"{where}: must be a list of argv lists")
            out[COMMANDS] = [list(v) for v in value]
        elif tool == "run_command":
            # Saved by an earlier version, where "always" approved every later command.
            # That was wider than the person saw: not honoured; asked again, per program.
            _decision(where, value)
            log.warning(
                "%s: approving every command is no longer honoured; each program "
                "is approved on its own",
                where,
            )
        else:
            out[str(tool)] = _decision(where, value)
    return out


def _decision(name: str, value: Any) -> Decision:
    if value not in DECISIONS:
        raise PolicyError(f"{name}: must be allow, ask or deny, not {value!r}")
    return value  # type: ignore[no-any-return]


def save(policy: ToolPolicy, path: Path) -> None:
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(policy.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)
