"""Keyed fingerprint marks in tolerable cells: cell selection, embedding and reading.

Everything pseudo-random is derived from the node's fingerprint secret (``<home>/fingerprint.key``,
32 bytes, mode 0600, created on first use with ``O_EXCL``) by HMAC-SHA-256; nothing here uses
``random``. The scheme (``dx-fp-2``, see docs/delivery.md) is **non-blind and signed**: the node
keeps the original, so a mark is a signed move and is read by comparing with the original.

* **Row identity** (:mod:`dataex.delivery.rowkey`). Every column that is not tolerable is an
  *identity column*. Each identity cell is canonicalized and hashed with a keyed 64-bit hash; the
  row key ``K`` folds the column hashes in source order. ``K`` depends on values only, so it
  survives shuffling, subsetting, renaming and reordering of columns.
* **Cells.** Every non-null cell (row ``K``, tolerable column ``c``) whose value ``v`` (in units of
  its last digit) can move by ``δ`` (the declared units) both ways is marked; it carries code
  position ``mix(K ⊕ s_pos(c)) mod m`` and a keyed dither bit ``r = mix(K ⊕ s_flip(c)) & 1``.
* **Embedding.** ``v ← v + δ`` when ``X_j ⊕ r = 1``, else ``v − δ``: every marked cell moves by
  exactly the declared tolerance.
* **Reading** (:func:`read_signed`). The leaked value ``y`` against the original ``v``: on the
  original grid ``z = clip((y − v)/δ, −1, 1)``; on a coarser grid ``q`` (the leaker rounded),
  ``z = [|y − (v+δ)| <= q/2] − [|y − (v−δ)| <= q/2]``; the cell's estimate of ``2X_j − 1`` is
  ``z·(1 − 2r)``.

``dx-fp-1`` (parity of the last digit, read blind; γ = 1/2, m = 1,024) is kept to trace copies
delivered before ``dx-fp-2``: :func:`embed` with ``scheme=LEGACY_SCHEME`` and :func:`read_bits`.

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
    "F64",
    "GAMMA",
    "I64",
    "LEGACY_GAMMA",
    "LEGACY_SCHEME",
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
    "grid_of",
    "identity_columns",
    "load_or_create_secret",
    "markable",
    "mix",
    "numeric_kind",
    "read_bits",
    "read_signed",
    "row_keys",
    "scaled",
    "select_cells",
    "signed_cells",
    "source_decimals",
    "stream_u64",
    "units_of",
]

SECRET_FILE: Final = "fingerprint.key"  # noqa: S105 - a file name, not a secret
SECRET_BYTES: Final = 32
SCHEME: Final = "dx-fp-2"
LEGACY_SCHEME: Final = "dx-fp-1"
SCHEMES: Final = (SCHEME, LEGACY_SCHEME)
GAMMA: Final = 1.0
"""dx-fp-2 marks every tolerable cell that can move by the tolerance both ways."""
LEGACY_GAMMA: Final = 0.5
"""dx-fp-1: the probability that a tolerable cell is marked."""
GRID_SHARE: Final = 0.9
"""A leaked column is on a grid ``q`` when at least this share of its values are multiples of ``q``."""
EMBED_ROWS: Final = 1 << 17
"""Rows per embedding chunk."""
WORKERS: Final = 4
"""At most this many embedding threads (never more than the machine's cores)."""

Kind = Literal["number", "timestamp"]
F64 = npt.NDArray[np.float64]
_THRESHOLD: Final = np.uint64(int(LEGACY_GAMMA * 2**64) - 1)


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
    """The marked cells of one tolerable column: their rows, code positions and keyed bits.

    ``up``: dx-fp-1's change direction; dx-fp-2's dither bit ``r``.
    """

    rows: I64
    position: I64
    up: npt.NDArray[np.bool_]


def select_cells(
    keys: U64, column: str, secret: bytes, code_length: int, skip: npt.NDArray[np.bool_] | None = None
) -> Selection:
    """dx-fp-1: the cells of ``column`` that carry a mark (rows flagged in ``skip``, e.g. nulls, excepted)."""
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


def markable(
    values: I64, nulls: npt.NDArray[np.bool_], t: pa.DataType, tol: Tolerance
) -> npt.NDArray[np.bool_]:
    """dx-fp-2: cells that can move by ``δ`` both ways (``values`` in units, from the original).

    Not a null; a non-negative number stays non-negative (``0 <= v < δ`` is skipped); an integer
    stays inside its type.
    """
    ok = ~nulls
    if tol.kind == "number":
        ok &= ~((values >= 0) & (values < tol.units))
    if pa.types.is_integer(t):
        info = np.iinfo(np.dtype(t.to_pandas_dtype()))
        low, high = max(int(info.min), -(2**62)), min(int(info.max), 2**62)
        ok &= (values >= low + tol.units) & (values <= high - tol.units)
    return np.asarray(ok, dtype=bool)


def signed_cells(
    keys: U64, column: str, secret: bytes, code_length: int, mark: npt.NDArray[np.bool_]
) -> Selection:
    """dx-fp-2: the marked cells (``mark``), their code positions and dither bits ``r``."""
    rows = np.flatnonzero(mark).astype(np.int64)
    chosen = keys[rows]
    position = mix(chosen ^ derive_u64(secret, f"pos2:{column}")) % np.uint64(code_length)
    flip = (mix(chosen ^ derive_u64(secret, f"flip:{column}")) & np.uint64(1)).astype(bool)
    return Selection(rows, position.astype(np.int64), flip)


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
    scheme: str = SCHEME,
) -> Embedded:
    """Returns ``table`` with the contract's codeword embedded in its tolerable cells.

    ``workers`` threads (default: up to :data:`WORKERS`, at most the machine's cores) embed row
    chunks of ``chunk_rows`` rows; the result is the same for any chunking. ``decimals``: those of
    the whole source's float columns (:func:`source_decimals`), when ``table`` is one batch of it.
    ``scheme``: :data:`SCHEME`, or :data:`LEGACY_SCHEME` (kept to test tracing of old copies).
    """
    if not tolerances:
        raise InvalidInput("no tolerable columns: a fingerprint needs at least one")
    if scheme not in SCHEMES:
        raise InvalidInput(f"unknown fingerprint scheme {scheme!r}")
    if decimals is None:
        decimals = source_decimals(table)
    identity = identity_columns(table, tolerances)
    mark_column = _embed_signed_column if scheme == SCHEME else _embed_parity_column

    def chunk(start: int) -> list[_Marked]:
        part = table.slice(start, chunk_rows)
        keys = row_keys(part, identity, secret, decimals)
        return [
            mark_column(part[t.column], table.schema.field(t.column).type, keys, t, secret, codeword)
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


def _embed_signed_column(
    column: pa.ChunkedArray,
    t: pa.DataType,
    keys: U64,
    tol: Tolerance,
    secret: bytes,
    codeword: npt.NDArray[np.bool_],
) -> _Marked:
    """dx-fp-2: every markable cell moved by ``±δ``, the sign ``X_j ⊕ r``."""
    values, nulls = scaled(column, t, tol.decimals)
    sel = signed_cells(keys, tol.column, secret, len(codeword), markable(values, nulls, t, tol))
    step = np.where(codeword[sel.position] ^ sel.up, tol.units, -tol.units).astype(np.int64)
    base = column.combine_chunks()
    new = _restore(base, t, sel.rows, values[sel.rows] + step, step, tol)
    return _Marked(new, len(sel.rows), len(sel.rows))


def _embed_parity_column(
    column: pa.ChunkedArray,
    t: pa.DataType,
    keys: U64,
    tol: Tolerance,
    secret: bytes,
    codeword: npt.NDArray[np.bool_],
) -> _Marked:
    """dx-fp-1: one chunk of one tolerable column with the codeword's bits as parities."""
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
    """dx-fp-1: the code positions and bits a (leaked) column carries in its marked cells."""
    sel = select_cells(keys, column, secret, code_length)
    return sel.position, (values[sel.rows] & 1)


def units_of(
    column: pa.ChunkedArray | pa.Array, t: pa.DataType, decimals: int
) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Values in units of their last digit, *not* rounded (timestamps: seconds), and the null mask.

    A leaker's averages (``v + δ/3``) stay visible; NaN and ±∞ read as null.
    """
    arr = column.cast(t, safe=False) if column.type != t else column
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if numeric_kind(t) == "timestamp":
        us = arr.cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(pa.int64())
        out = np.asarray(pc.fill_null(us, 0).to_numpy(), dtype=np.int64).astype(np.float64) / 1e6
    else:
        raw = np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy(), dtype=np.float64)
        out = raw * 10.0**decimals if numeric_kind(t) == "float" else raw
    bad = ~np.isfinite(out)
    return np.where(bad, 0.0, out), nulls | bad


def grid_of(values: F64) -> int:
    """The coarsest grid ``q = 10^k`` (k <= 6, in units) that :data:`GRID_SHARE` of ``values`` sit on."""
    if len(values) == 0:
        return 1
    for k in range(MAX_DECIMALS, 0, -1):
        q = 10.0**k
        ratio = values / q
        if float(np.mean(np.abs(ratio - np.rint(ratio)) < 1e-4)) >= GRID_SHARE:
            return int(q)
    return 1


def read_signed(
    leaked: F64,
    original: F64,
    selection: Selection,
    tol: Tolerance,
    grid: int,
) -> tuple[I64, F64]:
    """dx-fp-2: the code positions of ``selection``'s cells and each cell's estimate of ``2X_j − 1``.

    ``leaked``/``original``: the joined rows' leaked values (units, unrounded) and original values
    (units, :func:`units_of`); ``selection``: :func:`signed_cells` of the rows' keys over the
    markable originals; ``grid``: :func:`grid_of` the leaked column.
    Each estimate is in [−1, 1]; 0 tells nothing.
    """
    y = leaked[selection.rows]
    v = original[selection.rows]
    delta = float(tol.units)
    if grid <= 1:
        z = np.clip((y - v) / delta, -1.0, 1.0)
    else:
        half = grid / 2 + 1e-6
        z = (np.abs(y - (v + delta)) <= half).astype(np.float64) - (np.abs(y - (v - delta)) <= half)
    return selection.position, np.where(selection.up, -z, z)
