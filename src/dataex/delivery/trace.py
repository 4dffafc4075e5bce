"""Tracing a leaked file back to the contract whose fingerprinted copy it came from.

``trace(node, path)`` reads the file (Parquet, CSV/TSV in any supported encoding, JSON Lines, .xlsx),
then for every dataset with fingerprinted deliveries:

1. **Columns by content.** Each leaked column is cast to each identity column's type and its
   sampled cells are looked up among that column's keyed cell hashes; pairs are assigned greedily
   by containment (>= 0.5; an equal name breaks ties). Names and order do not matter.
2. **Rows by identity.** Mapped columns are added one by one (most distinct first) while they keep
   the sampled join rate; leaked rows join source rows on their combined hash, which gives each
   leaked row its source row key ``K`` — so a subset, a shuffle or a dropped column still joins.
3. **Tolerable columns by closeness.** For each tolerable source column, the unassigned leaked
   column whose joined values lie within the tolerance of the originals most often (>= 0.5).

The dataset with the most joined rows is read: each marked cell (by ``K``) gives a code position
and the parity bit; positions aggregate into soft symbols, and every contract fingerprinted on that
dataset is scored (:mod:`dataex.delivery.tardos`). A contract is accused when ``N · p <=``
:data:`ACCUSE_AT` (``N`` candidates, ``p`` its Chernoff p-value): the reported false-accusation
bound. Anything else is "no match".
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import FingerprintRow
from dataex.delivery import tardos
from dataex.delivery.fingerprint import Tolerance, identity_columns, load_or_create_secret, read_bits
from dataex.delivery.rowkey import U64, column_hash, fold, row_keys, scaled, source_decimals
from dataex.delivery.tolerances import find_tolerances
from dataex.storage.importer import import_table

if TYPE_CHECKING:
    from dataex.node import Node

ACCUSE_AT: Final = 1e-6
SAMPLE: Final = 2000
MIN_CONTAINMENT: Final = 0.5
MIN_JOIN: Final = 0.5
MIN_DISTINCT: Final = 0.05
"""Joined columns must tell source rows apart: distinct combined values >= 5% of the rows."""
CAST_ERRORS: Final = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclass(frozen=True)
class Accusation:
    contract_id: str
    consumer_id: str
    score: float
    p_value: float
    false_accusation_bound: float


@dataclass(frozen=True)
class TraceResult:
    """``status`` is ``match`` (``matches`` accused, best first) or ``no_match`` with ``reason``."""

    status: str
    reason: str
    dataset_id: str | None = None
    rows: int = 0
    rows_matched: int = 0
    cells_read: int = 0
    positions: int = 0
    candidates: int = 0
    threshold: float = ACCUSE_AT
    columns: dict[str, str] = field(default_factory=dict)
    matches: list[Accusation] = field(default_factory=list)
    scores: list[Accusation] = field(default_factory=list)


@dataclass
class _Join:
    dataset_id: str
    leaked_rows: npt.NDArray[np.int64]
    keys: U64
    columns: dict[str, str]
    values: dict[str, npt.NDArray[np.int64]]


def read_leak(path: Path) -> pa.Table:
    """The leaked file as a table (Parquet directly; everything else through the importer)."""
    if path.suffix.lower() == ".parquet" and path.is_file():
        return pq.read_table(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "leak.parquet"
        import_table(path, out, work_dir=Path(tmp))
        return pq.read_table(out)


def trace(node: Node, path: Path) -> TraceResult:
    """Finds the contract a leaked file came from; see the module docstring."""
    leaked = read_leak(Path(path))
    with node.session() as s:
        groups: dict[str, list[FingerprintRow]] = defaultdict(list)
        for row in s.scalars(select(FingerprintRow).order_by(FingerprintRow.created_at)):
            groups[row.dataset_id].append(row)
        sources = {d: node.store.url(get_dataset_row(s, d).file_sha256) for d in groups}
        tolerances = {d: find_tolerances(s, d) for d in groups}
    if not groups:
        return TraceResult("no_match", "this node has delivered no fingerprinted rows", rows=leaked.num_rows)
    if leaked.num_rows == 0:
        return TraceResult("no_match", "the file holds no rows")
    secret = load_or_create_secret(node.settings.home)
    best: _Join | None = None
    for dataset_id, source_path in sources.items():
        joined = _join(leaked, pq.read_table(source_path), tolerances[dataset_id], secret, dataset_id)
        if joined is not None and (best is None or len(joined.leaked_rows) > len(best.leaked_rows)):
            best = joined
    if best is None or not best.values:
        reason = "no column of the file matches a dataset with fingerprinted deliveries"
        if best is not None:
            reason = f"rows match dataset {best.dataset_id} but none of its tolerable columns is present"
        return TraceResult("no_match", reason, rows=leaked.num_rows)
    p = tardos.biases(secret)
    parts = [
        read_bits(values, best.keys, column, secret, tardos.CODE_LENGTH)
        for column, values in best.values.items()
    ]
    obs = tardos.Observation.of(
        np.concatenate([q for q, _ in parts]), np.concatenate([b for _, b in parts]), tardos.CODE_LENGTH
    )
    candidates = groups[best.dataset_id]
    scores = []
    for fp in candidates:
        sc = tardos.score(obs, tardos.codeword(secret, fp.contract_id, p), p)
        pv = tardos.p_value(obs, sc, p)
        scores.append(Accusation(fp.contract_id, fp.consumer_id, sc, pv, min(1.0, len(candidates) * pv)))
    scores.sort(key=lambda a: -a.score)
    matches = [a for a in scores if a.false_accusation_bound <= ACCUSE_AT]
    common: dict[str, Any] = {
        "dataset_id": best.dataset_id,
        "rows": leaked.num_rows,
        "rows_matched": len(best.leaked_rows),
        "cells_read": obs.cells,
        "positions": len(obs.positions),
        "candidates": len(candidates),
        "columns": best.columns,
        "scores": scores,
    }
    if not matches:
        reason = f"no contract scores with a false-accusation bound <= {ACCUSE_AT:g}"
        return TraceResult("no_match", reason, **common)
    return TraceResult("match", "", matches=matches, **common)


def _member(values: U64, sorted_set: U64) -> npt.NDArray[np.bool_]:
    """``values`` found in the sorted array ``sorted_set``."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.clip(np.searchsorted(sorted_set, values), 0, len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values)


def _cast(column: pa.ChunkedArray | pa.Array, t: pa.DataType) -> pa.Array | None:
    if (
        pa.types.is_boolean(t)
        and not pa.types.is_boolean(column.type)
        and not pa.types.is_string(column.type)
    ):
        return None
    try:
        arr = column.cast(t)
    except CAST_ERRORS:
        return None
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _join(
    leaked: pa.Table, source: pa.Table, tolerances: list[Tolerance], secret: bytes, dataset_id: str
) -> _Join | None:
    identity = identity_columns(source, tolerances)
    decimals = source_decimals(source)
    src_hash = {
        c: column_hash(source[c], source.schema.field(c).type, secret, decimals.get(c, 0)) for c in identity
    }
    uniq = {c: np.sort(h) for c, h in src_hash.items()}
    distinct = {c: int(np.count_nonzero(np.diff(u)) + 1) if len(u) else 0 for c, u in uniq.items()}
    step = max(1, leaked.num_rows // SAMPLE)
    sample = leaked.take(np.arange(0, leaked.num_rows, step)[:SAMPLE])
    pairs: list[tuple[float, str, str]] = []
    for lname in leaked.column_names:
        for c in identity:
            cast = _cast(sample[lname], source.schema.field(c).type)
            if cast is None:
                continue
            h = column_hash(cast, source.schema.field(c).type, secret, decimals.get(c, 0))
            found = _member(h, uniq[c]).mean()
            if found >= MIN_CONTAINMENT:
                pairs.append((found + (0.001 if lname == c else 0.0), lname, c))
    mapping: dict[str, str] = {}
    for _, lname, c in sorted(pairs, reverse=True):
        if lname not in mapping and c not in mapping.values():
            mapping[lname] = c
    if not mapping:
        return None
    by_specificity = sorted(mapping.items(), key=lambda kv: -distinct[kv[1]])

    def leaked_hash(table: pa.Table, lname: str, c: str) -> U64:
        cast = _cast(table[lname], source.schema.field(c).type)
        assert cast is not None
        return column_hash(cast, source.schema.field(c).type, secret, decimals.get(c, 0))

    chosen: list[tuple[str, str]] = []
    rate = 0.0
    for lname, c in by_specificity:
        trial = [*chosen, (lname, c)]
        ordered = sorted(trial, key=lambda kv: identity.index(kv[1]))
        src = fold([src_hash[cc] for _, cc in ordered], secret, source.num_rows)
        got = fold([leaked_hash(sample, ll, cc) for ll, cc in ordered], secret, sample.num_rows)
        r = float(_member(got, np.sort(src)).mean())
        if r >= MIN_JOIN and r >= 0.95 * rate:
            chosen, rate = trial, max(rate, r)
    if not chosen:
        return None
    ordered = sorted(chosen, key=lambda kv: identity.index(kv[1]))
    src = fold([src_hash[c] for _, c in ordered], secret, source.num_rows)
    if int(np.count_nonzero(np.diff(np.sort(src)))) + 1 < MIN_DISTINCT * source.num_rows:
        return None
    got = fold([leaked_hash(leaked, ll, c) for ll, c in ordered], secret, leaked.num_rows)
    order = np.argsort(src, kind="stable")
    at = np.clip(np.searchsorted(src[order], got), 0, len(order) - 1)
    hit = src[order][at] == got
    leaked_rows = np.flatnonzero(hit).astype(np.int64)
    if len(leaked_rows) == 0:
        return None
    source_rows = order[at[hit]]
    keys = row_keys(source, identity, secret, decimals)[source_rows]
    columns = dict(ordered)
    values = _tolerable(leaked, source, tolerances, leaked_rows, source_rows, set(mapping), columns)
    return _Join(dataset_id, leaked_rows, keys, columns, values)


def _tolerable(
    leaked: pa.Table,
    source: pa.Table,
    tolerances: list[Tolerance],
    leaked_rows: npt.NDArray[np.int64],
    source_rows: npt.NDArray[np.int64],
    taken: set[str],
    columns: dict[str, str],
) -> dict[str, npt.NDArray[np.int64]]:
    """For each tolerable column: the leaked column's values (scaled) on the joined rows."""
    out: dict[str, npt.NDArray[np.int64]] = {}
    if len(leaked_rows) == 0:
        return out
    probe = np.arange(0, len(leaked_rows), max(1, len(leaked_rows) // 5000))
    for tol in tolerances:
        t = source.schema.field(tol.column).type
        original, _ = scaled(source[tol.column].take(source_rows[probe]), t, tol.decimals)
        best: tuple[float, str] | None = None
        for lname in leaked.column_names:
            if lname in taken or lname in columns:
                continue
            cast = _cast(leaked[lname].take(leaked_rows[probe]), t)
            if cast is None:
                continue
            got, nulls = scaled(cast, t, tol.decimals)
            close = float(np.mean((np.abs(got - original) <= tol.units) & ~nulls))
            if close >= MIN_CONTAINMENT and (best is None or close > best[0]):
                best = (close, lname)
        if best is not None:
            cast = _cast(leaked[best[1]].take(leaked_rows), t)
            assert cast is not None
            out[tol.column], _ = scaled(cast, t, tol.decimals)
            columns[best[1]] = tol.column
            taken.add(best[1])
    return out
