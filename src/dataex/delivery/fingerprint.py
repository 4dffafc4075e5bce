"""Keyed fingerprint marks in tolerable cells: row identity, cell selection, embedding and reading.

Everything pseudo-random is derived from the node's fingerprint secret (``<home>/fingerprint.key``,
32 bytes, mode 0600, created on first use with ``O_EXCL``) by HMAC-SHA-256; nothing here uses
``random``. The scheme (``dx-fp-1``, see docs/delivery.md):

* **Row identity.** Every column that is not tolerable is an *identity column*. Each identity cell
  is canonicalized (integers, booleans, dates as integers; floats as ``round(x·10^d)`` with ``d``
  the column's decimals; timestamps in microseconds; text as UTF-8) and hashed with a keyed 64-bit
  hash; the row key ``K`` folds the column hashes in source order. ``K`` depends on values only, so
  it survives shuffling, subsetting, renaming and reordering of columns.
* **Selection.** Cell (row ``K``, tolerable column ``c``) is marked iff ``mix(K ⊕ s_sel(c)) <
  γ·2⁶⁴`` (γ = 1/2); it carries code position ``mix(K ⊕ s_pos(c)) mod m``.
* **Embedding.** A marked cell's value ``v`` in units of its last digit gets parity equal to the
  contract's code bit at that position: unchanged when it already has it, else moved by one unit
  (direction keyed, never below zero for a non-negative value). Reading needs no original.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dataex.errors import InvalidInput
from dataex.identity import keys

SECRET_FILE: Final = "fingerprint.key"  # noqa: S105 - a file name, not a secret
SECRET_BYTES: Final = 32
SCHEME: Final = "dx-fp-1"
GAMMA: Final = 0.5
"""The probability that a tolerable cell is marked."""
MAX_DECIMALS: Final = 6
CHUNK: Final = 1 << 20
_WEIGHTS: Final = 4096

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Kind = Literal["number", "timestamp"]


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


def derive(secret: bytes, label: str) -> bytes:
    """A 32-byte sub-key: HMAC-SHA-256(secret, label)."""
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


def derive_u64(secret: bytes, label: str) -> np.uint64:
    return np.uint64(int.from_bytes(derive(secret, label)[:8], "big"))


def stream_u64(secret: bytes, label: str, n: int) -> U64:
    """``n`` pseudo-random 64-bit words: SHAKE-256 of the sub-key for ``label``."""
    raw = hashlib.shake_256(derive(secret, label)).digest(8 * n)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def mix(x: U64) -> U64:
    """The SplitMix64 finalizer: a bijection of 64-bit words with full avalanche."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


# -- canonical values ------------------------------------------------------------------------------
def decimals_of(values: npt.NDArray[np.float64]) -> int:
    """The fewest decimals (<= 6) that represent every finite value exactly."""
    finite = values[np.isfinite(values)]
    for d in range(MAX_DECIMALS + 1):
        scaled = finite * 10.0**d
        if np.all(np.abs(scaled - np.rint(scaled)) < 1e-6):
            return d
    return MAX_DECIMALS


def numeric_kind(t: pa.DataType) -> str | None:
    """``"int"``, ``"float"``, ``"timestamp"`` or None for types a mark cannot change."""
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return None


def scaled(
    column: pa.ChunkedArray | pa.Array, t: pa.DataType, decimals: int
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Values as int64 in units of their last digit (timestamps: seconds), and the null mask."""
    arr = column.cast(t, safe=False) if column.type != t else column
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    kind = numeric_kind(t)
    if kind == "timestamp":
        us = arr.cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(pa.int64())
        raw = np.asarray(pc.fill_null(us, 0).to_numpy(), dtype=np.int64)
        return np.floor_divide(raw, 1_000_000), nulls
    if kind == "int":
        return np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(), dtype=np.int64), nulls
    floats = np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy(), dtype=np.float64)
    floats = np.where(np.isfinite(floats), floats, 0.0)
    return np.rint(floats * 10.0**decimals).astype(np.int64), nulls


def column_hash(column: pa.ChunkedArray | pa.Array, t: pa.DataType, secret: bytes, decimals: int) -> U64:
    """A keyed 64-bit hash of every cell, after casting ``column`` to the source type ``t``."""
    salt = derive_u64(secret, "cell")
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        if pa.types.is_boolean(t):
            ints, nulls = scaled(column.cast(pa.bool_()).cast(pa.int8()), pa.int64(), 0)
        else:
            ints, nulls = scaled(column, t, decimals)
        h = mix(mix(ints.view(np.uint64) ^ salt) + salt)
        h[nulls] = mix(np.array([salt ^ np.uint64(1)], dtype=np.uint64))[0]
        return h
    if pa.types.is_timestamp(t):
        us = column.cast(t, safe=False).cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(pa.int64())
        return _int_hash(us, salt)
    if pa.types.is_date(t):
        return _int_hash(column.cast(t, safe=False).cast(pa.date32()).cast(pa.int32()).cast(pa.int64()), salt)
    return string_hash(column.cast(pa.large_string(), safe=False), secret)


def _int_hash(ints: pa.ChunkedArray | pa.Array, salt: np.uint64) -> U64:
    arr = ints.combine_chunks() if isinstance(ints, pa.ChunkedArray) else ints
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(arr, 0).to_numpy(), dtype=np.int64)
    h = mix(mix(values.view(np.uint64) ^ salt) + salt)
    h[nulls] = mix(np.array([salt ^ np.uint64(1)], dtype=np.uint64))[0]
    return h


def string_hash(column: pa.ChunkedArray | pa.Array, secret: bytes) -> U64:
    """Keyed hash of UTF-8 strings: a secret-weighted sum of bytes mod 2⁶⁴, then ``mix`` (null = "")."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    arr = pc.fill_null(arr, "")
    probe = arr.slice(0, 10_000)
    if len(arr) > 4 * len(probe) and pc.count_distinct(probe).as_py() * 4 < len(probe):
        encoded = pc.dictionary_encode(arr)  # few distinct values: hash each once
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return _bytes_hash(encoded.dictionary, secret)[codes]
    return _bytes_hash(arr, secret)


def _bytes_hash(arr: pa.Array, secret: bytes) -> U64:
    weights = stream_u64(secret, "bytes", _WEIGHTS) | np.uint64(1)
    salt = derive_u64(secret, "string")
    out = np.empty(len(arr), dtype=np.uint64)
    step = CHUNK
    for start in range(0, len(arr), step):
        part = arr.slice(start, step)
        offsets = np.frombuffer(part.buffers()[1], dtype=np.int64)[part.offset : part.offset + len(part) + 1]
        data = (
            np.frombuffer(part.buffers()[2], dtype=np.uint8) if part.buffers()[2] else np.empty(0, np.uint8)
        )
        first, last = int(offsets[0]), int(offsets[-1])
        lengths = np.diff(offsets)
        body = data[first:last].astype(np.uint64) + np.uint64(1)
        within = np.arange(last - first, dtype=np.int64) - np.repeat(offsets[:-1] - first, lengths)
        body *= weights[np.minimum(within, _WEIGHTS - 1)]
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(body, dtype=np.uint64)])
        seg = sums[offsets[1:] - first] - sums[offsets[:-1] - first]
        out[start : start + len(part)] = mix(mix(seg ^ salt) + lengths.astype(np.uint64))
    return out


def fold(hashes: Sequence[U64], secret: bytes, n: int) -> U64:
    """The row key: column hashes folded in order, ``K = mix(K·φ + h)``."""
    k = np.full(n, derive_u64(secret, "row"), dtype=np.uint64)
    for h in hashes:
        k = mix(k * np.uint64(0x9E3779B97F4A7C15) + h)
    return k


# -- selection, embedding, reading -----------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """For each row of one tolerable column: marked?, code position, direction of a change."""

    marked: npt.NDArray[np.bool_]
    position: I64
    up: npt.NDArray[np.bool_]


def select_cells(keys: U64, column: str, secret: bytes, code_length: int) -> Selection:
    threshold = np.uint64(int(GAMMA * 2**64) - 1)
    marked = mix(keys ^ derive_u64(secret, f"sel:{column}")) < threshold
    position = (mix(keys ^ derive_u64(secret, f"pos:{column}")) % np.uint64(code_length)).astype(np.int64)
    up = (mix(keys ^ derive_u64(secret, f"dir:{column}")) & np.uint64(1)).astype(bool)
    return Selection(marked, position, up)


def identity_columns(table: pa.Table, tolerances: Sequence[Tolerance]) -> list[str]:
    tolerable = {t.column for t in tolerances}
    return [c for c in table.column_names if c not in tolerable]


def source_decimals(table: pa.Table) -> dict[str, int]:
    """Decimals of every float column of the source (the canonical scale of its values)."""
    out: dict[str, int] = {}
    for name in table.column_names:
        if pa.types.is_floating(table.schema.field(name).type):
            values = np.asarray(
                pc.fill_null(table[name].cast(pa.float64()), 0.0).to_numpy(), dtype=np.float64
            )
            out[name] = decimals_of(values)
    return out


def row_keys(table: pa.Table, columns: Sequence[str], secret: bytes, decimals: dict[str, int]) -> U64:
    hashes = [column_hash(table[c], table.schema.field(c).type, secret, decimals.get(c, 0)) for c in columns]
    return fold(hashes, secret, table.num_rows)


@dataclass(frozen=True)
class Embedded:
    table: pa.Table
    marked_cells: int
    changed_cells: int


def embed(
    table: pa.Table, *, secret: bytes, tolerances: Sequence[Tolerance], codeword: npt.NDArray[np.bool_]
) -> Embedded:
    """Returns ``table`` with the contract's codeword embedded in its tolerable cells."""
    if not tolerances:
        raise InvalidInput("no tolerable columns: a fingerprint needs at least one")
    decimals = source_decimals(table)
    keys = row_keys(table, identity_columns(table, tolerances), secret, decimals)
    marked_total = changed_total = 0
    for tol in tolerances:
        field = table.schema.field(tol.column)
        values, nulls = scaled(table[tol.column], field.type, tol.decimals)
        sel = select_cells(keys, tol.column, secret, len(codeword))
        marked = sel.marked & ~nulls
        bits = codeword[sel.position].astype(np.int64)
        change = marked & ((values & 1) != bits)
        step = np.where((values > 0) & ~sel.up, -1, 1)
        new = np.where(change, values + step, values)
        marked_total += int(marked.sum())
        changed_total += int(change.sum())
        table = table.set_column(
            table.schema.get_field_index(tol.column),
            field,
            _restore(table[tol.column], field.type, new, change, tol),
        )
    return Embedded(table, marked_total, changed_total)


def _restore(
    original: pa.ChunkedArray, t: pa.DataType, new: I64, change: npt.NDArray[np.bool_], tol: Tolerance
) -> pa.Array:
    """The column with changed cells replaced; unchanged cells keep their exact original value."""
    kind = numeric_kind(t)
    base = original.combine_chunks()
    mask = pa.array(change)
    if kind == "timestamp":
        us = base.cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(pa.int64())
        delta = (
            new - np.floor_divide(np.asarray(pc.fill_null(us, 0).to_numpy(), np.int64), 1_000_000)
        ) * 1_000_000
        moved = pc.add(us, pa.array(delta)).cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(t)
        return pc.if_else(mask, moved, base)
    if kind == "int":
        return pc.if_else(mask, pa.array(new).cast(t), base)
    moved_f = pa.array(new.astype(np.float64) / 10.0**tol.decimals).cast(t)
    return pc.if_else(mask, moved_f, base)


def read_bits(values: I64, keys: U64, column: str, secret: bytes, code_length: int) -> tuple[I64, I64]:
    """The code positions and bits a (leaked) column carries in its marked cells."""
    sel = select_cells(keys, column, secret, code_length)
    return sel.position[sel.marked], (values[sel.marked] & 1)
