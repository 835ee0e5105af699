"""Built-in workspace tools (agent mode, issue 15): a registry of small tool modules.

A tool is a module-level object with a :class:`ToolSpec` (name, description, JSON schema
of its arguments, and its kind: ``read``, ``write`` or ``command``, which decides its
default permission) and two coroutines: ``describe`` (what a person is asked to approve
and what the audit log records: paths, a diff summary, argv; never file contents) and
``run`` (the work, with blocking disk calls in the executor). The shape is in base.py;
adding a tool is one module and one line in :data:`TOOLS`.
"""

from __future__ import annotations

from . import list_files, read_file, run_command, write_file
from .base import Action, Kind, Tool, ToolContext, ToolSpec
from .sandbox import Refused, Workspace

TOOLS: dict[str, Tool] = {
    tool.spec.name: tool
    for tool in (list_files.TOOL, read_file.TOOL, write_file.TOOL, run_command.TOOL)
}

__all__ = ["TOOLS", "Action", "Kind", "Refused", "Tool", "ToolContext", "ToolSpec", "Workspace"]
