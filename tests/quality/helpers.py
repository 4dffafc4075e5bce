"""Shared test data: the demo hospital visits with some department labels flipped."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from dataex.demo.data import hospital_visits

FLIPPED = tuple(range(0, 400, 20))


def visits_with_noise(tmp_path: Path, rows: int = 400) -> tuple[Path, pa.Table]:
    table = hospital_visits(rows, seed=11)
    departments = table.column("department").to_pylist()
    choices = sorted(set(departments))
    for i in FLIPPED:
        departments[i] = next(d for d in choices if d != departments[i])
    table = table.set_column(table.schema.get_field_index("department"), "department", pa.array(departments))
    path = tmp_path / "visits.csv"
    pacsv.write_csv(table, path)
    return path, table
