"""docs/sdk.md stays true: its executed example runs against a live node and prints what it shows."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

from dataex.sdk import Client
from tests.sdk.conftest import LiveNode

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def blocks(after: str) -> tuple[str, str]:
    """The python block following the heading that starts with ``after``, and its ``text`` output."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(after) :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    out = re.search(r"```text\n(.*?)```", section, re.S)
    assert code and out
    return code.group(1), out.group(1)


def test_the_executed_example_prints_what_the_doc_shows(
    live_node: LiveNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, expected = blocks("## A whole exchange")
    shutil.copy(live_node.csv, tmp_path / "visits.csv")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    namespace: dict[str, object] = {
        "URL": live_node.url,
        "HOSPITAL": live_node.hospital,
        "INSURER": live_node.insurer,
    }
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, str(DOC), "exec"), namespace)  # our own documentation
    finally:
        for value in namespace.values():
            if isinstance(value, Client):
                value.close()
    assert printed.getvalue() == expected


def test_the_notebook_example_compiles() -> None:
    code = DOC.read_text(encoding="utf-8").split("## In a notebook", 1)[1]
    block = re.search(r"```python\n(.*?)```", code, re.S)
    assert block is not None
    compile(block.group(1), "notebook", "exec")
