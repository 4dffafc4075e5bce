"""Rendering and the one place where CLI errors become output and exit codes.

Exit codes: 0 success; 1 a verification ran and found problems; 2 bad usage (from Click);
3 the node refused the request (a ``DataexError`` with a 4xx status); 4 the node failed (5xx).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from dataex.errors import DataexError

EXIT_PROBLEMS, EXIT_REFUSED, EXIT_FAILED = 1, 3, 4

err_console = Console(stderr=True)
out_console = Console(highlight=False, soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")


def fail(error: DataexError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit_json(error.to_dict())
    else:
        err_console.print(f"[bold red]error:[/] {error.message}", highlight=False)
    raise typer.Exit(EXIT_FAILED if error.status >= 500 else EXIT_REFUSED)


@contextmanager
def handled(as_json: bool) -> Iterator[None]:
    """Turns a ``DataexError`` into the JSON envelope or a one-line message, and an exit code."""
    try:
        yield
    except DataexError as e:
        fail(e, as_json=as_json)


def unmark(snippet: str) -> str:
    """A search hit's snippet for a terminal: ``<mark>`` highlights as «», HTML entities decoded."""
    import html

    return html.unescape(snippet.replace("<mark>", "«").replace("</mark>", "»"))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(x) if x is not None else "" for x in r])
    out_console.print(t)


def kv(title: str, values: dict[str, Any]) -> None:
    t = Table(title=title, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for k, v in values.items():
        t.add_row(k, json.dumps(to_jsonable(v), ensure_ascii=False) if isinstance(v, dict | list) else str(v))
    out_console.print(t)


def report(result: dict[str, Any], *, as_json: bool, what: str) -> None:
    """Prints an ``{ok, problems}`` result and exits 1 when it is not ok."""
    if as_json:
        emit_json(result)
    elif result["ok"]:
        out_console.print(f"[green]✓[/] {what}: ok")
    else:
        out_console.print(f"[red]✗[/] {what}: {len(result['problems'])} problem(s)")
        for p in result["problems"]:
            out_console.print(f"  - {p['message'] if isinstance(p, dict) else p}")
    if not result["ok"]:
        raise typer.Exit(EXIT_PROBLEMS)
