"""Tracing a leaked file back to the contract whose fingerprinted copy it came from.

``trace(node, path)`` reads the file (Parquet, CSV/TSV in any supported encoding, JSON Lines, .xlsx),
then for every dataset with fingerprinted deliveries:

1. **Columns by content.** Each leaked column is cast to each identity column's type and its
   sampled cells are looked up among that column's keyed cell hashes; pairs are assigned greedily
   by containment (>= 0.5; an equal name breaks ties). Names and order do not matter.
2. **Rows by identity.** Mapped columns are added one by one (most distinct first) while they keep
   the sampled join rate; leaked rows join source rows on their combined hash, which gives each
   leaked row its source row key ``K`` — so a subset, a shuffle or a dropped column (the key
   column included) still joins. A leaked row whose combined hash fits several source rows is
   joined to the one whose tolerable values are closest to its own, when exactly one is closest.
3. **Tolerable columns by closeness.** For each tolerable source column, the unassigned leaked
   column whose joined values lie within ``2δ + q`` of the originals most often (>= 0.5; ``q``
   the leaked column's grid, coarser when the leaker rounded).

The dataset with the most joined rows is read against its original (dx-fp-2, non-blind): each
marked cell (by ``K``) gives a code position and an estimate of the code bit's sign; positions
aggregate into soft symbols, and every contract fingerprinted on that dataset is scored
(:mod:`dataex.delivery.tardos`). Contracts fingerprinted under dx-fp-1 are also scored on the
blind parity reading. A contract is accused when ``N · p <=`` :data:`ACCUSE_AT` (``N`` the
(contract, scheme) pairs scored, ``p`` the Chernoff p-value): the reported false-accusation bound.
Anything else is "no match".
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
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import FingerprintRow
from dataex.delivery import tardos
from dataex.delivery.fingerprint import (
    F64,
    LEGACY_SCHEME,
    SCHEME,
    Tolerance,
    grid_of,
    identity_columns,
    load_or_create_secret,
    markable,
    read_bits,
    read_signed,
    scaled,
    signed_cells,
    units_of,
)
from dataex.delivery.rowkey import U64, column_hash, fold, row_keys, source_decimals
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
MAX_AMBIGUOUS: Final = 64
"""A leaked row whose combined hash fits more source rows than this is not joined."""
NEUTRALIZED: Final = r"^'([=+\-@\t\r])"
"""A text cell a CSV extract prefixed with ``'`` (formula neutralization): read without it."""
CAST_ERRORS: Final = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclass(frozen=True)
class Accusation:
    contract_id: str
    consumer_id: str
    score: float
    p_value: float
    false_accusation_bound: float
    scheme: str = SCHEME


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
class _Leaked:
    """One tolerable column of the leak on the joined rows: values (units, unrounded) and nulls."""

    values: F64
    nulls: npt.NDArray[np.bool_]
    grid: int


@dataclass
class _Join:
    dataset_id: str
    source: pa.Table
    leaked_rows: npt.NDArray[np.int64]
    source_rows: npt.NDArray[np.int64]
    keys: U64
    columns: dict[str, str]
    values: dict[str, _Leaked]


@dataclass(frozen=True)
class Reading:
    """What a leak shows of the fingerprints of one dataset (per scheme) and who may have made it."""

    join: _Join
    observations: dict[str, tardos.Observation]
    candidates: list[FingerprintRow]
    legacy: set[str]


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
    reading = read(node, leaked)
    if isinstance(reading, TraceResult):
        return reading
    secret = load_or_create_secret(node.settings.home)
    best = reading.join
    pairs = [(fp, SCHEME) for fp in reading.candidates] + [
        (fp, LEGACY_SCHEME) for fp in reading.candidates if fp.contract_id in reading.legacy
    ]
    scores = []
    for fp, scheme in pairs:
        obs = reading.observations[scheme]
        p = tardos.biases(secret, len_of(scheme))
        sc = tardos.score(obs, tardos.codeword(secret, fp.contract_id, p), p)
        pv = tardos.p_value(obs, sc, p)
        bound = min(1.0, len(pairs) * pv)
        scores.append(Accusation(fp.contract_id, fp.consumer_id, sc, pv, bound, scheme))
    scores.sort(key=lambda a: (a.p_value, -a.score))
    matches: list[Accusation] = []
    for a in scores:
        if a.false_accusation_bound <= ACCUSE_AT and all(m.contract_id != a.contract_id for m in matches):
            matches.append(a)
    main = reading.observations[SCHEME]
    common: dict[str, Any] = {
        "dataset_id": best.dataset_id,
        "rows": leaked.num_rows,
        "rows_matched": len(best.leaked_rows),
        "cells_read": main.cells,
        "positions": len(main.positions),
        "candidates": len(pairs),
        "columns": best.columns,
        "scores": scores,
    }
    if not matches:
        reason = f"no contract scores with a false-accusation bound <= {ACCUSE_AT:g}"
        return TraceResult("no_match", reason, **common)
    return TraceResult("match", "", matches=matches, **common)


def len_of(scheme: str) -> int:
    """The code length of a fingerprint scheme."""
    return tardos.LEGACY_CODE_LENGTH if scheme == LEGACY_SCHEME else tardos.CODE_LENGTH


def read(node: Node, leaked: pa.Table) -> Reading | TraceResult:
    """Joins the leak to the dataset it matches best and reads its marks (or says why not)."""
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
    by_column = {t.column: t for t in tolerances[best.dataset_id]}
    signed_pos: list[npt.NDArray[np.int64]] = []
    signed_est: list[F64] = []
    parity_pos: list[npt.NDArray[np.int64]] = []
    parity_bits: list[npt.NDArray[np.int64]] = []
    candidates = groups[best.dataset_id]
    legacy = {fp.contract_id for fp in candidates if (fp.scheme or {}).get("scheme") == LEGACY_SCHEME}
    for column, got in best.values.items():
        tol = by_column[column]
        t = best.source.schema.field(column).type
        original_column = best.source[column].take(best.source_rows)
        exact, original_nulls = scaled(original_column, t, tol.decimals)
        original, _ = units_of(original_column, t, tol.decimals)
        mark = markable(exact, original_nulls, t, tol) & ~got.nulls
        sel = signed_cells(best.keys, column, secret, tardos.CODE_LENGTH, mark)
        positions, estimates = read_signed(got.values, original, sel, tol, got.grid)
        signed_pos.append(positions)
        signed_est.append(estimates)
        if legacy:
            bits = np.rint(got.values).astype(np.int64)
            q, b = read_bits(bits, best.keys, column, secret, tardos.LEGACY_CODE_LENGTH)
            parity_pos.append(q)
            parity_bits.append(b)
    observations = {
        SCHEME: tardos.Observation.soft(
            np.concatenate(signed_pos), np.concatenate(signed_est), tardos.CODE_LENGTH
        )
    }
    if legacy:
        observations[LEGACY_SCHEME] = tardos.Observation.of(
            np.concatenate(parity_pos), np.concatenate(parity_bits), tardos.LEGACY_CODE_LENGTH
        )
    return Reading(best, observations, candidates, legacy)


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
    if pa.types.is_string(t) or pa.types.is_large_string(t):  # undo a CSV extract's neutralization
        arr = pc.replace_substring_regex(arr, NEUTRALIZED, r"\1")
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
    srt = src[order]
    lo = np.searchsorted(srt, got, side="left")
    count = np.searchsorted(srt, got, side="right") - lo
    if not count.any():
        return None
    columns = dict(ordered)
    unique = np.flatnonzero(count == 1).astype(np.int64)
    probe_rows = unique if len(unique) >= 50 else np.flatnonzero(count >= 1).astype(np.int64)
    found = _find_tolerable(leaked, source, tolerances, probe_rows, order[lo[probe_rows]], set(mapping))
    if not found:
        rows = probe_rows
        source_rows = order[lo[rows]]
    else:
        extra, extra_src = _disambiguate(leaked, source, tolerances, found, order, lo, count)
        rows = np.concatenate([unique, extra])
        source_rows = np.concatenate([order[lo[unique]], extra_src])
        keep = np.argsort(rows, kind="stable")
        rows, source_rows = rows[keep], source_rows[keep]
    keys = row_keys(source, identity, secret, decimals)[source_rows]
    values: dict[str, _Leaked] = {}
    for column, (lname, grid) in found.items():
        t = source.schema.field(column).type
        tol = next(x for x in tolerances if x.column == column)
        cast = _cast(leaked[lname].take(rows), t)
        assert cast is not None
        y, nulls = units_of(cast, t, tol.decimals)
        values[column] = _Leaked(y, nulls, grid)
        columns[lname] = column
    return _Join(dataset_id, source, rows, source_rows, keys, columns, values)


def _window(tol: Tolerance, grid: int) -> float:
    """How far (in units) a leaked tolerable value may lie from its original: mark, noise, rounding."""
    return 2.0 * tol.units + grid


def _find_tolerable(
    leaked: pa.Table,
    source: pa.Table,
    tolerances: list[Tolerance],
    leaked_rows: npt.NDArray[np.int64],
    source_rows: npt.NDArray[np.int64],
    taken: set[str],
) -> dict[str, tuple[str, int]]:
    """For each tolerable column: the leaked column that holds it and that column's grid."""
    out: dict[str, tuple[str, int]] = {}
    if len(leaked_rows) == 0:
        return out
    probe = np.arange(0, len(leaked_rows), max(1, len(leaked_rows) // 5000))
    for tol in tolerances:
        t = source.schema.field(tol.column).type
        original, _ = units_of(source[tol.column].take(source_rows[probe]), t, tol.decimals)
        best: tuple[float, str, int] | None = None
        for lname in leaked.column_names:
            if lname in taken:
                continue
            cast = _cast(leaked[lname].take(leaked_rows[probe]), t)
            if cast is None:
                continue
            got, nulls = units_of(cast, t, tol.decimals)
            grid = grid_of(got[~nulls])
            close = float(np.mean((np.abs(got - original) <= _window(tol, grid)) & ~nulls))
            if close >= MIN_CONTAINMENT and (best is None or close > best[0]):
                best = (close, lname, grid)
        if best is not None:
            out[tol.column] = (best[1], best[2])
            taken.add(best[1])
    return out


def _disambiguate(
    leaked: pa.Table,
    source: pa.Table,
    tolerances: list[Tolerance],
    found: dict[str, tuple[str, int]],
    order: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Leaked rows that fit several source rows, each joined to the one closest in tolerable values.

    Joined only when exactly one candidate is closest and within the window of every column.
    """
    rows = np.flatnonzero((count > 1) & (count <= MAX_AMBIGUOUS)).astype(np.int64)
    if len(rows) == 0:
        return rows, rows
    n = count[rows]
    group = np.repeat(np.arange(len(rows)), n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    candidate = order[np.repeat(lo[rows], n) + offset]
    distance = np.zeros(len(candidate))
    for column, (lname, grid) in found.items():
        tol = next(x for x in tolerances if x.column == column)
        t = source.schema.field(column).type
        cast = _cast(leaked[lname].take(rows), t)
        assert cast is not None
        y, y_nulls = units_of(cast, t, tol.decimals)
        v, v_nulls = units_of(source[column].take(candidate), t, tol.decimals)
        d = np.abs(y[group] - v) / _window(tol, grid)
        distance += np.where(y_nulls[group] | v_nulls, 1.0, np.minimum(d, 2.0))
    ranked = np.lexsort((distance, group))
    first = np.cumsum(n) - n
    best, best_d = candidate[ranked[first]], distance[ranked[first]]
    second_d = distance[ranked[first + 1]]
    ok = (best_d < second_d) & (best_d <= len(found))
    return rows[ok], best[ok]
