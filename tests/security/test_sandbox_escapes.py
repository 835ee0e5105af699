"""Issue 24, the sandbox: links (symbolic and hard), a link swapped in between check and
use, protected names written the way a case-insensitive or normalising file system reads
them, NUL and very long paths, the proxy's own data dir, huge writes and huge trees."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from proxy_core.settings import ProxySettings
from proxy_core.tools import Refused, ToolContext, Workspace
from proxy_core.tools.list_files import MAX_VISITED
from proxy_core.tools.list_files import TOOL as LIST
from proxy_core.tools.read_file import TOOL as READ
from proxy_core.tools.setup import build_engine
from proxy_core.tools.write_file import MAX_BYTES
from proxy_core.tools.write_file import TOOL as WRITE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("top secret\n")
    return path


async def write(ctx: ToolContext, path: str, content: str = "pwned\n") -> str:
    return await WRITE.run({"path": path, "content": content}, ctx)


@pytest.mark.parametrize(
    "path",
    [
        ".GIT/config",
        ".Git./hooks/pre-commit",
        ".g\u200cit/config",  # HFS+ ignores U+200C: this is .git there
        "\uff0egit/config",  # fullwidth full stop: NFKC makes it .git
        "GIT~1/config",  # the NTFS short name of .git
        ".git::$INDEX_ALLOCATION/config",
        ".ENV",
        ".env.LOCAL",
        ".Env ",
        "\uff0eenv",
        ".VSCode/settings.json",
        ".GitHub/workflows/ci.yml",
        "sub/.Claude/settings.json",
        ".MCP.json",
        "id.PEM",
    ],
)
async def test_protected_names_in_every_spelling(ctx: ToolContext, ws: Path, path: str) -> None:
    with pytest.raises(Refused, match="protected"):
        await write(ctx, path)
    assert sorted(p.name for p in ws.iterdir()) == ["a.txt"]


@pytest.mark.parametrize(
    "path", ["a\x00b", "x/" * 3000 + "f", "y" * 300, "../" * 50 + "etc/passwd", "/etc/passwd"]
)
async def test_nul_long_and_leaving_paths_are_refused_never_errors(
    ctx: ToolContext, path: str
) -> None:
    for call in (write(ctx, path), READ.run({"path": path}, ctx), LIST.run({"path": path}, ctx)):
        with pytest.raises(Refused):
            await call


async def test_links_out_are_refused_for_every_tool(
    ctx: ToolContext, ws: Path, secret: Path
) -> None:
    (ws / "file-link").symlink_to(secret)
    (ws / "dir-link").symlink_to(secret.parent)
    os.link(secret, ws / "hard-link")
    for path in ("file-link", "dir-link/secret.txt", "hard-link"):
        with pytest.raises(Refused):
            await READ.run({"path": path}, ctx)
        with pytest.raises(Refused):
            await write(ctx, path)
    with pytest.raises(Refused):
        await LIST.run({"path": "dir-link"}, ctx)
    assert secret.read_text() == "top secret\n"


def _flip(folder: Path, target: Path, stop: threading.Event) -> None:
    """Swap ``folder`` between a real folder and a link to ``target`` as fast as possible."""
    while not stop.is_set():
        try:
            folder.rmdir()
            folder.symlink_to(target, target_is_directory=True)
            folder.unlink()
            folder.mkdir()
        except OSError:
            continue


@pytest.mark.parametrize("target", ["outside", ".git"])
async def test_a_folder_swapped_for_a_link_never_redirects_a_write(
    ctx: ToolContext, ws: Path, tmp_path: Path, target: str
) -> None:
    aim = tmp_path / "elsewhere" if target == "outside" else ws / ".git"
    aim.mkdir()
    folder = ws / "flip"
    folder.mkdir()
    stop = threading.Event()
    flipper = threading.Thread(target=_flip, args=(folder, aim, stop))
    flipper.start()
    try:
        for _ in range(300):
            try:
                await write(ctx, "flip/config")
            except (Refused, OSError):
                pass
            try:
                text = await READ.run({"path": "flip/config"}, ctx)
                assert "pwned" in text or text == ""
            except (Refused, OSError):
                pass
    finally:
        stop.set()
        flipper.join()
    assert list(aim.iterdir()) == []  # nothing ever landed through the link


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A workspace that contains the data dir (a workspace of ~ holds
    ~/.local/share/ollama-tray-proxy)."""
    root = tmp_path / "home"
    data = root / ".local" / "share" / "ollama-tray-proxy"
    data.mkdir(parents=True)
    (data / "access-token").write_text("token-0123456789abcdef\n")
    (data / "tool-policy.json").write_text("{}\n")
    return root


async def test_the_proxy_data_is_out_of_reach_even_inside_the_workspace(home: Path) -> None:
    data = home / ".local" / "share" / "ollama-tray-proxy"
    ctx = ToolContext(Workspace(home, private=(data,)), {})
    rel = ".local/share/ollama-tray-proxy"
    for name in ("access-token", "tool-policy.json", "audit.jsonl", "settings.json"):
        with pytest.raises(Refused, match="proxy's own data"):
            await READ.run({"path": f"{rel}/{name}"}, ctx)
        with pytest.raises(Refused, match="proxy's own data"):
            await write(ctx, f"{rel}/{name}", '{"run_command": "allow"}')
    listing = await LIST.run({"path": ".local/share", "max_depth": 3}, ctx)
    assert "ollama-tray-proxy" not in listing
    assert (data / "tool-policy.json").read_text() == "{}\n"


def test_tools_refuse_a_workspace_that_holds_the_data_dir(home: Path) -> None:
    from proxy_core.observe.recorder import MetricsRecorder

    data = home / ".local" / "share" / "ollama-tray-proxy"
    settings = ProxySettings(agent_tools=True, workspace=str(home), data_dir=data)
    with pytest.raises(ValueError, match="contains the proxy's data folder"):
        build_engine(settings, MetricsRecorder())


async def test_huge_write_content_is_refused_before_anything_is_written(
    ctx: ToolContext, ws: Path
) -> None:
    with pytest.raises(Refused, match="larger than"):
        await write(ctx, "big.txt", "x" * (MAX_BYTES + 1))
    assert not (ws / "big.txt").exists()


async def test_listing_a_huge_tree_visits_a_bounded_number_of_entries(
    ctx: ToolContext, ws: Path
) -> None:
    big = ws / "node_modules"
    big.mkdir()
    for folder in range(60):
        sub = big / f"pkg{folder}"
        sub.mkdir()
        for name in range(1000):
            (sub / f"f{name}.js").touch()
    out = await LIST.run({"pattern": "*.nothing", "max_depth": 5}, ctx)
    assert f"visited {MAX_VISITED} entries" in out


@pytest.mark.parametrize("target", ["outside", ".git"])
async def test_a_swap_right_after_the_check_is_caught_at_use(
    ctx: ToolContext, ws: Path, tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race made certain: the folder becomes a link the moment the path check
    has passed, before the file is opened."""
    aim = tmp_path / "elsewhere" if target == "outside" else ws / ".git"
    (aim / "hooks").mkdir(parents=True)
    folder = ws / "flip"
    (folder / "hooks").mkdir(parents=True)
    checked = ctx.workspace.resolve
    writes: list[object] = []

    def resolve_then_swap(path: object, *, write: bool = False) -> Path:
        real = checked(path, write=write)
        writes.append(path) if write else None
        if len(writes) == 2 and folder.is_dir() and not folder.is_symlink():
            (folder / "hooks").rmdir()  # after the last check (the summary's, the write's)
            folder.rmdir()
            folder.symlink_to(aim, target_is_directory=True)
        return real

    monkeypatch.setattr(ctx.workspace, "resolve", resolve_then_swap)
    with pytest.raises(Refused):
        await write(ctx, "flip/hooks/pre-commit")
    assert list((aim / "hooks").iterdir()) == []
