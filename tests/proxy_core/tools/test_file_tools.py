"""Issue 15 item 2: list_files, read_file and write_file do their work within limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy_core.tools import Refused, ToolContext
from proxy_core.tools.list_files import TOOL as LIST
from proxy_core.tools.read_file import MAX_BYTES
from proxy_core.tools.read_file import TOOL as READ
from proxy_core.tools.write_file import TOOL as WRITE


async def test_list_files_walks_by_depth_and_glob_without_following_links(
    ctx: ToolContext, root: Path, outside: Path
) -> None:
    (root / "src" / "deep" / "deeper").mkdir(parents=True)
    (root / "src" / "deep" / "deeper" / "x.py").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "out").symlink_to(outside, target_is_directory=True)
    listed = (await LIST.run({}, ctx)).splitlines()
    assert (
        "README.md (7 bytes)" in listed and "src/" in listed and "src/app.py (18 bytes)" in listed
    )
    assert "out (link)" in listed and not any("secret" in line for line in listed)
    assert not any(line.startswith(".git") for line in listed)
    assert "src/deep/deeper/x.py (0 bytes)" not in listed  # depth 3 by default
    deep = await LIST.run({"pattern": "*.py", "max_depth": 5}, ctx)
    assert "src/deep/deeper/x.py (0 bytes)" in deep and "README.md" not in deep


async def test_list_files_stops_at_its_limit(ctx: ToolContext, root: Path) -> None:
    for n in range(30):
        (root / f"f{n:02}.txt").write_text("")
    listed = (await LIST.run({"limit": 10}, ctx)).splitlines()
    assert len(listed) == 11 and "limit 10" in listed[-1]
    with pytest.raises(Refused, match="between"):
        await LIST.run({"limit": 100_000}, ctx)


async def test_read_file_reads_text_ranges_and_refuses_binary(ctx: ToolContext, root: Path) -> None:
    assert await READ.run({"path": "src/app.py"}, ctx) == "print('hi')\nx = 1\n"
    assert await READ.run({"path": "src/app.py", "start_line": 2}, ctx) == "x = 1\n"
    assert await READ.run({"path": "src/app.py", "end_line": 1}, ctx) == "print('hi')\n"
    (root / "image.png").write_bytes(b"\x89PNG\x00\x00data")
    with pytest.raises(Refused, match="binary"):
        await READ.run({"path": "image.png"}, ctx)
    with pytest.raises(Refused, match="does not exist"):
        await READ.run({"path": "missing.txt"}, ctx)
    with pytest.raises(Refused, match="folder"):
        await READ.run({"path": "src"}, ctx)


async def test_read_file_caps_what_it_reads(ctx: ToolContext, root: Path) -> None:
    (root / "big.txt").write_text("y" * (MAX_BYTES * 3))
    text = await READ.run({"path": "big.txt"}, ctx)
    body, note = text.split("\n[truncated", 1)
    assert body == "y" * MAX_BYTES and "first 262144 bytes of big.txt" in note


async def test_write_file_creates_replaces_atomically_and_summarises(
    ctx: ToolContext, root: Path
) -> None:
    result = await WRITE.run({"path": "new/dir/file.txt", "content": "a\nb\n"}, ctx)
    assert result == "wrote new/dir/file.txt: new file, 2 lines"
    assert (root / "new" / "dir" / "file.txt").read_text() == "a\nb\n"
    result = await WRITE.run({"path": "src/app.py", "content": "print('hi')\nx = 2\ny = 3\n"}, ctx)
    assert result == "wrote src/app.py: replaces 2 lines: +2 -1"
    leftovers = [p.name for p in (root / "src").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    action = await WRITE.describe({"path": "src/app.py", "content": ""}, ctx)
    assert action.summary == "write src/app.py (replaces 3 lines: +0 -3)"
    assert action.paths == ("src/app.py",) and "print" not in action.summary


async def test_write_file_replaces_a_link_inside_instead_of_writing_through_it(
    ctx: ToolContext, root: Path
) -> None:
    (root / "alias.md").symlink_to(root / "README.md")
    await WRITE.run({"path": "alias.md", "content": "changed\n"}, ctx)
    # The link resolved inside, so the write went to its (real) target, atomically.
    assert (root / "README.md").read_text() == "changed\n"


@pytest.mark.parametrize(
    "args, words",
    [
        ({"path": "x.txt"}, "content"),
        ({"path": 3, "content": "x"}, "path"),
        ({"path": "src", "content": "x"}, "folder"),
    ],
)
async def test_write_file_bad_arguments_are_clear(
    ctx: ToolContext, args: dict[str, object], words: str
) -> None:
    with pytest.raises(Refused, match=words):
        await WRITE.run(args, ctx)
