"""No import cycle between the modules of services/ and shared/.

The graph is built from the source (ast), from every import a module makes:
at its top level and inside functions too. An import moved into a function
hides a cycle from Python but not from the reader (the layers are still
tangled), so it counts here; only imports under ``if TYPE_CHECKING:`` (never
run) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("services", "shared")

# Cycles known and owned by someone else. Each entry is one strongly connected set
# of modules; remove the entry when the cycle is broken.
ALLOWED_CYCLES: list[set[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(tree: ast.Module):
    """Every import node of a module, but those under ``if TYPE_CHECKING:``."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def a_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One concrete loop inside a component, for the failure message."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        following = sorted(n for n in graph[path[-1]] if n in component)
        back = [n for n in following if n in seen]
        if back:
            return path[path.index(back[0]) :] + [back[0]]
        step = next(n for n in following if n not in seen)
        path.append(step)
        seen.add(step)


def test_the_graph_sees_top_level_and_function_level_imports():
    graph = import_graph()
    assert "shared.store" in graph["shared.leases"]  # at the top
    assert "services.segments.jobqueue" in graph["services.segments.importer"]  # inside a function
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert a_cycle({"a": {"b"}, "b": {"a"}}, {"a", "b"}) == ["a", "b", "a"]


def test_no_import_cycles_between_modules():
    graph = import_graph()
    cycles = [c for c in strongly_connected(graph) if c not in ALLOWED_CYCLES]
    assert not cycles, "import cycles (break them; see ALLOWED_CYCLES for the known ones):\n" + "\n".join(
        " -> ".join(a_cycle(graph, c)) + (f"   ({len(c)} modules tangled)" if len(c) > 2 else "")
        for c in cycles
    )
