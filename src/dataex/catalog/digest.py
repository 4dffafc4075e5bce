"""The dataset digest: a SHA-256 identity of a table that ignores row order and file format.

The definition (docs/digest.md gives it in full, with a DuckDB query that recomputes it):

* every cell is rendered as text with DuckDB's ``CAST(cell AS VARCHAR)`` (session time zone UTC);
* ``enc(NULL) = "-"`` and ``enc(s) = <byte length of s in UTF-8> ":" s``;
* a row's text is the concatenation of ``enc(cell)`` over the columns in order, and its hash is the
  lower-case hex SHA-256 of that text;
* the digest is ``"sha256:" + hex(SHA-256(header || h_1 "\\n" || h_2 "\\n" || ... ))`` where
  ``header = "dataex-digest/1\\n" || concat(enc(column name)) || "\\n"`` and ``h_1 <= h_2 <= ...`` are
  the row hashes sorted (duplicates kept).

The same stream of sorted row hashes also yields the dataset's MinHash signature (originality
check), so a registration reads the canonical file once for both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from dataex.catalog.minhash import OnePermutationBuilder
from dataex.engines.duckdb import quiet_connect
from dataex.engines.sql import quote_ident, quote_literal

DIGEST_HEADER = "dataex-digest/1\n"
SCHEMA_HEADER = "dataex-schema/1\n"
BATCH_ROWS = 1 << 18
_LINE = 65  # 64 hex digits and "\n"
WIDE = 100
"""Above this many columns DuckDB's optimizer is turned off for the digest query: planning a
projection of thousands of expressions costs seconds (superlinear) and gains nothing here."""


@contextmanager
def without_optimizer(con: duckdb.DuckDBPyConnection, off: bool) -> Iterator[None]:
    """Plans the queries of the block with DuckDB's optimizer off when ``off`` (same results)."""
    if not off:
        yield
        return
    con.execute("PRAGMA disable_optimizer")
    try:
        yield
    finally:
        con.execute("PRAGMA enable_optimizer")


def enc(value: str | None) -> str:
    """Length-prefixed text of one value: ``-`` for NULL, else ``<utf-8 byte length>:<value>``."""
    if value is None:
        return "-"
    return f"{len(value.encode('utf-8'))}:{value}"


def row_hash_sql(columns: Sequence[str], source: str) -> str:
    """A DuckDB query yielding column ``h``: the hex SHA-256 of each row's canonical text."""
    casts = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS v{i}" for i, c in enumerate(columns))
    cells = ", ".join(
        f"coalesce(CAST(strlen(v{i}) AS VARCHAR) || ':' || v{i}, '-')" for i in range(len(columns))
    )
    return f"SELECT sha256(concat({cells})) AS h FROM (SELECT {casts} FROM {source})"


def header_bytes(columns: Sequence[str]) -> bytes:
    return (DIGEST_HEADER + "".join(enc(c) for c in columns) + "\n").encode("utf-8")


def schema_hash(columns: Sequence[tuple[str, str]]) -> str:
    """``sha256:`` hex of ``"dataex-schema/1\\n" || concat(enc(name) || enc(type)) || "\\n"``."""
    text = SCHEMA_HEADER + "".join(enc(n) + enc(t) for n, t in columns) + "\n"
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TableFingerprint:
    digest: str
    minhash: bytes
    rows: int


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up the way every digest is computed (UTC, quiet)."""
    con = quiet_connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def digest_parquet(
    path: Path, columns: Sequence[str], *, con: duckdb.DuckDBPyConnection | None = None
) -> TableFingerprint:
    """Digest and MinHash signature of a canonical Parquet file, in one streaming pass."""
    con = con or connect()
    source = f"read_parquet({quote_literal(str(path))})"
    sql = f"SELECT h || chr(10) AS line FROM ({row_hash_sql(columns, source)}) ORDER BY line"
    sha = hashlib.sha256(header_bytes(columns))
    builder = OnePermutationBuilder()
    rows = 0
    with without_optimizer(con, len(columns) > WIDE):
        for batch in con.sql(sql).to_arrow_reader(BATCH_ROWS):
            col = batch.column(0)
            if len(col) == 0:
                continue
            offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)
            start, end = int(offsets[col.offset]), int(offsets[col.offset + len(col)])
            data = memoryview(col.buffers()[2])[start:end]
            sha.update(data)
            builder.update_sorted(_prefix_u64(data))
            rows += len(col)
    return TableFingerprint(digest="sha256:" + sha.hexdigest(), minhash=builder.signature(), rows=rows)


def _prefix_u64(lines: memoryview) -> np.ndarray:
    """The first 64 bits of each fixed-width hex line, as unsigned integers."""
    arr = np.frombuffer(lines, dtype=np.uint8).reshape(-1, _LINE)[:, :16]
    nibbles = np.where(arr >= ord("a"), arr - (ord("a") - 10), arr - ord("0")).astype(np.uint64)
    weights = np.uint64(16) ** np.arange(15, -1, -1, dtype=np.uint64)
    prefixes: np.ndarray = (nibbles * weights).sum(axis=1, dtype=np.uint64)
    return prefixes
