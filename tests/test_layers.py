"""The layers, checked on every import statement in the source (module level, inside
functions and under TYPE_CHECKING alike): the rules of docs/DESIGN.md's "Layers", and no
import circle anywhere. A change that crosses a layer fails here, naming the import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("proxy_core", "app")

# The engines: talking to Ollama and OpenAI-compatible servers, choosing one.
ENGINES = "proxy_core.engines"
# The HTTP edge: the app, its middlewares and the admin routes.
EDGE = ("proxy_core.app_factory", "proxy_core.middleware", "proxy_core.guard", "proxy_core.admin")
DIALECTS = ("proxy_core.dialects.anthropic", "proxy_core.dialects.responses")
OPENAI = "proxy_core.dialects.openai"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute (``from . import x`` gives ``pkg.x`` when
    x is a module, else ``pkg``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield candidate if _exists(candidate) else target


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            graph[_module_name(path)] = set(_imports(path))
    return graph


GRAPH = _graph()


def _within(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _crossings(sources: tuple[str, ...] | str, targets: tuple[str, ...] | str) -> list[str]:
    return sorted(
        f"{module} imports {imported}"
        for module, imports in GRAPH.items()
        if _within(module, sources)
        for imported in imports
        if _within(imported, targets) and not _within(module, targets)
    )


def test_the_graph_sees_the_source() -> None:
    """The checks below read real imports (an empty graph would pass them all)."""
    assert "proxy_core.generation" in GRAPH["proxy_core.tools.agent"]
    assert "proxy_core.state" in GRAPH["proxy_core.generation.pipeline"]
    assert "PySide6.QtWidgets" in GRAPH["app.dashboard"]


@pytest.mark.parametrize(
    ("sources", "targets"),
    [
        ("proxy_core", ("app", "PySide6", "qasync", "shiboken6")),  # the core has no GUI
        ("proxy_core.cache", ("proxy_core.dialects", "proxy_core.generation", *EDGE)),
        (ENGINES, ("proxy_core.dialects", "proxy_core.generation", "proxy_core.state", *EDGE)),
        ("proxy_core.generation", ("proxy_core.dialects", "proxy_core.tools", *EDGE)),
        ("proxy_core.tools", ("proxy_core.dialects", *EDGE)),
        ("proxy_core.observe", ("proxy_core.dialects", "proxy_core.generation", *EDGE)),
        ("proxy_core.dialects.anthropic", ("proxy_core.dialects.responses", OPENAI)),
        ("proxy_core.dialects.responses", ("proxy_core.dialects.anthropic", OPENAI)),
        (OPENAI, DIALECTS),
    ],
)
def test_a_layer_never_imports_what_it_must_not(
    sources: tuple[str, ...] | str, targets: tuple[str, ...] | str
) -> None:
    assert _crossings(sources, targets) == []


def test_there_is_no_import_circle() -> None:
    """Tarjan's strongly connected components over the first-party graph: every one of
    them a single module."""
    first_party = {m: {i for i in deps if i in GRAPH and i != m} for m, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(first_party[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(first_party):
        if module not in index:
            visit(module)
    assert circles == []


def test_the_tray_talks_to_the_service_not_its_state() -> None:
    """app/ uses ProxyService's façade (tool_actions, recent_requests, installed_models,
    check_engines, clear_cache, apply): never ``service.state``, never an assignment to
    ``service.settings``."""
    reaches = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("state", "settings")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "service"
                and (node.attr == "state" or isinstance(node.ctx, ast.Store))
            ):
                reaches.append(f"{path.name}:{node.lineno} service.{node.attr}")
    assert reaches == []


def test_the_tray_imports_only_the_cores_top_level() -> None:
    """app/ uses the names proxy_core exports at its top level, never a module inside it:
    the core can be rearranged without touching the tray."""
    inside = sorted(
        f"{module} imports {imported}"
        for module, imports in GRAPH.items()
        if _within(module, "app")
        for imported in imports
        if imported.startswith("proxy_core.")
    )
    assert inside == []
