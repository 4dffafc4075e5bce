"""Keyed fingerprint marks in tolerable cells: cell selection, embedding and reading.

Everything pseudo-random is derived from the node's fingerprint secret (``<home>/fingerprint.key``,
32 bytes, mode 0600, created on first use with ``O_EXCL``) by HMAC-SHA-256; nothing here uses
``random``. The scheme (``dx-fp-1``, see docs/delivery.md):

* **Row identity** (:mod:`dataex.delivery.rowkey`). Every column that is not tolerable is an
  *identity column*. Each identity cell is canonicalized and hashed with a keyed 64-bit hash; the
  row key ``K`` folds the column hashes in source order. ``K`` depends on values only, so it
  survives shuffling, subsetting, renaming and reordering of columns.
* **Selection.** Cell (row ``K``, tolerable column ``c``) is marked iff ``mix(K ⊕ s_sel(c)) <
  γ·2⁶⁴`` (γ = 1/2); it carries code position ``mix(K ⊕ s_pos(c)) mod m``.
* **Embedding.** A marked cell's value ``v`` in units of its last digit gets parity equal to the
  contract's code bit at that position: unchanged when it already has it, else moved by one unit
  (direction keyed, never below zero for a non-negative value). Reading needs no original.

Embedding works on row chunks of :data:`EMBED_ROWS` rows, on up to :data:`WORKERS` threads (the
scheme is row by row, so the result does not depend on the chunking).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dataex.delivery.rowkey import (
    I64,
    MAX_DECIMALS,
    U64,
    column_hash,
    decimals_of,
    derive,
    derive_u64,
    fold,
    mix,
    mix_inplace,
    numeric_kind,
    row_keys,
    scaled,
    source_decimals,
    stream_u64,
)
from dataex.errors import InvalidInput
from dataex.identity import keys

__all__ = [
    "GAMMA",
    "I64",
    "MAX_DECIMALS",
    "SCHEME",
    "U64",
    "Embedded",
    "Selection",
    "Tolerance",
    "column_hash",
    "decimals_of",
    "derive",
    "derive_u64",
    "embed",
    "fold",
    "identity_columns",
    "load_or_create_secret",
    "mix",
    "numeric_kind",
    "read_bits",
    "row_keys",
    "scaled",
    "select_cells",
    "source_decimals",
    "stream_u64",
]

SECRET_FILE: Final = "fingerprint.key"  # noqa: S105 - a file name, not a secret
SECRET_BYTES: Final = 32
SCHEME: Final = "dx-fp-1"
GAMMA: Final = 0.5
"""The probability that a tolerable cell is marked."""
EMBED_ROWS: Final = 1 << 17
"""Rows per embedding chunk."""
WORKERS: Final = 4
"""At most this many embedding threads (never more than the machine's cores)."""

Kind = Literal["number", "timestamp"]
_THRESHOLD: Final = np.uint64(int(GAMMA * 2**64) - 1)


@dataclass(frozen=True)
class Tolerance:
    """A column a mark may change by up to ``units`` units of its last digit (``10**-decimals``)."""

    column: str
    units: int
    decimals: int
    kind: Kind

    def to_dict(self) -> dict[str, int | str]:
        return {"units": self.units, "decimals": self.decimals, "kind": self.kind}


def load_or_create_secret(home: Path) -> bytes:
    """The node's fingerprint secret: ``<home>/fingerprint.key`` (created on first use, mode 0600)."""
    return keys.load_or_create_secret(home / SECRET_FILE, SECRET_BYTES)


# -- selection, embedding, reading -----------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """The marked cells of one tolerable column: their rows, code positions and change directions."""

    rows: I64
    position: I64
    up: npt.NDArray[np.bool_]


def select_cells(
    keys: U64, column: str, secret: bytes, code_length: int, skip: npt.NDArray[np.bool_] | None = None
) -> Selection:
    """The cells of ``column`` that carry a mark (rows flagged in ``skip``, e.g. nulls, excepted)."""
    h = keys ^ derive_u64(secret, f"sel:{column}")
    mix_inplace(h)
    marked = h < _THRESHOLD
    if skip is not None:
        marked &= ~skip
    rows = np.flatnonzero(marked).astype(np.int64)
    chosen = keys[rows]
    position = mix(chosen ^ derive_u64(secret, f"pos:{column}")) % np.uint64(code_length)
    up = (mix(chosen ^ derive_u64(secret, f"dir:{column}")) & np.uint64(1)).astype(bool)
    return Selection(rows, position.astype(np.int64), up)


def identity_columns(table: pa.Table, tolerances: Sequence[Tolerance]) -> list[str]:
    tolerable = {t.column for t in tolerances}
    return [c for c in table.column_names if c not in tolerable]


@dataclass(frozen=True)
class Embedded:
    table: pa.Table
    marked_cells: int
    changed_cells: int


@dataclass(frozen=True)
class _Marked:
    column: pa.Array
    marked: int
    changed: int


def embed(
    table: pa.Table,
    *,
    secret: bytes,
    tolerances: Sequence[Tolerance],
    codeword: npt.NDArray[np.bool_],
    workers: int | None = None,
    chunk_rows: int = EMBED_ROWS,
    decimals: dict[str, int] | None = None,
) -> Embedded:
    """Returns ``table`` with the contract's codeword embedded in its tolerable cells.

    ``workers`` threads (default: up to :data:`WORKERS`, at most the machine's cores) embed row
    chunks of ``chunk_rows`` rows; the result is the same for any chunking. ``decimals``: those of
    the whole source's float columns (:func:`source_decimals`), when ``table`` is one batch of it.
    """
    if not tolerances:
        raise InvalidInput("no tolerable columns: a fingerprint needs at least one")
    if decimals is None:
        decimals = source_decimals(table)
    identity = identity_columns(table, tolerances)

    def chunk(start: int) -> list[_Marked]:
        part = table.slice(start, chunk_rows)
        keys = row_keys(part, identity, secret, decimals)
        return [
            _embed_column(part[t.column], table.schema.field(t.column).type, keys, t, secret, codeword)
            for t in tolerances
        ]

    starts = range(0, max(table.num_rows, 1), chunk_rows)
    threads = min(workers or WORKERS, os.cpu_count() or 1, len(starts))
    if threads > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="dataex-embed") as pool:
            parts = list(pool.map(chunk, starts))
    else:
        parts = [chunk(s) for s in starts]
    marked_total = changed_total = 0
    for i, tol in enumerate(tolerances):
        field = table.schema.field(tol.column)
        pieces = [p[i] for p in parts]
        marked_total += sum(p.marked for p in pieces)
        changed_total += sum(p.changed for p in pieces)
        column = pa.chunked_array([p.column for p in pieces], type=field.type)
        table = table.set_column(table.schema.get_field_index(tol.column), field, column)
    return Embedded(table, marked_total, changed_total)


def _embed_column(
    column: pa.ChunkedArray,
    t: pa.DataType,
    keys: U64,
    tol: Tolerance,
    secret: bytes,
    codeword: npt.NDArray[np.bool_],
) -> _Marked:
    """One chunk of one tolerable column with the codeword's bits set in its marked cells."""
    values, nulls = scaled(column, t, tol.decimals)
    sel = select_cells(keys, tol.column, secret, len(codeword), skip=nulls)
    v = values[sel.rows]
    flip = (v & 1) != codeword[sel.position]
    step = np.where((v[flip] > 0) & ~sel.up[flip], -1, 1).astype(np.int64)
    rows = sel.rows[flip]
    base = column.combine_chunks()
    return _Marked(_restore(base, t, rows, v[flip] + step, step, tol), len(sel.rows), len(rows))


def _restore(base: pa.Array, t: pa.DataType, rows: I64, new: I64, step: I64, tol: Tolerance) -> pa.Array:
    """``base`` with the cells at ``rows`` set to ``new`` (in units of the last digit).

    Every other cell keeps its exact original value (and bytes).
    """
    if len(rows) == 0:
        return base
    mask = np.zeros(len(base), dtype=bool)
    mask[rows] = True
    kind = numeric_kind(t)
    if kind == "timestamp":
        us_type = pa.timestamp("us", tz=getattr(t, "tz", None))
        us = base.take(pa.array(rows)).cast(us_type).cast(pa.int64())
        replacement = pc.add(us, pa.array(step * 1_000_000)).cast(us_type).cast(t)
    elif kind == "int":
        replacement = pa.array(new).cast(t)
    else:
        replacement = pa.array(new.astype(np.float64) / 10.0**tol.decimals).cast(t)
    return pc.replace_with_mask(base, pa.array(mask), replacement)


def read_bits(values: I64, keys: U64, column: str, secret: bytes, code_length: int) -> tuple[I64, I64]:
    """The code positions and bits a (leaked) column carries in its marked cells."""
    sel = select_cells(keys, column, secret, code_length)
    return sel.position, (values[sel.rows] & 1)
