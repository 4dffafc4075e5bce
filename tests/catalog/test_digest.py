"""The dataset digest: format- and order-independent, sensitive to every cell, recomputable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataex.catalog.digest import connect, digest_parquet, enc, header_bytes, row_hash_sql, schema_hash
from dataex.catalog.minhash import NUM_BINS, OnePermutationBuilder, similarity
from dataex.storage.importer import import_table

ROWS = [
    {"id": 1, "name": "张三", "amount": 12.5, "visit_date": "2025-01-03", "insured": True},
    {"id": 2, "name": "李四", "amount": None, "visit_date": "2025-02-14", "insured": False},
    {"id": 3, "name": None, "amount": 0.1, "visit_date": "2025-03-01", "insured": True},
    {"id": 4, "name": 'O\'Brien, "Pat"', "amount": 1e6, "visit_date": "2025-12-31", "insured": None},
]
COLUMNS = list(ROWS[0])


def write_csv(path: Path, rows: list[dict[str, object]], columns: list[str] = COLUMNS) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow(
                [
                    "" if r[c] is None else ("true" if r[c] is True else "false" if r[c] is False else r[c])
                    for c in COLUMNS
                ]
            )
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    import datetime as dt

    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "amount": pa.array([r["amount"] for r in rows], pa.float64()),
            "visit_date": pa.array([dt.date.fromisoformat(str(r["visit_date"])) for r in rows], pa.date32()),
            "insured": pa.array([r["insured"] for r in rows], pa.bool_()),
        }
    )
    pq.write_table(table, path)
    return path


def digest_of(src: Path, tmp: Path) -> str:
    out = tmp / f"{src.stem}-{src.suffix[1:]}.canonical.parquet"
    scratch = tmp / f"scratch-{src.name}"
    scratch.mkdir()
    result = import_table(src, out, work_dir=scratch)
    return digest_parquet(out, [c.name for c in result.columns]).digest


def test_same_table_in_csv_parquet_jsonl_has_one_digest(tmp_path: Path) -> None:
    digests = {
        fmt: digest_of(writer(tmp_path / f"t.{fmt}", ROWS), tmp_path)
        for fmt, writer in (("csv", write_csv), ("jsonl", write_jsonl), ("parquet", write_parquet))
    }
    assert len(set(digests.values())) == 1, digests
    assert next(iter(digests.values())).startswith("sha256:")


def test_row_order_does_not_change_the_digest(tmp_path: Path) -> None:
    a = digest_of(write_csv(tmp_path / "a.csv", ROWS), tmp_path)
    b = digest_of(write_csv(tmp_path / "b.csv", ROWS[::-1]), tmp_path)
    assert a == b


@pytest.mark.parametrize(
    "change",
    ["cell", "null_to_empty_string", "add_row", "remove_row", "duplicate_row", "rename_column"],
)
def test_any_change_changes_the_digest(tmp_path: Path, change: str) -> None:
    base = digest_of(write_csv(tmp_path / "base.csv", ROWS), tmp_path)
    rows = [dict(r) for r in ROWS]
    columns = list(COLUMNS)
    if change == "cell":
        rows[2]["amount"] = 0.2
    elif change == "null_to_empty_string":
        rows[1]["name"] = '""'
    elif change == "add_row":
        rows.append({"id": 5, "name": "王五", "amount": 3.0, "visit_date": "2025-05-05", "insured": True})
    elif change == "remove_row":
        rows.pop()
    elif change == "duplicate_row":
        rows.append(dict(rows[0]))
    elif change == "rename_column":
        columns[1] = "patient_name"
    other = digest_of(write_csv(tmp_path / "changed.csv", rows, columns), tmp_path)
    assert other != base


def test_a_third_party_recomputes_the_digest_with_duckdb_alone(tmp_path: Path) -> None:
    """The recipe of docs/digest.md, written out as one SQL query plus a SHA-256."""
    src = write_parquet(tmp_path / "t.parquet", ROWS)
    ours = digest_of(src, tmp_path)
    canonical = tmp_path / "t-parquet.canonical.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{canonical}')").fetchall()]
    rows_sql = row_hash_sql(cols, f"read_parquet('{canonical}')")
    (body,) = con.execute(f"SELECT string_agg(h || chr(10), '' ORDER BY h) FROM ({rows_sql})").fetchone()
    independent = "sha256:" + hashlib.sha256(header_bytes(cols) + body.encode()).hexdigest()
    assert independent == ours
    # and row by row, with plain Python over DuckDB's text rendering of the cells
    texts = con.execute(
        f"SELECT {', '.join(f'CAST({c} AS VARCHAR)' for c in cols)} FROM read_parquet('{canonical}')"
    ).fetchall()
    hashes = sorted(hashlib.sha256("".join(enc(v) for v in row).encode()).hexdigest() for row in texts)
    manual = hashlib.sha256(
        (
            "dataex-digest/1\n" + "".join(enc(c) for c in cols) + "\n" + "".join(h + "\n" for h in hashes)
        ).encode()
    ).hexdigest()
    assert "sha256:" + manual == ours


def test_enc_is_length_prefixed_in_utf8_bytes() -> None:
    assert enc(None) == "-"
    assert enc("") == "0:"
    assert enc("门诊") == "6:门诊"
    assert enc("-") == "1:-"


def test_schema_hash_covers_names_and_types() -> None:
    a = schema_hash([("id", "BIGINT"), ("name", "VARCHAR")])
    assert a != schema_hash([("id", "INTEGER"), ("name", "VARCHAR")])
    assert a != schema_hash([("id", "BIGINT"), ("nm", "VARCHAR")])
    assert a == schema_hash([("id", "BIGINT"), ("name", "VARCHAR")])


def _signature_of(values: list[int]) -> bytes:
    import numpy as np

    b = OnePermutationBuilder()
    b.update(np.array(values, dtype=np.uint64))
    return b.signature()


def test_minhash_estimates_jaccard_of_row_sets() -> None:
    # 64-bit row-hash prefixes of two overlapping sets (true Jaccard 0.5 and 0.9)
    universe = [int.from_bytes(hashlib.sha256(str(i).encode()).digest()[:8], "big") for i in range(30_000)]
    a, b = universe[:20_000], universe[10_000:30_000]
    assert abs(similarity(_signature_of(a), _signature_of(b)) - 1 / 3) < 0.12
    c = universe[:18_000] + universe[20_000:22_000]
    assert abs(similarity(_signature_of(universe[:20_000]), _signature_of(c)) - 18 / 22) < 0.1
    assert similarity(_signature_of(a), _signature_of(a)) == 1.0
    assert len(_signature_of(a)) == 8 * NUM_BINS


def test_minhash_of_tiny_tables_is_densified() -> None:
    one = [int.from_bytes(hashlib.sha256(b"x").digest()[:8], "big")]
    two = [int.from_bytes(hashlib.sha256(b"y").digest()[:8], "big")]
    assert similarity(_signature_of(one), _signature_of(one)) == 1.0
    assert similarity(_signature_of(one), _signature_of(two)) < 0.2


def test_digest_streams_sorted_prefixes_like_the_unsorted_builder(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "t.parquet", ROWS * 1)
    fp = digest_parquet(src, COLUMNS, con=connect())
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    hs = [r[0] for r in con.execute(row_hash_sql(COLUMNS, f"read_parquet('{src}')")).fetchall()]
    assert fp.rows == 4
    assert fp.minhash == _signature_of([int(h[:16], 16) for h in hs])


def test_the_digest_connection_draws_no_progress_bar() -> None:
    con = connect()
    try:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()
