"""Issue 17, item 7: what ``dataex anonymize`` reports — t against the input, risk populations labelled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dataex.cli.main import app
from tests.conftest import Node, add


def _cli(node: Node, *args: str, token: str) -> Any:
    result = CliRunner().invoke(
        app, [*args, "--home", str(node.home), "--json"], env={"DATAEX_TOKEN": token}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_t_closeness_is_reported_against_the_input_distribution(fresh_node: Node, tmp_path: Path) -> None:
    """Five records; the lone ``C`` record is suppressed (k = 2), which shifts the released distribution.

    Input Q = (flu 3/5, cold 1/5, cancer 1/5). Released classes: A = (flu, flu), B = (flu, cold).
    Against Q (equal distance, ½ Σ|p − q|): A = ½(0.4 + 0.2 + 0.2) = 0.4, B = ½(0.1 + 0.3 + 0.2) = 0.3,
    so t = 0.4. Against the released (flu 3/4, cold 1/4) it would be 0.25 — the value reported before.
    """
    path = tmp_path / "tiny.parquet"
    pq.write_table(
        pa.table(
            {
                "zone": ["A", "A", "B", "B", "C"],
                "disease": ["flu", "flu", "flu", "cold", "cancer"],
            }
        ),
        path,
    )
    owner = add(fresh_node, "Clinic")
    ds = fresh_node.ex.register(path, owner=owner.party.id, title="Tiny", license="x").dataset.id
    body = _cli(fresh_node, "anonymize", ds, "--qi", "zone", "--sensitive", "disease", "--k", "2",
                "--max-suppression", "0.2", token=owner.token)  # fmt: skip
    assert body["levels"] == {"zone": 0} and body["suppressed"] == 1 and body["rows"] == 4
    achieved = body["achieved"]["disease"]
    assert abs(achieved["t"] - 0.4) < 1e-12
    assert achieved["t_reference"] == "input" and achieved["t_distance"] == "equal"
    # journalist risk: labelled with the population it was measured against
    assert body["risk"]["before"]["population"] == "sample"
    assert body["risk"]["before"]["journalist"] == body["risk"]["before"]["prosecutor"]
    assert body["risk"]["after"]["population"] == "source"
    # after: f = (2, 2) released, F = (2, 2) in the source (C's class has f = 0 and is ignored)
    assert body["risk"]["after"]["journalist"]["highest"] == 0.5
