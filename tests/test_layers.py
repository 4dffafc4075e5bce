"""Services hold the logic: no service module imports the CLI, the API or their frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import dataex

SRC = Path(dataex.__file__).parent
SHELLS = ("dataex.api", "dataex.cli", "dataex.web")
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
