"""docs/notebook.py runs in a real Jupyter kernel and renders to HTML with its DataFrame output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebook.py"
CELL = re.compile(r"^# %%(?P<kind>[^\n]*)\n", re.M)


def cells(source: str) -> list[tuple[str, str]]:
    """The percent-format cells of ``source``: ``("markdown" | "code", text)`` in order."""
    marks = list(CELL.finditer(source))
    out = []
    for mark, nxt in zip(marks, [*marks[1:], None], strict=True):
        body = source[mark.end() : nxt.start() if nxt else len(source)].strip("\n")
        if "[markdown]" in mark.group("kind"):
            out.append(
                (
                    "markdown",
                    "\n".join(line.removeprefix("#").removeprefix(" ") for line in body.splitlines()),
                )
            )
        else:
            out.append(("code", body))
    return out


def notebook(source: str) -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        for kind, text in cells(source)
    ]
    return nb


def test_the_percent_format_is_read_cell_by_cell() -> None:
    parsed = cells("# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n# %%\nx\n")
    assert parsed == [("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("code", "x")]


@pytest.mark.slow
def test_the_notebook_runs_and_renders_its_dataframe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core warns about its path migration otherwise
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = notebook(NOTEBOOK.read_text(encoding="utf-8"))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    html, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / "notebook.html").write_text(html, encoding="utf-8")
    frames = re.findall(r'<table[^>]*class="dataframe".*?</table>', html, re.S)
    assert any("n_ci_low" in t and "n_ci_high" in t and "高血压" in t for t in frames), "no DP answer table"
    assert "Quality report ds_" in html  # ds.quality(), rendered by its _repr_html_
    assert "(0.5, 2.5)" in html  # ε charged, ε left
    assert "(400, ['patient_id', 'age', 'diagnosis', 'cost'])" in html  # the extract
    assert re.search(r"\((&#x27;|')registered in-process(&#x27;|'), 120, True\)", html)  # dataex.open()
    streams = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert streams == []  # nothing printed besides the results (the server logs to a file)
