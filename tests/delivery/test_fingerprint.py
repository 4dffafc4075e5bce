"""The ``dx-fp-2`` and ``dx-fp-1`` schemes are pinned: copies already delivered must stay traceable.

The row keys and marks of a fixed table are compared with digests recorded from the first
implementation of each scheme, the text hash and the dx-fp-2 marks with the formulas of
docs/delivery.md written out in plain Python, and embedding in chunks on several threads with
embedding in one piece.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dataex.delivery import tardos
from dataex.delivery.fingerprint import LEGACY_SCHEME, Tolerance, embed, identity_columns
from dataex.delivery.rowkey import column_hash, derive_u64, row_keys, source_decimals, stream_u64

SECRET = bytes(range(32))
TOLERANCES = [
    Tolerance("cost", 1, 2, "number"),
    Tolerance("units", 1, 0, "number"),
    Tolerance("paid_at", 1, 0, "timestamp"),
]
MASK = (1 << 64) - 1


def scheme_table(n: int = 50_000) -> pa.Table:
    """Every kind of identity column, and text that takes each path of the text hash."""
    words = ["", "a", "éé", "北京市朝阳区", "hello world", "零一二三"]

    def text(i: int) -> str | None:
        return None if i % 17 == 0 else words[i % len(words)] + str(i * 7919 % 100_003)

    start, paid = dt.datetime(2024, 1, 1), dt.datetime(2025, 3, 1)
    return pa.table(
        {
            "id": pa.array([f"P{i:07d}" for i in range(n)]),  # one length
            "name": pa.array([text(i) for i in range(n)]),  # short, many lengths, nulls
            "note": pa.array(
                [("x" * (600 + i % 5000)) + str(i) if i % 50 == 0 else str(i) for i in range(n)]
            ),
            "ward": pa.array([["内科", "外科", None, "儿科"][i % 4] for i in range(n)]),  # few values
            "age": pa.array([None if i % 13 == 0 else i % 97 for i in range(n)], pa.int32()),
            "score": pa.array([round((i * 37 % 1000) / 8, 3) for i in range(n)]),
            "flag": pa.array([i % 3 == 0 for i in range(n)]),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 400) for i in range(n)]),
            "seen": pa.array(
                [start + dt.timedelta(seconds=i * 7777, microseconds=i) for i in range(n)],
                pa.timestamp("us", tz="Asia/Shanghai"),
            ),
            "cost": pa.array(
                [None if i % 29 == 0 else round((i * 104729 % 500000) / 100, 2) for i in range(n)]
            ),
            "units": pa.array([i * 31 % 50 for i in range(n)], pa.int64()),
            "paid_at": pa.array([paid + dt.timedelta(seconds=i * 613) for i in range(n)], pa.timestamp("ms")),
        }
    )


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return scheme_table()


def marks_digest(marked: pa.Table) -> str:
    h = hashlib.sha256()
    for tol in TOLERANCES:
        h.update(str(marked[tol.column].to_pylist()).encode())
    return h.hexdigest()


def test_row_keys_and_marks_are_those_of_dx_fp_1(table: pa.Table) -> None:
    keys = row_keys(table, identity_columns(table, TOLERANCES), SECRET, source_decimals(table))
    digest = hashlib.sha256(keys.astype(">u8").tobytes()).hexdigest()
    assert digest == "a3381ecef016b0b5dd8bd95da4108b80fc78dd72f884f8393ab90b1c9624a854"
    p = tardos.biases(SECRET, tardos.LEGACY_CODE_LENGTH)
    codeword = tardos.codeword(SECRET, "ctr_golden", p)
    out = embed(table, secret=SECRET, tolerances=TOLERANCES, codeword=codeword, scheme=LEGACY_SCHEME)
    assert (out.marked_cells, out.changed_cells) == (74029, 37161)
    assert marks_digest(out.table) == "3ca3fc3542df3c36e0224f2362d7b1ca5811a207ad3308dcc65646a3307b51fe"


def test_the_marks_are_those_of_dx_fp_2(table: pa.Table) -> None:
    codeword = tardos.codeword(SECRET, "ctr_golden", tardos.biases(SECRET))
    out = embed(table, secret=SECRET, tolerances=TOLERANCES, codeword=codeword)
    assert (out.marked_cells, out.changed_cells) == (147275, 147275)
    assert marks_digest(out.table) == "6959346de92396d84f8ebc2483b342f357e1646d5e929b7ed940af943a903bff"


def test_dx_fp_2_marks_are_the_documented_formula(table: pa.Table) -> None:
    """docs/delivery.md: position ``mix(K ⊕ s_pos2(c)) mod m``, ``v ± δ`` as ``X_j ⊕ r``."""
    n = 3000
    part = table.slice(0, n)
    keys = [int(k) for k in row_keys(part, identity_columns(part, TOLERANCES), SECRET, source_decimals(part))]
    codeword = tardos.codeword(SECRET, "ctr_formula", tardos.biases(SECRET))
    out = embed(part, secret=SECRET, tolerances=TOLERANCES, codeword=codeword)
    for tol in TOLERANCES:
        pos_key, flip_key = (
            int(derive_u64(SECRET, f"pos2:{tol.column}")),
            int(derive_u64(SECRET, f"flip:{tol.column}")),
        )
        before, after = part[tol.column].to_pylist(), out.table[tol.column].to_pylist()
        for k, old, new in zip(keys, before, after, strict=True):
            if old is None:
                assert new is None
                continue
            if tol.kind == "timestamp":
                v, got = old, (new - old).total_seconds()
            else:
                v = round(old * 10**tol.decimals)
                got = round(new * 10**tol.decimals) - v
            if tol.kind == "number" and 0 <= v < tol.units:
                assert got == 0
                continue
            j = documented_mix(k ^ pos_key) % tardos.CODE_LENGTH
            r = documented_mix(k ^ flip_key) & 1
            assert got == (tol.units if bool(codeword[j]) ^ bool(r) else -tol.units)


def documented_text_hash(value: str | None) -> int:
    """docs/delivery.md: ``mix(mix(Σ_i (byte_i + 1)·W[min(i, 4095)] mod 2⁶⁴ ⊕ s) + length)``."""
    weights = [int(w) | 1 for w in stream_u64(SECRET, "bytes", 4096)]
    salt = int(derive_u64(SECRET, "string"))
    data = (value or "").encode()
    total = sum((b + 1) * weights[min(i, 4095)] for i, b in enumerate(data)) & MASK
    return documented_mix((documented_mix(total ^ salt) + len(data)) & MASK)


def documented_mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


@pytest.mark.parametrize(
    "values",
    [
        ["V000000001", "V000000002", "V000000003"],  # one length
        ["", None, "a", "北京市", "hello world"],  # many lengths
        ["short", "y" * 5000, "z" * 513],  # past the position-by-position limit and past W
    ],
)
def test_the_text_hash_is_the_documented_formula(values: list[str | None]) -> None:
    got = column_hash(pa.array(values, pa.string()), pa.string(), SECRET, 0)
    assert [int(h) for h in got] == [documented_text_hash(v) for v in values]


def test_chunks_and_threads_do_not_change_the_marks(table: pa.Table) -> None:
    codeword = tardos.codeword(SECRET, "ctr_chunks", tardos.biases(SECRET))
    whole = embed(table, secret=SECRET, tolerances=TOLERANCES, codeword=codeword, workers=1, chunk_rows=10**9)
    chunked = embed(
        table, secret=SECRET, tolerances=TOLERANCES, codeword=codeword, workers=2, chunk_rows=7001
    )
    assert chunked.table.equals(whole.table)
    assert (chunked.marked_cells, chunked.changed_cells) == (whole.marked_cells, whole.changed_cells)
    unmarked = [c for c in table.column_names if c not in {t.column for t in TOLERANCES}]
    assert chunked.table.select(unmarked).equals(table.select(unmarked))
    changed = np.asarray(pc.not_equal(chunked.table["cost"], table["cost"]).fill_null(False))
    markable = np.asarray(pc.not_equal(table["cost"], 0.0).fill_null(False))  # dx-fp-2: every one
    assert (changed == markable).all()
