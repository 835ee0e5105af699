"""Issue 15 items 4 and 6: policy, approval, audit and metrics around every call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from proxy_core.observe.recorder import MetricsRecorder
from proxy_core.tools import Action, ToolContext
from proxy_core.tools.audit import AuditLog
from proxy_core.tools.engine import Answer, ToolEngine
from proxy_core.tools.policy import PolicyError, ToolPolicy, load, parse


class Person:
    """Stands in for the tray's prompt: answers as told, or never."""

    def __init__(self, answer: Answer | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, Action, str, str]] = []

    async def ask(self, tool: str, action: Action, origin: str, client: str) -> Answer:
        self.asked.append((tool, action, origin, client))
        if self.answer is None:
            await asyncio.sleep(3600)
        assert self.answer is not None
        return self.answer


def engine(
    ctx: ToolContext,
    data: Path,
    policy: ToolPolicy | None = None,
    person: Person | None = None,
    ask_timeout: float = 5.0,
) -> tuple[ToolEngine, MetricsRecorder]:
    metrics = MetricsRecorder()
    made = ToolEngine(
        ctx,
        policy or ToolPolicy(path=data / "tool-policy.json"),
        AuditLog(data),
        metrics,
        person,
        ask_timeout,
    )
    return made, metrics


def audit_lines(data: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]


async def test_reads_run_writes_ask_and_headless_ask_is_a_denial(
    ctx: ToolContext, root: Path, tmp_path: Path
) -> None:
    tools, metrics = engine(ctx, tmp_path)
    read = await tools.call("read_file", {"path": "README.md"}, origin="mcp", client="claude-code")
    assert read.ok and read.text == "# proj\n"
    write = await tools.call(
        "write_file", '{"path": "x.txt", "content": "x"}', origin="agent", client="continue"
    )
    assert (
        write.outcome == "denied" and "approval" in write.text and "tool-policy.json" in write.text
    )
    assert not (root / "x.txt").exists()
    await tools.audit.drain()
    first, second = audit_lines(tmp_path)
    assert first["tool"] == "read_file" and first["outcome"] == "executed"
    assert first["paths"] == ["README.md"] and first["origin"] == "mcp"
    assert second["outcome"] == "denied" and second["client"] == "continue"
    assert "x" not in str(second.get("argv")) and "content" not in json.dumps(second)
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o077 == 0
    scraped = metrics.registry.get_sample_value(
        "proxy_tool_calls_total", {"tool": "write_file", "outcome": "denied"}
    )
    assert scraped == 1
    assert (
        metrics.registry.get_sample_value(
            "tool_execution_duration_seconds_count", {"tool": "read_file"}
        )
        == 1
    )


async def test_a_person_allows_once_denies_or_always_allows(
    ctx: ToolContext, root: Path, tmp_path: Path
) -> None:
    person = Person("once")
    tools, _ = engine(ctx, tmp_path, person=person)
    args = {"path": "notes.txt", "content": "one\n"}
    assert (await tools.call("write_file", args, origin="mcp", client="cline")).ok
    tool, action, origin, client = person.asked[0]
    assert tool == "write_file" and action.summary == "write notes.txt (new file, 1 lines)"
    assert (origin, client) == ("mcp", "cline")
    person.answer = "deny"
    denied = await tools.call("write_file", args, origin="mcp", client="cline")
    assert denied.outcome == "denied" and "denied by the user" in denied.text
    person.answer = "always"
    assert (await tools.call("write_file", args, origin="mcp", client="cline")).ok
    asked = len(person.asked)
    assert (await tools.call("write_file", args, origin="mcp", client="cline")).ok
    assert len(person.asked) == asked  # not asked again in this workspace
    saved = json.loads((tmp_path / "tool-policy.json").read_text())
    assert saved["workspaces"][str(ctx.workspace.root)] == {"write_file": "allow"}


async def test_an_unanswered_prompt_is_a_denial(
    ctx: ToolContext, root: Path, tmp_path: Path
) -> None:
    tools, _ = engine(ctx, tmp_path, person=Person(None), ask_timeout=0.2)
    result = await tools.call("run_command", {"argv": ["true"]}, origin="agent", client="x")
    assert result.outcome == "denied" and "not approved in time" in result.text


async def test_policy_file_allows_and_denies_and_deny_wins(
    ctx: ToolContext, root: Path, tmp_path: Path
) -> None:
    policy = parse({"write_file": "allow", "read_file": "deny"})
    policy.workspaces[str(ctx.workspace.root)] = {"read_file": "allow"}
    tools, _ = engine(ctx, tmp_path, policy=policy)
    assert (
        await tools.call("write_file", {"path": "a.txt", "content": "a"}, origin="mcp", client="c")
    ).ok
    read = await tools.call("read_file", {"path": "a.txt"}, origin="mcp", client="c")
    assert read.outcome == "denied" and "denied by the tool policy" in read.text


async def test_refusals_errors_and_unknown_tools_are_results_never_crashes(
    ctx: ToolContext, tmp_path: Path
) -> None:
    tools, metrics = engine(ctx, tmp_path)
    results = await tools.call_many(
        [
            ("read_file", {"path": "../secret.txt"}),
            ("read_file", "{not json"),
            ("read_file", ["a", "list"]),
            ("no_such_tool", {}),
            ("list_files", {"path": "src"}),
        ],
        origin="agent",
        client="other",
    )
    assert [r.outcome for r in results] == ["refused", "refused", "refused", "error", "executed"]
    assert all(r.text.startswith("refused: ") for r in results[:4])
    assert "outside" in results[0].text and "JSON" in results[1].text
    assert "src/app.py" in results[4].text


async def test_parallel_calls_run_concurrently(ctx: ToolContext, tmp_path: Path) -> None:
    policy = parse({"run_command": "allow"})
    tools, _ = engine(ctx, tmp_path, policy=policy)
    started = asyncio.get_running_loop().time()
    results = await tools.call_many(
        [("run_command", {"argv": ["python3", "-c", "import time; time.sleep(0.5)"]})] * 4,
        origin="agent",
        client="x",
    )
    assert all(r.ok for r in results)
    assert asyncio.get_running_loop().time() - started < 1.5  # not 4 x 0.5 s in a row


def test_the_policy_file_is_checked(tmp_path: Path) -> None:
    assert load(tmp_path).decide("write_file", "write", "/w") == "ask"
    (tmp_path / "tool-policy.json").write_text('{"write_file": "maybe"}')
    with pytest.raises(PolicyError, match="allow, ask or deny"):
        load(tmp_path)
    (tmp_path / "tool-policy.json").write_text('{"rm_rf": "allow"}')
    with pytest.raises(PolicyError, match="unknown"):
        load(tmp_path)
    (tmp_path / "tool-policy.json").write_text('{"allow_commands": "git"}')
    with pytest.raises(PolicyError, match="list"):
        load(tmp_path)
    (tmp_path / "tool-policy.json").write_text(
        '{"run_command": "allow", "allow_commands": ["git"]}'
    )
    policy = load(tmp_path)
    assert policy.commands == ("git",) and policy.decide("run_command", "command", "/w") == "allow"
