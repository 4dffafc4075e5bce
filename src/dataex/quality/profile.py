"""Profiling with DuckDB in two scans of the canonical Parquet file.

Pass 1 (:func:`profile`) is one aggregate query: per column the null and empty counts, an
approximate distinct count (HyperLogLog, ``approx_count_distinct``), min / max / mean / stddev and
approximate quartiles for numbers, lengths for strings, min / max for dates, plus the number of
complete records and of distinct row hashes (exact duplicates). Pass 2 (:func:`aggregate`) is one
more aggregate query whose expressions depend on pass 1 — histogram bins, outlier fences, format
checks, declared rules — assembled by the callers (``dimensions`` and ``rules``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from dataex.engines.duckdb import quiet_connect
from dataex.engines.sql import quote_ident, quote_literal

Kind = Literal["number", "string", "date", "bool", "other"]
HISTOGRAM_BINS = 20
CATEGORICAL_MAX = 30
"""String columns with at most this many distinct values get a value histogram."""
SAMPLE_ROWS = 2000
"""Rows read from the start of the file to detect value formats when no classification is stored."""

MATERIALIZE_BYTES = 32 << 20
"""A canonical file up to this size is loaded into memory once (the per-column queries of a wide
table would otherwise parse its Parquet metadata once per column); larger ones are read in place."""
_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT")


def kind_of(duck_type: str) -> Kind:
    t = duck_type.upper()
    if t.startswith(_NUMBER) or t.startswith(("UINTEGER", "USMALLINT", "UTINYINT")):
        return "number"
    if t in ("VARCHAR", "STRING", "TEXT"):
        return "string"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t == "BOOLEAN":
        return "bool"
    return "other"


@dataclass
class ColumnProfile:
    name: str
    type: str
    kind: Kind
    nulls: int = 0
    empties: int = 0
    distinct: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    histogram: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.nulls + self.empties


@dataclass
class Profile:
    rows: int
    columns: list[ColumnProfile]
    complete_rows: int
    distinct_rows: int

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    def of_kind(self, kind: Kind) -> list[ColumnProfile]:
        return [c for c in self.columns if c.kind == kind]


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the dataset as view ``t`` (``file_row_number`` = position)."""
    con = quiet_connect()
    kind = "TEMP TABLE" if Path(path).is_file() and Path(path).stat().st_size <= MATERIALIZE_BYTES else "VIEW"
    source = f"read_parquet({quote_literal(path)}, file_row_number = true)"
    con.execute(f"CREATE {kind} t AS SELECT * FROM {source}")
    return con


AGGREGATE_BATCH = 96
"""Expressions per aggregate query: DuckDB's planning time and memory grow faster than linearly in
the number of aggregates of one query (250 columns in one query: 17 s and 3.4 GB), so a wide
table is scanned once per batch instead (linear in columns)."""


def aggregate(con: duckdb.DuckDBPyConnection, exprs: dict[str, str]) -> dict[str, Any]:
    """Runs ``exprs`` (named aggregate SQL expressions) over ``t``: one scan per ``AGGREGATE_BATCH``."""
    names = list(exprs)
    out: dict[str, Any] = {}
    for start in range(0, len(names), AGGREGATE_BATCH):
        batch = names[start : start + AGGREGATE_BATCH]
        select = ", ".join(f"{exprs[n]} AS a{i}" for i, n in enumerate(batch))
        row = con.execute(f"SELECT {select} FROM t").fetchone()
        assert row is not None
        out.update(zip(batch, row, strict=True))
    return out


def _column_exprs(i: int, c: ColumnProfile) -> dict[str, str]:
    q = quote_ident(c.name)
    out = {f"{i}.nulls": f"count(*) - count({q})", f"{i}.distinct": f"approx_count_distinct({q})"}
    if c.kind == "string":
        out[f"{i}.empties"] = f"count(*) FILTER (WHERE trim({q}) = '')"
        out[f"{i}.min_length"] = f"min(length({q}))"
        out[f"{i}.mean_length"] = f"avg(length({q}))"
        out[f"{i}.max_length"] = f"max(length({q}))"
    elif c.kind == "number":
        # NaN and ±inf are values (counted as ``nonfinite``), not numbers to summarize: every
        # statistic below is over the finite values only, so none of them is ever NaN or infinite
        finite = f"FILTER (WHERE isfinite({q}::DOUBLE))"
        out[f"{i}.nonfinite"] = f"count({q}) FILTER (WHERE NOT isfinite({q}::DOUBLE))"
        out[f"{i}.min"] = f"min({q}::DOUBLE) {finite}"
        out[f"{i}.max"] = f"max({q}::DOUBLE) {finite}"
        out[f"{i}.mean"] = f"avg({q}::DOUBLE) {finite}"
        out[f"{i}.stddev"] = f"stddev_samp({q}::DOUBLE) {finite}"
        out[f"{i}.quartiles"] = f"approx_quantile({q}::DOUBLE, [0.25, 0.5, 0.75]) {finite}"
    elif c.kind == "date":
        out[f"{i}.min"] = f"min({q})::DATE::VARCHAR"
        out[f"{i}.max"] = f"max({q})::DATE::VARCHAR"
    return out


def profile(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]]) -> Profile:
    """Pass 1: one aggregate query over every column (see the module docstring)."""
    cols = [ColumnProfile(name, typ, kind_of(typ)) for name, typ in columns]
    exprs: dict[str, str] = {"rows": "count(*)"}
    for i, c in enumerate(cols):
        exprs.update(_column_exprs(i, c))
    every = " AND ".join(f"{quote_ident(c.name)} IS NOT NULL" for c in cols) or "true"
    exprs["complete"] = f"count(*) FILTER (WHERE {every})"
    exprs["distinct_rows"] = f"count(DISTINCT hash({', '.join(quote_ident(c.name) for c in cols)}))"
    got = aggregate(con, exprs)
    for i, c in enumerate(cols):
        c.nulls = int(got[f"{i}.nulls"])
        c.empties = int(got.get(f"{i}.empties") or 0)
        c.distinct = int(got[f"{i}.distinct"])
        for key in ("min", "max", "mean", "stddev", "min_length", "mean_length", "max_length", "nonfinite"):
            if f"{i}.{key}" in got and got[f"{i}.{key}"] is not None:
                value = got[f"{i}.{key}"]
                c.stats[key] = round(value, 6) if isinstance(value, float) else value
        quartiles = got.get(f"{i}.quartiles")
        if quartiles:
            c.stats.update(q1=quartiles[0], median=quartiles[1], q3=quartiles[2])
    return Profile(int(got["rows"]), cols, int(got["complete"]), int(got["distinct_rows"]))


def number_literal(value: float) -> str:
    """A finite number as a SQL literal; refuses NaN and infinities (they are not literals)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {number!r}")
    return f"CAST({number!r} AS DOUBLE)"


def histogram_exprs(p: Profile) -> dict[str, str]:
    """Pass-2 expressions: equal-width bins for numbers, value counts for categorical strings."""
    out: dict[str, str] = {}
    for c in p.columns:
        q = quote_ident(c.name)
        lo, hi = c.stats.get("min"), c.stats.get("max")
        if c.kind == "number" and lo is not None and hi is not None:
            width = (hi - lo) / HISTOGRAM_BINS or 1.0
            if not math.isfinite(width):  # a range wider than the largest double
                continue
            out[f"hist:{c.name}"] = (
                f"histogram(least(greatest(floor(({q}::DOUBLE - {number_literal(lo)}) / "
                f"{number_literal(width)}), 0), {HISTOGRAM_BINS - 1})::INTEGER) "
                f"FILTER (WHERE isfinite({q}::DOUBLE))"
            )
        elif c.kind in ("string", "bool") and 0 < c.distinct <= CATEGORICAL_MAX:
            out[f"hist:{c.name}"] = f"histogram({q}::VARCHAR)"
    return out


def apply_histograms(p: Profile, got: dict[str, Any]) -> None:
    for c in p.columns:
        counts = got.get(f"hist:{c.name}")
        if not counts:
            continue
        if c.kind == "number":
            lo, hi = float(c.stats["min"]), float(c.stats["max"])
            width = (hi - lo) / HISTOGRAM_BINS or 1.0
            c.histogram = [
                {"lo": round(lo + b * width, 6), "hi": round(lo + (b + 1) * width, 6), "count": int(n)}
                for b, n in sorted(counts.items())
            ]
        else:
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
            c.histogram = [{"value": str(v), "count": int(n)} for v, n in ranked]


def sample(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, list[str]]:
    """Up to ``SAMPLE_ROWS`` non-empty values of each named column, from the start of the file."""
    out: dict[str, list[str]] = {}
    for name in names:
        q = quote_ident(name)
        rows = con.execute(
            f"SELECT {q}::VARCHAR FROM t WHERE {q} IS NOT NULL AND trim({q}::VARCHAR) <> '' "
            f"LIMIT {SAMPLE_ROWS}"
        ).fetchall()
        out[name] = [r[0] for r in rows]
    return out
