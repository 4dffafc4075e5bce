"""Hierarchies: ARX CSV, automatic builders, and refusals naming the first offending value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from dataex.errors import InvalidHierarchy
from dataex.privacy.anonymize import hierarchies as hier
from tests.privacy.anonymize.adult import ADULT


def test_reads_arx_csv_and_digests_it() -> None:
    h = hier.read_arx(ADULT / "adult_hierarchy_age.csv", column="age")
    assert h.height == 4 and len(h.rows) == 100
    assert h.rows[0] == ("1", "0-4", "0-9", "0-19", "*")
    assert (
        len(h.digest()) == 64
        and h.digest() == hier.read_arx(ADULT / "adult_hierarchy_age.csv", column="age").digest()
    )


def test_uncovered_value_is_refused_naming_the_first(tmp_path: Path) -> None:
    p = tmp_path / "sex.csv"
    p.write_text("Male;*\n")
    h = hier.read_arx(p, column="sex")
    with pytest.raises(InvalidHierarchy, match="'Female'") as e:
        hier.encode(pa.array(["Male", "Female", "Other"]), h, name="sex")
    assert e.value.value == "Female" and e.value.column == "sex"


def test_inconsistent_tree_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "edu.csv"
    p.write_text("a;X;*\nb;X;*\nc;Y;*\nd;Y;Z\n")
    with pytest.raises(InvalidHierarchy, match="several parents: 'Y'"):
        hier.read_arx(p, column="edu")


def test_ragged_and_duplicate_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidHierarchy, match="'b'"):
        hier.from_rows([["a", "x", "*"], ["b", "*"]], column="c")
    with pytest.raises(InvalidHierarchy, match="listed twice: 'a'"):
        hier.from_rows([["a", "*"], ["a", "*"]], column="c")


def test_numeric_intervals() -> None:
    h = hier.automatic(pa.array([3, 17, 42, 99]), name="age")
    rows = {r[0]: r for r in h.rows}
    assert rows["3"][1] == "0-4" and rows["42"][1] == "40-44"
    assert rows["42"][2] == "40-49"
    assert all(r[-1] == "*" for r in h.rows)
    e = hier.encode(pa.array([3, 17, 42, 99, 42]), h, name="age")
    assert list(e.codes) == [0, 1, 2, 3, 2]


def test_dates_day_month_year() -> None:
    h = hier.automatic(pa.array([dt.date(2025, 3, 9), dt.date(2024, 12, 1)]), name="d")
    assert h.rows[0] == ("2025-03-09", "2025-03", "2025", "*")


def test_right_masking_of_postcodes() -> None:
    h = hier.automatic(pa.array(["02139", "02141", "90210"]), name="zip")
    assert h.kind == "auto:mask"
    assert h.rows[0][:4] == ("02139", "0213*", "021**", "02***")


def test_area_codes_and_resident_ids() -> None:
    h = hier.automatic(pa.array(["330106", "330102", "110101"]), name="area")
    assert h.kind == "auto:area" and h.rows[0] == ("330106", "330100", "330000", "*")
    ids = hier.automatic(pa.array(["33010619900101123X"]), name="id_no")
    assert ids.rows[0] == ("33010619900101123X", "330106", "330100", "330000", "*")


def test_nulls_are_the_value_null() -> None:
    h = hier.automatic(pa.array([1, None, 5]), name="n")
    assert h.rows[-1][:2] == ("NULL", "NULL")
    e = hier.encode(pa.array([1, None, 5]), h, name="n")
    assert list(e.labels[0][e.codes]) == ["1", "NULL", "5"]
