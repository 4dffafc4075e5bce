"""The SDK's objects: DP answers as DataFrames, notebook rendering, waiting, local extracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from dataex.errors import InvalidInput
from dataex.sdk import ContractNotApproved, WaitTimeout, connect, open
from dataex.sdk.objects import answer_frame
from tests.conftest import Node
from tests.delivery import delivery
from tests.sdk.conftest import LiveNode


def test_answer_frame_adds_ci_columns_right_after_each_noisy_column() -> None:
    answer: dict[str, Any] = {
        "columns": ["diagnosis", "n", "avg"],
        "rows": [{"diagnosis": "A", "n": 10, "avg": 2.0}, {"diagnosis": "B", "n": 3, "avg": None}],
        "intervals": [
            {"diagnosis": None, "n": [8.0, 12.0], "avg": [1.0, 3.0]},
            {"n": [1.0, 5.0], "avg": None},
        ],
        "epsilon_charged": 0.5,
        "cached": False,
    }
    df = answer_frame(answer)
    assert list(df.columns) == ["diagnosis", "n", "n_ci_low", "n_ci_high", "avg", "avg_ci_low", "avg_ci_high"]
    assert df["n_ci_high"].tolist() == [12.0, 5.0] and pd.isna(df["avg_ci_low"][1])
    assert df.attrs["epsilon_charged"] == 0.5 and df.attrs["cached"] is False
    empty = answer_frame({"columns": ["n"], "rows": [], "intervals": []})
    assert list(empty.columns) == ["n"] and len(empty) == 0


@pytest.fixture(scope="module")
def registered(live_node: LiveNode) -> str:
    with open(live_node.home, live_node.hospital) as provider:
        ds = provider.register(live_node.csv, "门诊 visits", "proprietary")
        ds.offer("L1", purposes=["research"], epsilon=1.0)
        return ds.id


@pytest.mark.parametrize("transport", ["local", "remote"])
def test_objects_render_in_notebooks(live_node: LiveNode, registered: str, transport: str) -> None:
    client = (
        connect(live_node.url, live_node.insurer)
        if transport == "remote"
        else open(live_node.home, live_node.insurer)
    )
    with client:
        hit = next(d for d in client.search("门诊") if d.id == registered)
        assert registered in hit._repr_html_() and "<mark>" in hit._repr_html_()
        full = client.dataset(registered)
        assert "patient_id" in full._repr_html_() and full.rows == hit.rows == 120
        report = full.quality()
        assert report.view == "public" and "<html" in report._repr_html_() and report.grade in "ABCD"
        offer = full.offers[0]
        assert "L1" in offer._repr_html_()
        contract = client.request(offer, purpose="research")
        assert contract.id in contract._repr_html_() and "requested" in contract._repr_html_()
        with pytest.raises(WaitTimeout) as late:
            contract.wait_until_approved(timeout=0.05, poll=0.01)
        assert late.value.state == "requested"
        with open(live_node.home, live_node.hospital) as provider:
            provider.contract(contract.id).reject(reason="no")
        with pytest.raises(ContractNotApproved, match="rejected, not approved: no"):
            contract.wait_until_approved(timeout=5, poll=0.01)


def test_local_extract_returns_fingerprinted_rows(sqlite_node: Node, tmp_path: Path) -> None:
    d = delivery(sqlite_node, tmp_path, rows=300, consumers=1)
    contract = d.contract(d.consumers[0], "L4")
    with open(sqlite_node.home, d.consumers[0].token) as client:
        c = client.contract(contract.id)
        table = c.extract()
        assert isinstance(table, pa.Table) and table.num_rows == 300
        frame = c.extract(format="pandas")
        assert isinstance(frame, pd.DataFrame) and len(frame) == 300
        with pytest.raises(InvalidInput):
            c.extract(format="csv")  # type: ignore[arg-type]
