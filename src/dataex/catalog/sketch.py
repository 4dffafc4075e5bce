"""The originality sketch: a schema-free sample of a table's normalized cell pairs (docs/digest.md).

Exact-row MinHash misses a copy with one value changed per row, a dropped or renamed column or a
reformatted date. This sketch is built to survive those edits:

1. **Normalize** every cell so that formats do not matter: numbers (and text that parses as one)
   become a DOUBLE rounded to ``SIGNIFICANT`` significant digits, printed by DuckDB; dates, timestamps
   and ISO-date text become ``YYYY-MM-DD``; other text is trimmed, lower-cased and stripped of
   accents; NULL, empty and non-finite values are left out.
2. **Choose columns without names**: the ``COLUMNS`` columns with the most distinct normalized
   values (at least 2), ties broken by content (the smallest value hash), never by name or position.
3. **Tokens**: for every row and every pair of chosen columns, the unordered pair of its two
   normalized values, hashed to 64 bits (``hash(least(a, b), greatest(a, b))``). A copy with one
   column perturbed keeps every pair that does not involve that column; a row subset keeps a
   subset of the pairs; renaming, reordering and row order do not change the pairs.
4. **Sample** consistently: the ``KEEP`` smallest distinct token hashes (bottom-k). Two sketches are
   compared below the smaller of their two thresholds, which estimates the share of one table's
   distinct pairs found in the other (containment) without holding either table. The number of
   distinct tokens is the KMV estimate ``(KEEP - 1) / (largest kept hash / 2**64)`` (exact when
   fewer than ``KEEP``).

Hashes are DuckDB's 64-bit ``hash`` (about 10x cheaper than MD5 per token); it is not promised
stable across DuckDB versions, so each sketch records a canary (the hash of a fixed string) and a
sketch with another canary is recomputed from the canonical file before it is compared.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from dataex.engines.duckdb import quiet_connect
from dataex.engines.sql import FRACTIONAL_TYPES, INTEGER_TYPES, quote_ident, quote_literal

VERSION = 1
COLUMNS = 10
"""How many columns the pairs are drawn from (45 pairs per row)."""
KEEP = 4096
"""How many of the smallest distinct token hashes a sketch keeps (32 KiB)."""
SIGNIFICANT = 3
"""Numbers are compared at this many significant digits (37.62 and 37.6 agree; 37 and 38 do not)."""
MIN_TOKENS = 50
"""A table with fewer distinct pairs than this is too small to judge and is not checked."""
MIN_DENSITY = 0.5
"""Tables (new or earlier) whose ``density`` is below this are not judged by their pairs: two
independent samples of the same population share most combinations there (two disjoint halves of
the Adult census extract, density 0.01, overlap at 0.86; two hospitals' patient panels of age,
sex, visit count, cost and a label, density 0.2-0.4, overlap at 0.53-0.62), so overlap is no
evidence of copying. Rows with identifiers, names, dates and amounts have a density near 0.8-0.9."""
_CANARY_TEXT = "dataex-sketch-canary"
_HEADER = struct.Struct("<4sHHQQ")  # magic, version, columns used, canary, distinct-token estimate
_MAGIC = b"dxsk"
_INTEGER = INTEGER_TYPES
_NUMBER = FRACTIONAL_TYPES
_EXACT = 1_000_000
_FULL = 2**64 - 1
_BATCH = 64


@dataclass(frozen=True)
class Sketch:
    hashes: np.ndarray  # sorted uint64, at most KEEP
    tokens: int  # estimated distinct tokens in the whole table
    columns: int  # how many columns the pairs were drawn from
    canary: int

    def to_bytes(self) -> bytes:
        head = _HEADER.pack(_MAGIC, VERSION, self.columns, self.canary, self.tokens)
        return head + self.hashes.astype("<u8").tobytes()

    @classmethod
    def of(cls, data: bytes) -> Sketch:
        magic, version, columns, canary, tokens = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != VERSION:
            raise ValueError("not a dataex originality sketch of this version")
        hashes = np.frombuffer(data[_HEADER.size :], dtype="<u8").astype(np.uint64)
        return cls(hashes, int(tokens), int(columns), int(canary))

    @property
    def complete(self) -> bool:
        """The sketch holds every distinct token of the table."""
        return len(self.hashes) < KEEP


def canary(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT hash({quote_literal(_CANARY_TEXT)})").fetchone()
    assert row is not None
    return int(row[0])


def _number(expr: str) -> str:
    v = f"({expr})"
    return (
        f"CASE WHEN NOT isfinite({v}) THEN NULL WHEN {v} = 0 THEN '0' ELSE CAST(round({v}, "
        f"{SIGNIFICANT - 1} - CAST(floor(log10(abs({v}))) AS INTEGER)) AS VARCHAR) END"
    )


def normalized(column: str, duck_type: str) -> str:
    """SQL for the normalized text of ``column`` (NULL when it has none).

    Whole numbers of 7 or more digits and digit strings with a leading zero are identifiers
    (resident IDs, phone numbers, codes), kept exactly; other numbers are rounded.
    """
    q = quote_ident(column)
    t = duck_type.upper()
    if t.startswith(_INTEGER):
        rounded = _number(f"CAST({q} AS DOUBLE)")
        return f"CASE WHEN abs({q}) >= {_EXACT} THEN CAST({q} AS VARCHAR) ELSE {rounded} END"
    if t.startswith(_NUMBER):
        return _number(f"TRY_CAST({q} AS DOUBLE)")
    if t.startswith(("DATE", "TIMESTAMP")):
        return f"CAST(TRY_CAST({q} AS DATE) AS VARCHAR)"
    text = f"nullif(trim(CAST({q} AS VARCHAR)), '')"
    exact = f"regexp_full_match({text}, '[+-]?0[0-9]+|[+-]?[0-9]{{7,}}')"
    return (
        f"CASE WHEN {exact} THEN {text} ELSE coalesce({_number(f'TRY_CAST({text} AS DOUBLE)')}, "
        f"CAST(TRY_CAST({text} AS DATE) AS VARCHAR), lower(strip_accents({text}))) END"
    )


def sketch_parquet(
    path: Path, columns: Sequence[tuple[str, str]], *, con: duckdb.DuckDBPyConnection | None = None
) -> Sketch:
    """The originality sketch of a canonical Parquet file (two scans, both in DuckDB)."""
    con = con or quiet_connect()
    src = f"read_parquet({quote_literal(str(path))})"
    norms = [normalized(n, t) for n, t in columns]
    if not norms:
        return Sketch(np.empty(0, dtype=np.uint64), 0, 0, canary(con))
    row: list[Any] = []
    for start in range(0, len(norms), _BATCH):  # planning cost grows faster than the column count
        stats = ", ".join(
            f"approx_count_distinct({e}), min(hash({e}))" for e in norms[start : start + _BATCH]
        )
        got = con.execute(f"SELECT {stats} FROM {src}").fetchone()
        assert got is not None
        row.extend(got)
    ranked = sorted(
        (-int(row[2 * i]), int(row[2 * i + 1] or 0), i) for i in range(len(norms)) if int(row[2 * i]) >= 2
    )
    chosen = [norms[i] for _, _, i in ranked[:COLUMNS]]
    if not chosen:
        return Sketch(np.empty(0, dtype=np.uint64), 0, 0, canary(con))
    inner = ", ".join(f"{e} AS n{k}" for k, e in enumerate(chosen))
    if len(chosen) == 1:
        tokens = "SELECT hash(n0) AS h FROM n WHERE n0 IS NOT NULL"
    else:
        tokens = " UNION ALL ".join(
            f"SELECT hash(least(n{a}, n{b}), greatest(n{a}, n{b})) AS h FROM n "
            f"WHERE n{a} IS NOT NULL AND n{b} IS NOT NULL"
            for a in range(len(chosen))
            for b in range(a + 1, len(chosen))
        )
    counted = con.execute(f"SELECT count(*) FROM {src}").fetchone()
    pairs = max(1, len(chosen) * (len(chosen) - 1) // 2)
    most = max(1, (int(counted[0]) if counted else 0) * pairs)
    # keep only hashes below a cut that leaves about 8 x KEEP of the at most ``most`` distinct
    # tokens: the sort then handles thousands of hashes instead of tens of millions; when fewer
    # than KEEP survive (many repeated tokens) the whole set is taken instead
    for cut in (min(_FULL, _FULL * 8 * KEEP // most), _FULL):
        where = f"WHERE h <= {cut}::UBIGINT" if cut < _FULL else ""
        got = con.execute(
            f"WITH n AS MATERIALIZED (SELECT {inner} FROM {src}) SELECT list(h ORDER BY h) FROM "
            f"(SELECT DISTINCT h FROM ({tokens}) {where} ORDER BY h LIMIT {KEEP})"
        ).fetchone()
        hashes = np.array((got[0] if got else None) or [], dtype=np.uint64)
        if len(hashes) == KEEP or cut == _FULL:
            break
    # exact below KEEP, else the KMV estimator of the number of distinct tokens
    kmv = int((KEEP - 1) * (_FULL / max(1, int(hashes[-1])))) if len(hashes) else 0
    estimate = len(hashes) if len(hashes) < KEEP else kmv
    return Sketch(hashes, estimate, len(chosen), canary(con))


def density(sketch: Sketch, rows: int) -> float:
    """Distinct pairs per (row x pair of columns): near 1 when rows are distinguishable by their
    pairs, near 0 for a table of a few categorical columns whose every combination recurs."""
    pairs = max(1, sketch.columns * (sketch.columns - 1) // 2)
    return sketch.tokens / max(1, rows * pairs)


def containment(inner: Sketch, outer: Sketch) -> float | None:
    """Estimated share of ``inner``'s distinct tokens that ``outer`` holds; None when too small."""
    if inner.tokens < MIN_TOKENS or len(inner.hashes) == 0 or len(outer.hashes) == 0:
        return None
    limits = [s.hashes[-1] for s in (inner, outer) if not s.complete]
    a, b = inner.hashes, outer.hashes
    if limits:
        cut = min(limits)
        a, b = a[a <= cut], b[b <= cut]
    if len(a) == 0:
        return None
    return float(len(np.intersect1d(a, b, assume_unique=True)) / len(a))


def overlap(new: Sketch, earlier: Sketch) -> float | None:
    """How much of either table is found in the other: the larger of the two containments."""
    scores = [s for s in (containment(new, earlier), containment(earlier, new)) if s is not None]
    return max(scores) if scores else None
