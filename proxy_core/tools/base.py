"""The shape every workspace tool has: :class:`Tool` (the registry, ``TOOLS``, is the
package's ``__init__``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from .confine import Limits
from .sandbox import Workspace

Kind = Literal["read", "write", "command"]


@dataclasses.dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]  # JSON schema of the arguments
    kind: Kind

    def schema(self) -> dict[str, Any]:
        """The tool as Ollama's (and OpenAI's) ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


@dataclasses.dataclass(frozen=True)
class ToolContext:
    workspace: Workspace
    commands: Mapping[str, str]  # allowed command name -> absolute executable
    command_timeout: float = 30.0
    output_limit: int = 64 << 10  # bytes of stdout and of stderr kept
    limits: Limits = Limits(processes=512)
    confine_writes: bool = True  # writes only in the workspace (Landlock, where there is one)


@dataclasses.dataclass(frozen=True)
class Action:
    """What a call will do, for a person and for the audit log (no file contents)."""

    summary: str  # one line, e.g. "write src/app.py (+3 -1 lines)"
    paths: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    # What "always allow" approves for a command: this program (its name), or, when
    # empty, this exact argv only (programs that run code: python3, make...).
    scope: str = ""


class Tool(Protocol):
    spec: ToolSpec

    async def describe(self, args: Mapping[str, Any], ctx: ToolContext) -> Action: ...

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str: ...
