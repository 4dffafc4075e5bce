"""Generalization hierarchies: ARX's CSV format, automatic builders, validation and encoding.

A hierarchy is a table with one row per original value: column 0 is the value, column ``i`` its
generalization at level ``i`` (ARX's ``value;level1;level2;...;*``). It must cover every value of
the column and be a consistent tree (each label at level ``i`` has exactly one parent at ``i + 1``);
violations are refused naming the first offending value.

``encode`` turns a column plus its hierarchy into integer codes: ``codes`` (each row's leaf index)
and ``maps[level]`` (leaf index -> generalized index at that level), so every algorithm works on
numpy arrays and never on strings.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dataex.errors import InputFileNotFound, InvalidHierarchy

NULL: Final = "NULL"
"""How a missing value is spelled in hierarchies (ARX's convention)."""
TOP: Final = "*"
AREA_CODE = re.compile(r"[1-8][0-9]{5}")
RESIDENT_ID = re.compile(r"[1-8][0-9]{16}[0-9Xx]")
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Hierarchy:
    """One column's hierarchy: ``rows[i]`` is ``(value, level1, ..., levelH)``."""

    rows: tuple[tuple[str, ...], ...]
    kind: str = "arx"

    @property
    def height(self) -> int:
        return len(self.rows[0]) - 1 if self.rows else 0

    def to_csv(self) -> str:
        return "".join(";".join(r) + "\n" for r in self.rows)

    def digest(self) -> str:
        """SHA-256 of the canonical CSV (``;``-separated, LF line ends): what the log records."""
        return hashlib.sha256(self.to_csv().encode("utf-8")).hexdigest()

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), dtype=object)


def _fail(column: str, message: str, value: str) -> InvalidHierarchy:
    return InvalidHierarchy(f"hierarchy of {column!r}: {message}: {value!r}", column=column, value=value)


def from_rows(rows: Sequence[Sequence[str]], *, column: str, kind: str = "arx") -> Hierarchy:
    """Validates ``rows`` as a tree (same height everywhere, one parent per label) and wraps them."""
    if not rows:
        raise InvalidHierarchy(f"hierarchy of {column!r} is empty", column=column, value=None)
    width = len(rows[0])
    for r in rows:
        if len(r) != width:
            raise _fail(
                column, f"row has {len(r)} fields, the first row {width}; first offending value", r[0]
            )
    if width < 2:
        raise _fail(column, "a hierarchy needs at least one generalization level; first value", rows[0][0])
    df = pd.DataFrame([list(r) for r in rows], dtype=object)
    dup = df[0].duplicated()
    if dup.any():
        raise _fail(column, "value listed twice", str(df[0][dup].iloc[0]))
    for level in range(width - 1):
        parents = df.groupby(level, sort=False)[level + 1].nunique()
        bad = parents[parents > 1]
        if len(bad):
            first = next(v for v in df[level] if v in bad.index)
            raise _fail(column, f"not a tree: label at level {level} has several parents", str(first))
    return Hierarchy(tuple(tuple(str(x) for x in r) for r in rows), kind)


def read_arx(path: Path, *, column: str) -> Hierarchy:
    """Reads ARX's hierarchy CSV (``;``-separated, any line ending, UTF-8 with or without BOM)."""
    if not path.is_file():
        raise InputFileNotFound(f"hierarchy file {path} does not exist")
    text = path.read_bytes().decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=";") if r]
    return from_rows(rows, column=column, kind="arx")


def check_covers(h: Hierarchy, values: Sequence[str], *, column: str) -> None:
    """Refuses a hierarchy missing any value of the column, naming the first one in data order."""
    known = {r[0] for r in h.rows}
    for v in values:
        if v not in known:
            raise _fail(column, "the hierarchy does not cover value", v)


# -- automatic hierarchies --------------------------------------------------------------------
def _nice_width(span: float, bins: int = 32) -> float:
    raw = max(span / bins, 1e-12)
    exp = 10.0 ** np.floor(np.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * exp >= raw:
            return float(m * exp)
    return float(10 * exp)


def numeric(values: Sequence[str], *, column: str, width: float | None = None) -> Hierarchy:
    """Intervals of width ``w, 2w, 4w, ...`` (aligned at multiples of w) and then ``*``."""
    present = [v for v in values if v != NULL]
    nums = np.array([float(v) for v in present]) if present else np.zeros(0)
    integral = bool(len(nums)) and bool(np.all(nums == np.floor(nums)))
    lo, hi = (float(nums.min()), float(nums.max())) if len(nums) else (0.0, 0.0)
    w = width or _nice_width(hi - lo + (1 if integral else 0))
    if integral:
        w = max(1.0, float(np.ceil(w)))
    levels: list[list[str]] = []
    while True:
        start = np.floor(nums / w) * w
        if integral:
            labels = [f"{int(s)}-{int(s + w - 1)}" for s in start]
        else:
            labels = [f"[{s:g}, {s + w:g})" for s in start]
        levels.append(labels)
        if len(set(labels)) <= 1:
            break
        w *= 2
    rows = [[v, *(lv[i] for lv in levels), TOP] for i, v in enumerate(present)]
    rows += [[NULL] * (len(levels) + 1) + [TOP]] if NULL in values else []
    return from_rows(rows, column=column, kind="auto:interval")


def dates(values: Sequence[str], *, column: str) -> Hierarchy:
    """ISO dates: day -> month (``YYYY-MM``) -> year (``YYYY``) -> ``*``."""
    rows = [[v, v[:7], v[:4], TOP] if v != NULL else [v, v, v, TOP] for v in values]
    return from_rows(rows, column=column, kind="auto:date")


def masking(values: Sequence[str], *, column: str) -> Hierarchy:
    """Right-masking (postcodes): ``310012 -> 31001* -> 3100** -> ... -> ****** -> *``."""
    longest = max((len(v) for v in values), default=1)
    rows = []
    for v in values:
        rows.append(
            [v, *(v[: max(len(v) - i, 0)] + "*" * min(i, len(v)) for i in range(1, longest + 1)), TOP]
        )
    return from_rows(rows, column=column, kind="auto:mask")


def area_codes(values: Sequence[str], *, column: str) -> Hierarchy:
    """GB/T 2260 area codes (or resident IDs, whose first six digits are one):
    [ID ->] district ``330106`` -> city ``330100`` -> province ``330000`` -> ``*``."""
    is_id = any(len(v) == 18 for v in values)
    rows = []
    for v in values:
        a = v[:6]
        chain = [a, a[:4] + "00", a[:2] + "0000", TOP]
        rows.append([v, *chain] if is_id else [v, *chain[1:]])
    return from_rows(rows, column=column, kind="auto:area")


def flat(values: Sequence[str], *, column: str) -> Hierarchy:
    """Categories without structure: value -> ``*``."""
    return from_rows([[v, TOP] for v in values], column=column, kind="auto:flat")


def automatic(column: pa.ChunkedArray | pa.Array, *, name: str) -> Hierarchy:
    """The automatic hierarchy for a column, chosen from its Arrow type and its values."""
    values = distinct_strings(column)
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return numeric(values, column=name)
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return dates(values, column=name)
    real = [v for v in values if v != NULL]
    if real and all(AREA_CODE.fullmatch(v) or RESIDENT_ID.fullmatch(v) for v in real):
        return area_codes(values, column=name)
    if real and all(v.isdigit() for v in real) and len({len(v) for v in real}) == 1 and len(real[0]) > 1:
        return masking(values, column=name)
    return flat(values, column=name)


# -- encoding ---------------------------------------------------------------------------------
def as_strings(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """The column as strings the way hierarchies spell values (dates ISO, nulls ``NULL``)."""
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.date32())
    if pa.types.is_floating(column.type):
        arr = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        as_int = np.isfinite(arr) & (arr == np.floor(arr))
        text = np.where(as_int, np.char.mod("%d", np.nan_to_num(arr).astype(np.int64)), arr.astype(str))
        strings: pa.ChunkedArray | pa.Array = pa.array(text, pa.string(), mask=np.isnan(arr))
    else:
        strings = pc.cast(column, pa.string())
    return pc.fill_null(strings, NULL)


def distinct_strings(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """Distinct values as strings, in order of first appearance."""
    return [str(v) for v in pc.unique(as_strings(column)).to_pylist()]


@dataclass(frozen=True)
class Encoded:
    """A column generalized through a hierarchy, as integers.

    ``codes[row]`` is the row's leaf index; ``maps[level][leaf]`` the index of its generalization at
    ``level`` (level 0 is the identity); ``labels[level][index]`` the text; ``leaves[level][index]``
    how many hierarchy leaves lie under that label (for the loss metric); ``domain`` the leaf count.
    """

    name: str
    codes: IntArray
    maps: tuple[IntArray, ...]
    labels: tuple[npt.NDArray[np.object_], ...]
    leaves: tuple[IntArray, ...]
    domain: int

    @property
    def height(self) -> int:
        return len(self.maps) - 1


def encode(column: pa.ChunkedArray | pa.Array, h: Hierarchy, *, name: str) -> Encoded:
    """Encodes ``column`` through ``h`` (refusing uncovered values)."""
    strings = as_strings(column)
    dictionary = pc.dictionary_encode(strings)
    if isinstance(dictionary, pa.ChunkedArray):
        dictionary = dictionary.combine_chunks()
    present = [str(v) for v in dictionary.dictionary.to_pylist()]
    check_covers(h, present, column=name)
    frame = h.frame()
    table = frame.set_index(0).loc[present].reset_index()
    maps: list[IntArray] = [np.arange(len(present), dtype=np.int64)]
    labels: list[npt.NDArray[np.object_]] = [np.array(present, dtype=object)]
    leaves: list[IntArray] = [np.ones(len(present), dtype=np.int64)]
    for level in range(1, h.height + 1):
        uniq, inv = np.unique(table[level].to_numpy(dtype=object).astype(str), return_inverse=True)
        maps.append(np.asarray(inv, dtype=np.int64).ravel())
        labels.append(uniq.astype(object))
        per_label = frame.groupby(level)[0].count()
        leaves.append(np.asarray(per_label.reindex(uniq).to_numpy(), dtype=np.int64))
    codes = np.asarray(dictionary.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return Encoded(name, codes, tuple(maps), tuple(labels), tuple(leaves), len(h.rows))
