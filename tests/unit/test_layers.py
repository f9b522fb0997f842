"""Layers that point one way, read from the modules' own imports (every import statement,
module-level or inside a function): `junheng/` is plain Python and never imports the
Dagster layers; `assets/` never imports the wiring in `pipelines/`; no module imports
itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("junheng", "assets", "pipelines")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The project module an imported name lives in (a package, a module, or the module
    holding an imported attribute)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    known = {_module(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        me = _module(path)
        edges = graph.setdefault(me, set())
        package = me if path.name == "__init__.py" else me.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for n in names:
                target = _resolve(n, known)
                if target and target != me:
                    edges.add(target)
    return graph


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_no_upward_import():
    upward = {("junheng", "assets"), ("junheng", "pipelines"), ("assets", "pipelines")}
    bad = sorted((a, b) for a, edges in import_graph().items() for b in edges
                 if (_layer(a), _layer(b)) in upward)
    assert not bad, bad


def test_no_import_cycle():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_graph_is_read():
    graph = import_graph()
    assert "junheng.ingest.feeds" in graph["junheng.ingest.load"]
    assert "pipelines.definitions" in graph["pipelines.runner"]
