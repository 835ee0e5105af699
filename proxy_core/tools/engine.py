"""One engine behind both ways in (the MCP server and the agent loop): policy, approval,
sandboxed execution, timing, audit, metrics.

``call`` never raises for anything a model can cause: an unknown tool, bad arguments, a
refusal by the sandbox, a denial by policy or by a person, a tool that fails; each is a
:class:`ToolResult` whose text the model reads. Several calls from one reply run
concurrently (``call_many``, a TaskGroup).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from ..ndjson import loads
from . import TOOLS, Action, ToolContext
from .audit import AuditEntry, AuditLog, Outcome
from .policy import ToolPolicy
from .sandbox import Refused

log = logging.getLogger(__name__)
Answer = Literal["once", "always", "deny"]
ASK_TIMEOUT = 120.0  # seconds a person has to answer before the action is denied


class Asker(Protocol):
    """Whoever can approve an action (the tray's prompt)."""

    async def ask(self, tool: str, action: Action, origin: str, client: str) -> Answer: ...


class ToolMetrics(Protocol):
    def tool_finished(self, tool: str, outcome: str, seconds: float) -> None: ...

    def tool_prompt(self, answer: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class ToolResult:
    tool: str
    text: str
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.outcome == "executed"


class ToolEngine:
    def __init__(
        self,
        context: ToolContext,
        policy: ToolPolicy,
        audit: AuditLog,
        metrics: ToolMetrics,
        asker: Asker | None = None,
        ask_timeout: float = ASK_TIMEOUT,
    ) -> None:
        self.context = context
        self.policy = policy
        self.audit = audit
        self.metrics = metrics
        self.asker = asker
        self.ask_timeout = ask_timeout

    @property
    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec.schema() for tool in TOOLS.values()]

    async def call_many(
        self, calls: Sequence[tuple[str, Any]], *, origin: str, client: str
    ) -> list[ToolResult]:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self.call(name, args, origin=origin, client=client))
                for name, args in calls
            ]
        return [task.result() for task in tasks]

    async def call(self, name: str, args: Any, *, origin: str, client: str) -> ToolResult:
        started = time.perf_counter()
        tool = TOOLS.get(name)
        if tool is None:
            return self._done(name, "error", f"unknown tool {name!r}", origin, client, started)
        try:
            arguments = _arguments(args)
            action = await tool.describe(arguments, self.context)
        except Refused as exc:  # recorded with what it attempted, all the same
            attempt = attempted(args)
            return self._done(name, "refused", str(exc), origin, client, started, attempt)
        workspace = str(self.context.workspace.root)
        decision = self.policy.decide(name, tool.spec.kind, workspace, action)
        if decision == "deny":
            reason = f"{name} is denied by the tool policy"
            return self._done(name, "denied", reason, origin, client, started, action)
        if decision == "ask":
            refusal = await self._ask(name, action, origin, client)
            if refusal is not None:
                return self._done(name, "denied", refusal, origin, client, started, action)
        try:
            text = await tool.run(arguments, self.context)
        except Refused as exc:
            return self._done(name, "refused", str(exc), origin, client, started, action)
        except Exception as exc:  # a tool's own failure is the model's to read, not a crash
            log.warning("tool %s failed: %s", name, exc)
            reason = f"{name} failed: {exc}"
            return self._done(name, "error", reason, origin, client, started, action)
        return self._done(name, "executed", text, origin, client, started, action)

    async def _ask(self, name: str, action: Action, origin: str, client: str) -> str | None:
        """None when a person allowed it; else why not."""
        if self.asker is None:
            self.metrics.tool_prompt("no_one")
            return (
                f"{name} needs a person's approval and no one can be asked here (headless); "
                "allow it in tool-policy.json"
            )
        try:
            answer = await asyncio.wait_for(
                self.asker.ask(name, action, origin, client), self.ask_timeout
            )
        except TimeoutError:
            self.metrics.tool_prompt("timed_out")
            return f"{name} was not approved in time ({self.ask_timeout:g} s)"
        self.metrics.tool_prompt({"once": "allowed", "always": "always", "deny": "denied"}[answer])
        if answer == "deny":
            return f"{name} was denied by the user"
        if answer == "always":
            self.policy.always_allow(name, str(self.context.workspace.root), action)
        return None

    def _done(
        self,
        name: str,
        outcome: Outcome,
        text: str,
        origin: str,
        client: str,
        started: float,
        action: Action | None = None,
    ) -> ToolResult:
        seconds = time.perf_counter() - started
        self.metrics.tool_finished(name if name in TOOLS else "unknown", outcome, seconds)
        self.audit.record(
            AuditEntry(
                time=time.time(),
                origin=origin,
                client=client,
                tool=name if name in TOOLS else "unknown",
                outcome=outcome,
                reason="" if outcome == "executed" else text,
                paths=action.paths if action else (),
                argv=action.argv if action else (),
                seconds=round(seconds, 6),
            )
        )
        return ToolResult(name, text if outcome == "executed" else f"refused: {text}", outcome)


def attempted(args: Any) -> Action:
    """What a refused call tried, read from its raw arguments (which may be malformed):
    the person reading the audit log sees the command line or path that was refused."""
    try:
        raw = _arguments(args)
    except Refused:
        text = str(args)
        return Action("malformed arguments", argv=(text,) if text else ())
    argv = raw.get("argv")
    if isinstance(argv, str):
        argv = [argv]
    path = raw.get("path")
    return Action(
        "refused",
        paths=(str(path),) if path is not None else (),
        argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
    )


def _arguments(args: Any) -> Mapping[str, Any]:
    """A model's arguments: an object, or a JSON string holding one (OpenAI's form)."""
    if isinstance(args, str):
        try:
            args = loads(args) if args.strip() else {}
        except ValueError:
            raise Refused("the arguments are not valid JSON") from None
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise Refused("the arguments must be a JSON object")
    return args
