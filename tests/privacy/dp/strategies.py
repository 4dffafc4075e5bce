"""Random whitelisted WHERE predicates and a pair of neighbouring datasets, for the differential tests.

The neighbour adds one privacy unit whose values sit exactly where engines fail: INT64 overflow
of ``age * age`` and of ``-age``, DOUBLE overflow, a zero divisor, the largest DECIMAL, an awkward
string, the last representable date. A query's status (answered, or which error with which
message) must be the same on both datasets, on every engine.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from dataex.engines import Engine
from dataex.errors import DataexError
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.rewrite import plan_query
from dataex.privacy.dp.service import run_plan
from dataex.privacy.dp.settings import PrivacySettings

SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("diagnosis", pa.string()),
        ("age", pa.int64()),
        ("cost", pa.float64()),
        ("fee", pa.decimal128(18, 2)),
        ("name", pa.string()),
        ("visit", pa.date32()),
        ("flag", pa.bool_()),
    ]
)
TYPES = {
    "patient_id": "VARCHAR",
    "diagnosis": "VARCHAR",
    "age": "BIGINT",
    "cost": "DOUBLE",
    "fee": "DECIMAL(18,2)",
    "name": "VARCHAR",
    "visit": "DATE",
    "flag": "BOOLEAN",
}
SETTINGS = PrivacySettings(
    "ds_x",
    "patient_id",
    2,
    bounds={"cost": (0.0, 250.0), "age": (0.0, 120.0), "fee": (0.0, 1000.0)},
    domains={"diagnosis": ["A", "B", "C"]},
)
QUERIES = (
    "SELECT COUNT(*) AS n FROM t WHERE {p}",
    "SELECT diagnosis, COUNT(*) AS n, SUM(cost) AS s, AVG(fee) AS a FROM t WHERE {p} GROUP BY diagnosis",
    "SELECT COUNT(DISTINCT patient_id) AS u, SUM(age) AS s FROM t WHERE {p}",
)
MEDIAN_QUERY = "SELECT MEDIAN(age) AS m FROM t WHERE {p}"  # 101 rank scores: slower, fixed cases only
INT64_MIN = -(2**63)
EXTREME: dict[
    str, list[object]
] = {  # the neighbour's extra unit: values where engines overflow, divide by zero or cast
    "age": [3037000500, INT64_MIN, 0],
    "cost": [1.7e308, float("nan"), -0.0],
    "fee": [Decimal("9999999999999999.99"), Decimal("-9999999999999999.99"), None],
    "name": ["Alice' OR '1'='1", "", None],
    "visit": [date(9999, 12, 31), date(1, 1, 1), None],
    "flag": [None, True, False],
}


def neighbours(directory: Path) -> tuple[Path, Path]:
    """D (30 units, 2 rows each) and D plus one unit with the extreme rows, as Parquet files."""
    rows = [
        {
            "patient_id": f"P{u:03d}",
            "diagnosis": "ABC"[(u + j) % 3],
            "age": 20 + (u * 7 + j) % 70,
            "cost": float((u * 37 + j * 11) % 300),
            "fee": Decimal(f"{(u * 13 + j) % 900}.25"),
            "name": f"name{u}",
            "visit": date(2020, 1 + u % 12, 1 + j),
            "flag": (u + j) % 2 == 0,
        }
        for u in range(30)
        for j in range(2)
    ]
    extra = [
        {"patient_id": "PX", "diagnosis": "ABC"[i]} | {c: v[i] for c, v in EXTREME.items()} for i in range(3)
    ]
    out = []
    for name, data in (("d.parquet", rows), ("d_plus_one.parquet", rows + extra)):
        path = directory / name
        pq.write_table(pa.Table.from_pylist(data, schema=SCHEMA), path)
        out.append(path)
    return out[0], out[1]


def status(engine: Engine, sql: str, path: Path, *, prebounded: bool) -> str:
    """``ok``, or the error code and message a consumer would see (planning and execution)."""
    try:
        plan = plan_query(
            parse(sql), settings=SETTINGS, types=TYPES, dataset_id="ds_x", epsilon=1.0, prebounded=prebounded
        )
        run_plan(engine, plan, str(path))
    except DataexError as e:
        return f"{e.code}: {e.message}"
    return "ok"


HOSTILE_NUMBERS = [
    "0", "1", "-1", "0.5", "97", "3037000403", "3037000500", "9223372036854775807",
    "9223372036854775808", "1e308", "1e-308", "99999999999999999999999999999", "1e400",
]  # fmt: skip
STRINGS = ["'A'", "''", "'x''y'", "'%'", "'name1%'", "'2020-01-01'", "'2020-13-45'", "'9999-12-31'"]

numbers = st.recursive(
    st.sampled_from(["age", "cost", "fee", *HOSTILE_NUMBERS]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"-({x})"),
    ),
    max_leaves=6,
)
texts = st.sampled_from(["name", "diagnosis", "patient_id", *STRINGS])
comparison = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
atoms = st.one_of(
    st.tuples(numbers, comparison, numbers).map(" ".join),
    st.tuples(texts, comparison, texts).map(" ".join),
    st.tuples(st.just("visit"), comparison, st.sampled_from(STRINGS)).map(" ".join),
    st.tuples(numbers, numbers, numbers).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(numbers, st.lists(st.sampled_from(HOSTILE_NUMBERS), min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} IN ({', '.join(t[1])})"
    ),
    st.tuples(texts, st.sampled_from(["LIKE", "NOT LIKE", "ILIKE"]), st.sampled_from(STRINGS)).map(" ".join),
    st.sampled_from(["age", "cost", "fee", "name", "visit", "flag"]).map(lambda c: f"{c} IS NULL"),
    st.sampled_from(["flag", "TRUE", "NULL", "NOT flag", "flag = FALSE"]),
    # ill-typed on purpose: refused at planning, identically on both datasets
    st.sampled_from(
        [
            "name",
            "age",
            "age = 'A'",
            "-name > 0",
            "name * name > 0",
            "visit + 1 > 0",
            "age LIKE '9%'",
            "name IS TRUE",
            "age IS NOT FALSE",
        ]
    ),
)
predicates = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda p: f"NOT ({p})"),
    ),
    max_leaves=4,
)
queries = st.tuples(st.sampled_from(QUERIES), predicates).map(lambda t: t[0].format(p=t[1]))
