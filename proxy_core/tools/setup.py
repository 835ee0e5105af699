"""Building the tool engine from settings (blocking: folders and files; call from an
executor). ValueError names what is wrong in the user's words."""

from __future__ import annotations

import os
from pathlib import Path

from ..observe.recorder import MetricsRecorder
from ..settings import ProxySettings
from .audit import AuditLog
from .base import ToolContext
from .engine import ToolEngine
from .policy import PolicyError, load
from .run_command import resolve_commands
from .sandbox import Workspace


def build_engine(settings: ProxySettings, metrics: MetricsRecorder) -> ToolEngine:
    try:
        # The data dir (token, settings, policy, audit log, cache) stays out of reach
        # even inside a workspace (a workspace of ~ contains it).
        workspace = Workspace(Path(settings.workspace).expanduser(), private=(settings.data_dir,))
    except ValueError:
        raise ValueError(
            f"workspace: {settings.workspace!r} is not an existing folder (agent_tools needs one)"
        ) from None
    data_dir = Path(os.path.realpath(settings.data_dir))
    if os.path.commonpath([str(workspace.root), str(data_dir)]) == str(workspace.root):
        # Commands may write anywhere in the workspace: the token, settings, tool policy
        # and audit log must not be in it.
        raise ValueError(
            f"workspace: {workspace.root} contains the proxy's data folder {data_dir}; "
            "choose a project folder for agent_tools"
        )
    try:
        policy = load(settings.data_dir)
    except PolicyError as exc:
        raise ValueError(f"tool policy: {exc}") from None
    commands = resolve_commands(policy.commands, str(workspace.root))
    context = ToolContext(workspace, commands)
    return ToolEngine(context, policy, AuditLog(settings.data_dir), metrics)
