"""De-identification operators, in Python and as DuckDB SQL, agree and behave."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import duckdb
import pytest

from dataex.errors import InvalidInput
from dataex.privacy.deid import (
    age_band,
    age_band_sql,
    generalize_address,
    generalize_date,
    generalize_date_sql,
    load_or_create_key,
    mask,
    mask_sql,
    pseudonymize,
    register_pseudonymize,
    suppress,
    suppress_sql,
)


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("cn_resident_id", "110101199003071234", "110101********1234"),
        ("cn_mobile", "13812345678", "138****5678"),
        ("cn_mobile", "+86 138-1234-5678", "138****5678"),
        ("person_name", "张三", "张*"),
        ("person_name", "欧阳娜娜", "欧***"),
        ("email", "alice@b.cn", "a***@b.cn"),
        ("bank_card", "6222021234567890128", "622202*********0128"),
        ("generic", "ab", "**"),
    ],
)
def test_mask_in_python_and_in_duckdb(kind: str, value: str, masked: str) -> None:
    assert mask(value, kind) == masked
    got = duckdb.connect().execute(f"SELECT {mask_sql('v', kind)} FROM (SELECT ? AS v)", [value]).fetchall()
    assert got == [(masked,)]


def test_mask_keeps_none_and_refuses_unknown_kinds() -> None:
    assert mask(None, "cn_mobile") is None
    with pytest.raises(InvalidInput, match="unknown mask kind"):
        mask("x", "ssn")
    with pytest.raises(InvalidInput):
        mask_sql("x", "ssn")


def test_pseudonyms_are_stable_per_key_and_context_only() -> None:
    key, other = b"k" * 32, b"q" * 32
    p = pseudonymize("11010519491231002X", key, context="ctr_1")
    assert p is not None and p.startswith("ps_") and len(p) == 3 + 32
    assert p == pseudonymize("11010519491231002X", key, context="ctr_1")
    assert p != pseudonymize("11010519491231002X", key, context="ctr_2")
    assert p != pseudonymize("11010519491231002X", other, context="ctr_1")
    assert p != pseudonymize("11010519491231002x", key, context="ctr_1")
    assert pseudonymize(None, key, context="c") is None
    with pytest.raises(InvalidInput):
        pseudonymize("x", b"short", context="c")


def test_pseudonymize_in_duckdb_matches_python_and_joins_still_work() -> None:
    key = b"k" * 32
    con = duckdb.connect()
    register_pseudonymize(con, key, context="ctr_1")
    rows = con.execute(
        "WITH a AS (SELECT pseudonymize(id) AS p FROM (VALUES ('A'), ('B'), (NULL)) t(id)), "
        "b AS (SELECT pseudonymize(id) AS p FROM (VALUES ('B'), ('C')) t(id)) "
        "SELECT a.p FROM a JOIN b USING (p)"
    ).fetchall()
    assert rows == [(pseudonymize("B", key, context="ctr_1"),)]


def test_node_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    path = tmp_path / "pseudonym.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key
    path.write_bytes(b"short")
    with pytest.raises(InvalidInput):
        load_or_create_key(tmp_path)
    os.chmod(path, 0o600)


def test_generalization_of_dates_ages_and_addresses() -> None:
    assert generalize_date("1985-03-17") == "1985-03"
    assert generalize_date(dt.date(1985, 3, 17), to="year") == "1985"
    assert generalize_date("not a date") is None and generalize_date(None) is None
    assert [age_band(a) for a in (0, 9, 10, 37, 89, 90, 104)] == [
        "0-9",
        "0-9",
        "10-19",
        "30-39",
        "80-89",
        "90+",
        "90+",
    ]
    assert age_band(37, width=5, top=None) == "35-39" and age_band(None) is None and age_band(-1) is None
    with pytest.raises(InvalidInput):
        age_band(3, width=0)
    assert generalize_address("浙江省杭州市西湖区文三路100号") == "浙江省杭州市"
    assert generalize_address("浙江省杭州市西湖区文三路100号", to="province") == "浙江省"
    assert generalize_address("北京市海淀区中关村大街1号") == "北京市"
    assert generalize_address("广西壮族自治区南宁市青秀区") == "广西壮族自治区南宁市"
    assert generalize_address("杭州市西湖区") == "杭州市"
    assert generalize_address("somewhere") is None
    assert suppress("11010519491231002X") is None


def test_sql_generalization_matches_python() -> None:
    row = (
        duckdb.connect()
        .execute(
            f"SELECT {generalize_date_sql('d')}, {generalize_date_sql('d', to='year')}, {age_band_sql('a')}, "
            f"{age_band_sql('b')}, {age_band_sql('c', width=5, top=None)}, {suppress_sql('d')} "
            "FROM (SELECT DATE '1985-03-17' AS d, 37 AS a, 95 AS b, 37 AS c)"
        )
        .fetchall()
    )
    assert row == [("1985-03", "1985", "30-39", "90+", "35-39", None)]
