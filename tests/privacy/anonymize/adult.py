"""The Adult extract and ARX's hierarchies, vendored in tests/data/adult (see its SOURCE.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

ADULT = Path(__file__).resolve().parents[2] / "data" / "adult"
COLUMNS = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
    "salary-class",
]
QI8 = COLUMNS[:8]


@cache
def table() -> pa.Table:
    """adult.csv with every column as text, as ARX reads it."""
    return pacsv.read_csv(
        ADULT / "adult.csv",
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())),
    )


def hierarchy(column: str) -> str:
    return str(ADULT / f"adult_hierarchy_{column}.csv")


def hierarchies(columns: list[str]) -> dict[str, str]:
    return {c: hierarchy(c) for c in columns}
