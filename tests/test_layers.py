"""Services hold the logic: no service module imports the CLI, the API or their frameworks; no module
of dataex takes part in an import cycle. The layers themselves are import-linter contracts
(``[tool.importlinter]`` in pyproject.toml, run by ``make lint``)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import dataex

SRC = Path(dataex.__file__).parent
SHELLS = ("dataex.api", "dataex.cli", "dataex.server", "dataex.web")
FRAMEWORKS = ("fastapi", "typer", "starlette", "uvicorn", "click")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_services_do_not_import_shells_or_web_frameworks() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module.startswith(SHELLS):
            continue
        for name in imported_modules(path):
            if name.startswith(SHELLS) or name.split(".")[0] in FRAMEWORKS:
                offenders.append(f"{module} imports {name}")
    assert offenders == []


def test_public_surface_is_explicit() -> None:
    assert sorted(dataex.__all__) == ["DataexError", "Exchange", "Settings", "__version__", "connect", "open"]
    for name in dataex.__all__:
        assert hasattr(dataex, name)


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def test_strongly_connected_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert sorted(strongly_connected(edges)) == [["a", "b", "c"], ["d"], ["e"]]


def test_no_import_cycle_among_dataex_modules() -> None:
    """Every import counts: inside functions, under ``TYPE_CHECKING``, and a package's ``__init__``."""
    graph = grimp.build_graph("dataex", exclude_type_checking_imports=False, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = []
    for component in strongly_connected(edges):
        members = set(component)
        if len(component) > 1 or component[0] in edges[component[0]]:
            cycles.append(
                [
                    f"{a} -> {b} (line {d['line_number']})"
                    for a in component
                    for b in sorted(edges[a] & members)
                    for d in graph.get_import_details(importer=a, imported=b)[:1]
                ]
            )
    assert cycles == []
