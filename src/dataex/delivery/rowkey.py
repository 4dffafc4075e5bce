"""Row identity for fingerprints (``dx-fp-1``): keyed sub-keys, canonical cell values, keyed cell
hashes and the row key ``K`` (docs/delivery.md, "Row identity").

Every function here is a pure function of the node's fingerprint secret and the cell values, and
works row by row: hashing a slice of a table gives exactly the slice of the whole table's hashes,
so callers may hash in row chunks (and on several threads: numpy and Arrow release the GIL).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

MAX_DECIMALS: Final = 6
WEIGHTS: Final = 4096
"""Secret byte weights of the text hash; bytes past the 4,096th share the last weight."""
COLUMNWISE_MAX: Final = 512
"""Text up to this many bytes is hashed position by position; longer text by prefix sums."""
CHUNK: Final = 1 << 20
PHI: Final = np.uint64(0x9E3779B97F4A7C15)

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


# -- keyed primitives ------------------------------------------------------------------------------
def derive(secret: bytes, label: str) -> bytes:
    """A 32-byte sub-key: HMAC-SHA-256(secret, label)."""
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


def derive_u64(secret: bytes, label: str) -> np.uint64:
    """The first 8 bytes (big-endian) of ``derive(secret, label)``."""
    return np.uint64(int.from_bytes(derive(secret, label)[:8], "big"))


def stream_u64(secret: bytes, label: str, n: int) -> U64:
    """``n`` pseudo-random 64-bit words: SHAKE-256 of the sub-key for ``label``."""
    raw = hashlib.shake_256(derive(secret, label)).digest(8 * n)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def mix(x: U64) -> U64:
    """The SplitMix64 finalizer: a bijection of 64-bit words with full avalanche."""
    out = x.astype(np.uint64, copy=True)
    mix_inplace(out)
    return out


def mix_inplace(x: U64, scratch: U64 | None = None) -> None:
    """:func:`mix` computed in ``x`` itself (``scratch``: an optional buffer of the same size)."""
    tmp = np.empty_like(x) if scratch is None else scratch
    np.right_shift(x, _S30, out=tmp)
    x ^= tmp
    x *= _M1
    np.right_shift(x, _S27, out=tmp)
    x ^= tmp
    x *= _M2
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp


# -- canonical values ------------------------------------------------------------------------------
def decimals_of(values: npt.NDArray[np.float64]) -> int:
    """The fewest decimals (<= 6) that represent every finite value exactly.

    Checked in blocks, so a scale that does not fit is usually rejected by the first block.
    """
    for d in range(MAX_DECIMALS + 1):
        if all(_exact(values[i : i + _BLOCK], 10.0**d) for i in range(0, len(values), _BLOCK)):
            return d
    return MAX_DECIMALS


_BLOCK: Final = 1 << 16


def _exact(block: npt.NDArray[np.float64], scale: float) -> bool:
    scaled = block[np.isfinite(block)] * scale
    return bool(np.all(np.abs(scaled - np.rint(scaled)) < 1e-6))


def numeric_kind(t: pa.DataType) -> str | None:
    """``"int"``, ``"float"``, ``"timestamp"`` or None for types a mark cannot change."""
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return None


def scaled(column: pa.ChunkedArray | pa.Array, t: pa.DataType, decimals: int) -> tuple[I64, Mask]:
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


# -- keyed cell hashes -----------------------------------------------------------------------------
def column_hash(column: pa.ChunkedArray | pa.Array, t: pa.DataType, secret: bytes, decimals: int) -> U64:
    """A keyed 64-bit hash of every cell, after casting ``column`` to the source type ``t``."""
    salt = derive_u64(secret, "cell")
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        if pa.types.is_boolean(t):
            ints, nulls = scaled(column.cast(pa.bool_()).cast(pa.int8()), pa.int64(), 0)
        else:
            ints, nulls = scaled(column, t, decimals)
        return _number_hash(ints, nulls, salt)
    if pa.types.is_timestamp(t):
        us = column.cast(t, safe=False).cast(pa.timestamp("us", tz=getattr(t, "tz", None))).cast(pa.int64())
        return _int_hash(us, salt)
    if pa.types.is_date(t):
        return _int_hash(column.cast(t, safe=False).cast(pa.date32()).cast(pa.int32()).cast(pa.int64()), salt)
    return string_hash(column.cast(pa.large_string(), safe=False), secret)


def _number_hash(ints: I64, nulls: Mask, salt: np.uint64) -> U64:
    """``mix(mix(v ⊕ s) + s)``; a null is ``mix(s ⊕ 1)``."""
    h = ints.view(np.uint64) ^ salt
    scratch = np.empty_like(h)
    mix_inplace(h, scratch)
    h += salt
    mix_inplace(h, scratch)
    if nulls.any():
        h[nulls] = mix(np.array([salt ^ np.uint64(1)], dtype=np.uint64))[0]
    return h


def _int_hash(ints: pa.ChunkedArray | pa.Array, salt: np.uint64) -> U64:
    arr = ints.combine_chunks() if isinstance(ints, pa.ChunkedArray) else ints
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(arr, 0).to_numpy(), dtype=np.int64)
    return _number_hash(values, nulls, salt)


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
    """``mix(mix(Σ_i (b_i + 1)·W[min(i, 4095)] ⊕ s) + length)`` of each string's UTF-8 bytes."""
    weights = stream_u64(secret, "bytes", WEIGHTS) | np.uint64(1)
    salt = derive_u64(secret, "string")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return np.empty(0, dtype=np.uint64)
    if int(lengths.max()) <= COLUMNWISE_MAX:
        h = _weighted_sums_columnwise(data, offsets, lengths, weights)
    else:
        h = _weighted_sums_prefix(data, offsets, weights)
    h ^= salt
    scratch = np.empty_like(h)
    mix_inplace(h, scratch)
    h += lengths.astype(np.uint64)
    mix_inplace(h, scratch)
    return h


def _weighted_sums_columnwise(data: npt.NDArray[np.uint8], offsets: I64, lengths: I64, weights: U64) -> U64:
    """``Σ_i (b_i + 1)·W[i]`` one byte position at a time (strings of at most COLUMNWISE_MAX bytes).

    ``Σ (b_i + 1)·W[i] = Σ b_i·W[i] + Σ_{i < len} W[i]``; the second term is a prefix sum of ``W``.
    """
    n, longest = len(lengths), int(lengths.max())
    prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(weights[:longest], dtype=np.uint64)])
    acc = np.zeros(n, dtype=np.uint64)
    term = np.empty(n, dtype=np.uint64)
    first = int(offsets[0])
    if int(lengths.min()) == longest:  # one length: the bytes are an n × longest matrix
        matrix = data[first : first + n * longest].reshape(n, longest)
        for i in range(longest):
            np.multiply(matrix[:, i], weights[i], out=term)
            acc += term
        acc += prefix[longest]
        return acc
    order = np.argsort(-lengths.astype(np.int16), kind="stable")  # longest first
    starts = offsets[:-1][order]
    alive = n - np.searchsorted(np.sort(lengths), np.arange(longest), side="right")  # len > i
    for i in range(longest):
        k = int(alive[i])
        np.multiply(data[starts[:k] + i], weights[i], out=term[:k])
        acc[:k] += term[:k]
    out = np.empty(n, dtype=np.uint64)
    out[order] = acc
    out += prefix[lengths]
    return out


def _weighted_sums_prefix(data: npt.NDArray[np.uint8], offsets: I64, weights: U64) -> U64:
    """The same sums through a prefix sum over all bytes (for long text), CHUNK strings at a time."""
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for start in range(0, n, CHUNK):
        off = offsets[start : start + CHUNK + 1]
        first, last = int(off[0]), int(off[-1])
        lengths = np.diff(off)
        body = data[first:last].astype(np.uint64) + np.uint64(1)
        within = np.arange(last - first, dtype=np.int64) - np.repeat(off[:-1] - first, lengths)
        body *= weights[np.minimum(within, WEIGHTS - 1)]
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(body, dtype=np.uint64)])
        out[start : start + len(lengths)] = sums[off[1:] - first] - sums[off[:-1] - first]
    return out


# -- the row key -----------------------------------------------------------------------------------
def fold(hashes: Sequence[U64], secret: bytes, n: int) -> U64:
    """The row key: column hashes folded in order, ``K = mix(K·φ + h)``."""
    k = np.full(n, derive_u64(secret, "row"), dtype=np.uint64)
    scratch = np.empty_like(k)
    for h in hashes:
        k *= PHI
        k += h
        mix_inplace(k, scratch)
    return k


def row_keys(table: pa.Table, columns: Sequence[str], secret: bytes, decimals: dict[str, int]) -> U64:
    """The row key ``K`` of every row of ``table`` over its identity ``columns`` (source order)."""
    k = np.full(table.num_rows, derive_u64(secret, "row"), dtype=np.uint64)
    scratch = np.empty_like(k)
    for c in columns:
        k *= PHI
        k += column_hash(table[c], table.schema.field(c).type, secret, decimals.get(c, 0))
        mix_inplace(k, scratch)
    return k
