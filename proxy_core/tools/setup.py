"""Building the tool engine from settings (blocking: folders and files; call from an
executor). ValueError names what is wrong in the user's words."""

from __future__ import annotations

from pathlib import Path

from ..observe.recorder import MetricsRecorder
from ..settings import ProxySettings
from . import ToolContext, Workspace
from .audit import AuditLog
from .engine import ToolEngine
from .policy import PolicyError, load
from .run_command import resolve_commands


def build_engine(settings: ProxySettings, metrics: MetricsRecorder) -> ToolEngine:
    try:
        workspace = Workspace(Path(settings.workspace).expanduser())
    except ValueError:
        raise ValueError(
            f"workspace: {settings.workspace!r} is not an existing folder (agent_tools needs one)"
        ) from None
    try:
        policy = load(settings.data_dir)
    except PolicyError as exc:
        raise ValueError(f"tool policy: {exc}") from None
    commands = resolve_commands(policy.commands, str(workspace.root))
    context = ToolContext(workspace, commands)
    return ToolEngine(context, policy, AuditLog(settings.data_dir), metrics)
