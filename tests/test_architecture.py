"""The shape of the library: no import cycle, every module importable on its own, no private helper
used across modules.

The import graph is read from the source (AST), so an import added inside a function counts as an
edge like one at the top of a module: a lazy import only postpones a cycle to the first call.
Two kinds of ``import`` statement are not edges:

* those under ``if TYPE_CHECKING:``: they never run (annotations only);
* the implicit import of a parent package: ``from segviz import metrics`` imports ``segviz/__init__``
  first, and ``segviz/__init__`` imports submodules — the standard package pattern, which would make
  every submodule a "cycle" with its package. An explicit ``from segviz import __version__`` (a name
  defined in ``__init__``, not a submodule) is an edge to the package ``segviz``.

Run ``python tests/test_architecture.py`` to print the graph and import every module in a fresh
interpreter.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "segviz"


# ---------------------------------------------------------------------- the graph
def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_modules() -> dict[str, Path]:
    """Every module under segviz/ (the dashboard included once it exists): {dotted name: file}.
    A compiled extension (``segviz/_count.c``) is a module too, without imports of its own."""
    sources = sorted(PACKAGE.rglob("*.py"))
    extensions = sorted(p for p in PACKAGE.rglob("*.c") if not p.with_suffix(".py").exists())
    return {module_name(p): p for p in [*sources, *extensions]}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, int]]:
    """Every import statement that runs (not under ``if TYPE_CHECKING:``), with its line."""
    out = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    visit_statement(sub)
                continue
            visit_statement(child)

    def visit_statement(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, node.lineno))
        visit(node)

    visit(tree)
    return out


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def edges_of(name: str, path: Path, modules: set[str]) -> dict[str, int]:
    """The library modules ``name`` imports: {module: first line}."""
    out: dict[str, int] = {}
    if path.suffix != ".py":
        return out
    for node, line in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = _base(name, path, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            while target and target not in modules:  # ``import segviz.x.y`` of a non-module name
                target = target.rpartition(".")[0]
            if target and target != name:
                out.setdefault(target, line)
    return out


def import_graph() -> dict[str, dict[str, int]]:
    modules = library_modules()
    return {name: edges_of(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " → ".join(
        f"{a} (line {graph[a][b]})" if b else a for a, b in zip(cycle, [*cycle[1:], None], strict=True)
    )


# ---------------------------------------------------------------------- tests
def test_find_cycle_finds_a_lazy_import_cycle(tmp_path):
    """The checker itself: a cycle closed by an import inside a function is found; one only under
    TYPE_CHECKING is not."""
    pkg = tmp_path / "segviz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from segviz import b\n")
    (pkg / "b.py").write_text("def f():\n    from segviz.a import x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from segviz import a\n"
    )
    (pkg / "d.py").write_text("from . import c\nfrom .a import y\n")
    names = {p.stem if p.stem != "__init__" else "": p for p in pkg.glob("*.py")}
    modules = {("segviz." + k).rstrip("."): p for k, p in names.items()}
    graph = {n: edges_of(n, p, set(modules)) for n, p in modules.items()}
    assert graph["segviz.c"] == {}
    assert graph["segviz.d"] == {"segviz.c": 1, "segviz.a": 2}
    assert find_cycle(graph) == ["segviz.a", "segviz.b", "segviz.a"]


def test_library_has_no_import_cycle():
    graph = import_graph()
    assert "segviz.metrics" in graph and graph["segviz.evaluate"]
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {describe(cycle, graph)}"


def test_store_does_not_import_evaluate():
    """Regression: store.py imported segviz.evaluate.PairCounts lazily while evaluate imports the store
    (issue 12); PairCounts now lives in segviz.counts, re-exported by segviz.evaluate."""
    graph = import_graph()
    assert "segviz.evaluate" not in graph["segviz.store"]
    assert "segviz.counts" in graph["segviz.store"] and "segviz.counts" in graph["segviz.evaluate"]
    from segviz.counts import PairCounts
    from segviz.evaluate import PairCounts as reexported

    assert reexported is PairCounts


def private_uses(modules: dict[str, Path]) -> list[str]:
    """``from segviz.x import _name`` and ``x._name`` where x is another library module: a private
    helper used where it does not live. Doctest examples are strings, not code: not checked."""
    found = []
    for name, path in modules.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        aliases = {}  # local name → library module, from ``from segviz import metrics`` etc.
        for node, line in _imports(tree):
            if isinstance(node, ast.Import):
                aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in modules})
                continue
            base = _base(name, path, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    aliases[alias.asname or alias.name] = sub
                elif base in modules and base != name and _private(alias.name):
                    found.append(f"{path.name}:{line}: from {base} import {alias.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id, name) != name
                and _private(node.attr)
            ):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_private_uses_finds_both_forms(tmp_path):
    """The checker itself, on a tiny package."""
    (tmp_path / "m.py").write_text("def _helper(): pass\ndef public(): return _helper()\n")
    (tmp_path / "n.py").write_text(
        "from segviz import m\nfrom segviz.m import _helper\nm._helper()\nm.public()\n"
    )
    modules = {f"segviz.{p.stem}": p for p in tmp_path.glob("*.py")}
    assert sorted(private_uses(modules)) == ["n.py:2: from segviz.m import _helper", "n.py:3: m._helper"]


def test_no_private_helper_used_across_modules():
    """Private helpers are not imported across modules: promote them or move the caller (house
    style). Regression: stats, conventions, evaluate and figures called ``metrics._divide`` and
    ``metrics._mean_defined``, compare imported ``stats._match_images`` (issue 12)."""
    found = private_uses(library_modules())
    assert not found, "private helpers used across modules:\n" + "\n".join(found)


def _private(attr: str) -> bool:
    return attr.startswith("_") and not attr.startswith("__")


def import_each_alone(modules: list[str]) -> dict[str, str]:
    """Import each module first of all in a fresh interpreter (8 at a time); {module: error} of
    those that fail."""
    failed, running, todo = {}, [], list(modules)
    while todo or running:
        while todo and len(running) < 8:
            module = todo.pop(0)
            command = [sys.executable, "-c", f"import {module}"]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            running.append(
                (module, subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True))
            )
        module, process = running.pop(0)
        _, err = process.communicate(timeout=300)
        if process.returncode:
            failed[module] = err[-2000:]
    return failed


def test_every_module_imports_alone():
    """Each module imports in a fresh interpreter, first of all: an import-order-dependent cycle would
    show here as an ImportError on a partially initialised module. (The dashboard's modules are left
    to its own tests: they need streamlit.)"""
    modules = [
        m
        for m, p in library_modules().items()
        if p.suffix == ".py" and not m.startswith("segviz.dashboard") and m != "segviz.__main__"
    ]
    assert len(modules) > 20
    failed = import_each_alone(modules)
    assert not failed, "\n\n".join(f"import {m}:\n{e}" for m, e in failed.items())


if __name__ == "__main__":
    graph = import_graph()
    for name, edges in graph.items():
        print(f"{name}: {', '.join(sorted(edges)) or '-'}")
    cycle = find_cycle(graph)
    print("cycle:", describe(cycle, graph) if cycle else "none")
    failed = import_each_alone(
        [m for m, p in library_modules().items() if p.suffix == ".py" and m != "segviz.__main__"]
    )
    print("imports alone:", "all" if not failed else f"FAILED {failed}")
    sys.exit(1 if cycle or failed else 0)
