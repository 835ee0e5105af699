"""Issue 24 item 1: every audit line, executed or not, carries the attempted paths and
argv; control characters and line breaks are escaped, so one action is one line; what a
model puts in its arguments cannot make a line unbounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy_core.observe.recorder import MetricsRecorder
from proxy_core.tools import ToolContext
from proxy_core.tools.audit import MAX_ITEM_CHARS, MAX_ITEMS, AuditLog
from proxy_core.tools.engine import ToolEngine
from proxy_core.tools.policy import ToolPolicy


@pytest.fixture
def engine(ctx: ToolContext, data: Path) -> ToolEngine:
    policy = ToolPolicy({"run_command": "allow", "write_file": "allow"}, path=None)
    return ToolEngine(ctx, policy, AuditLog(data), MetricsRecorder())


async def lines(engine: ToolEngine, data: Path) -> list[bytes]:
    await engine.audit.drain()
    return (data / "audit.jsonl").read_bytes().splitlines()


async def test_a_refused_command_is_recorded_with_its_command_line(
    engine: ToolEngine, data: Path
) -> None:
    result = await engine.call("run_command", {"argv": ["touch", "x"]}, origin="agent", client="c")
    assert result.outcome == "refused"
    entry = json.loads((await lines(engine, data))[-1])
    assert entry["outcome"] == "refused" and entry["argv"] == ["touch", "x"]
    assert "not an allowed program" in entry["reason"]


@pytest.mark.parametrize(
    "args, argv, paths",
    [
        (
            {"argv": ["git", "-c", "core.pager=sh", "log"]},
            ["git", "-c", "core.pager=sh", "log"],
            [],
        ),
        ({"argv": "rm -rf /"}, ["rm -rf /"], []),
        ('{"argv": ["find", ".", "-delete"]}', ["find", ".", "-delete"], []),
        ("{not json", ["{not json"], []),
    ],
)
async def test_every_refusal_names_what_it_refused(
    engine: ToolEngine, data: Path, args: object, argv: list[str], paths: list[str]
) -> None:
    await engine.call("run_command", args, origin="mcp", client="c")
    entry = json.loads((await lines(engine, data))[-1])
    assert entry["outcome"] == "refused" and entry["argv"] == argv and entry["paths"] == paths


@pytest.mark.parametrize("tool", ["read_file", "write_file"])
async def test_a_refused_path_is_recorded(engine: ToolEngine, data: Path, tool: str) -> None:
    args = {"path": "../data/access-token", "content": "x"}
    await engine.call(tool, args, origin="agent", client="c")
    entry = json.loads((await lines(engine, data))[-1])
    assert entry["outcome"] == "refused" and entry["paths"] == ["../data/access-token"]


async def test_line_breaks_and_control_characters_stay_on_one_line(
    engine: ToolEngine, data: Path
) -> None:
    tricky = ["echo", "a\nb", "c\rd", "e\u2028f", "g\u2029h", "i\x85j", "\x1b[2Jk", "l\x00m"]
    await engine.call("run_command", {"argv": tricky}, origin="agent", client="c")
    await engine.call("read_file", {"path": 'x\n{"fake": 1}'}, origin="agent", client="c")
    raw = await lines(engine, data)
    assert len(raw) == 2
    text = b"\n".join(raw).decode("ascii")  # every non-ASCII character escaped
    assert len(text.splitlines()) == 2  # str.splitlines knows U+2028 and friends too
    assert json.loads(raw[0])["argv"] == tricky


async def test_a_huge_argv_makes_a_bounded_line(engine: ToolEngine, data: Path) -> None:
    argv = ["echo", *(["y" * 5_000] * 200)]
    await engine.call("run_command", {"argv": argv}, origin="agent", client="c")
    line = (await lines(engine, data))[-1]
    entry = json.loads(line)
    assert len(entry["argv"]) == MAX_ITEMS + 1 and entry["argv"][-1].startswith("[...")
    assert len(line) < (MAX_ITEMS + 2) * (MAX_ITEM_CHARS + 64) + 8192
