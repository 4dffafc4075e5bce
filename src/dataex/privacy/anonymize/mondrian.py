"""Mondrian multidimensional partitioning (LeFevre, DeWitt, Ramakrishnan 2006), vectorized.

Every quasi-identifier is an ordinal: numbers in numeric order, categories in the depth-first order
of their hierarchy (so siblings are adjacent and a contiguous range generalizes to the label of
their lowest common ancestor). All partitions are split in the same round: per partition, the
dimension with the widest normalized range is cut at its median (values ``<=`` the median go
left; if that takes everything, ``<`` does); a cut is kept only when both halves satisfy the
privacy models, otherwise the partition tries its next-widest dimension in the next round, and
stops when none can be cut. One round is a handful of sorts and reductions over the active rows,
so a million rows take about ``log2(n / k)`` rounds of numpy work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dataex.privacy.anonymize.hierarchies import Encoded
from dataex.privacy.anonymize.models import IntArray, Models, Sensitive, check_classes, overall


@dataclass(frozen=True)
class Ordinal:
    """A quasi-identifier as ranks: ``ranks[row]`` in ``0..size-1``; ``leaf_of_rank`` inverts it."""

    name: str
    ranks: IntArray
    leaf_of_rank: IntArray
    size: int


def ordinal(q: Encoded, numbers: npt.NDArray[np.float64] | None) -> Ordinal:
    """Ranks of a column: by ``numbers[leaf]`` when numeric, else by hierarchy path (top first)."""
    if numbers is not None:
        order = np.lexsort((np.arange(len(numbers)), numbers))
    else:
        keys = [q.labels[level][q.maps[level]].astype(str) for level in range(q.height, -1, -1)]
        order = np.lexsort(tuple(reversed(keys)))
    rank_of_leaf = np.empty(len(order), dtype=np.int64)
    rank_of_leaf[order] = np.arange(len(order))
    return Ordinal(q.name, rank_of_leaf[q.codes], order.astype(np.int64), len(order))


@dataclass(frozen=True)
class Partitioning:
    """``part[row]`` is the row's partition; ``lo``/``hi`` are ranks per partition × QI."""

    part: IntArray
    lo: IntArray
    hi: IntArray
    rounds: int


def _ranges(part: IntArray, x: IntArray, n: int) -> tuple[IntArray, IntArray]:
    lo = np.full((n, x.shape[1]), np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full((n, x.shape[1]), -1, dtype=np.int64)
    for j in range(x.shape[1]):
        np.minimum.at(lo[:, j], part, x[:, j])
        np.maximum.at(hi[:, j], part, x[:, j])
    return lo, hi


def partition(qis: list[Ordinal], sensitive: list[Sensitive], models: Models) -> Partitioning:
    """Splits the table until no partition can be cut without breaking ``models``."""
    x = np.stack([q.ranks for q in qis], axis=1)
    n_rows, dims = x.shape
    spans = np.array([max(q.size - 1, 1) for q in qis], dtype=np.float64)
    ones = np.ones(n_rows, dtype=np.int64)
    reference = [overall(s, ones) for s in sensitive]
    part = np.zeros(n_rows, dtype=np.int64)
    attempt = np.zeros(1, dtype=np.int64)  # per partition: which dimension (by width) to try next
    done = np.zeros(1, dtype=bool)
    active = np.arange(n_rows)
    rounds = 0
    while len(active):
        rounds += 1
        p_ids, local = np.unique(part[active], return_inverse=True)
        xa = x[active]
        lo, hi = _ranges(local, xa, len(p_ids))
        width = (hi - lo) / spans
        by_width = np.argsort(-width, axis=1, kind="stable")
        tries = attempt[p_ids]
        dim = by_width[np.arange(len(p_ids)), np.minimum(tries, dims - 1)]
        splittable = (tries < dims) & (width[np.arange(len(p_ids)), dim] > 0)
        v = xa[np.arange(len(active)), dim[local]]
        order = np.lexsort((v, local))
        sizes = np.bincount(local, minlength=len(p_ids))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        median = v[order][starts + (sizes - 1) // 2]
        left_le = np.bincount(local, weights=v <= median[local], minlength=len(p_ids))
        use_lt = left_le >= sizes
        right = np.where(use_lt[local], v >= median[local], v > median[local])
        cand = local * 2 + right
        check = check_classes(
            cand,
            2 * len(p_ids),
            np.ones(len(active), dtype=np.int64),
            models,
            _sub(sensitive, active),
            reference,
        )
        ok2 = check.ok.reshape(-1, 2) & (check.sizes.reshape(-1, 2) > 0)
        valid = splittable & ok2.all(axis=1)
        # Cut: the right half of each valid partition gets a new id.
        new_ids = np.full(len(p_ids), -1, dtype=np.int64)
        new_ids[valid] = len(attempt) + np.arange(int(valid.sum()))
        moved = valid[local] & right
        part[active[moved]] = new_ids[local[moved]]
        attempt = np.concatenate((attempt, np.zeros(int(valid.sum()), dtype=np.int64)))
        done = np.concatenate((done, np.zeros(int(valid.sum()), dtype=bool)))
        attempt[p_ids[valid]] = 0
        stuck = ~valid
        attempt[p_ids[stuck]] += 1
        done[p_ids[stuck & (attempt[p_ids] >= dims)]] = True
        active = active[~done[part[active]]]
    final, inverse = np.unique(part, return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    lo, hi = _ranges(inverse, x, len(final))
    return Partitioning(inverse, lo, hi, rounds)


def _sub(sensitive: list[Sensitive], rows: IntArray) -> list[Sensitive]:
    return [Sensitive(s.name, s.codes[rows], s.m, s.distance, s.rank, s.parents) for s in sensitive]


def labels(
    q: Encoded, o: Ordinal, lo: IntArray, hi: IntArray, numbers: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.object_]:
    """Per partition: the generalized text of one QI (``a-b`` ranges for numbers, else the LCA)."""
    a, b = o.leaf_of_rank[lo], o.leaf_of_rank[hi]
    if numbers is not None:
        la, lb = q.labels[0][a].astype(str), q.labels[0][b].astype(str)
        return np.where(lo == hi, la, np.char.add(np.char.add(la, "-"), lb)).astype(object)
    out = np.empty(len(lo), dtype=object)
    level = lca_level(q, a, b)
    for lv in range(q.height + 1):
        sel = level == lv
        out[sel] = q.labels[lv][q.maps[lv][a[sel]]]
    return out


def lca_level(q: Encoded, a: IntArray, b: IntArray) -> IntArray:
    """The lowest hierarchy level at which leaves ``a`` and ``b`` share a label."""
    level = np.full(len(a), q.height, dtype=np.int64)
    for lv in range(q.height, -1, -1):
        level = np.where(q.maps[lv][a] == q.maps[lv][b], lv, level)
    return level


def cell_loss(
    q: Encoded, o: Ordinal, lo: IntArray, hi: IntArray, numbers: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.float64]:
    """Per partition: generalization intensity of one QI in [0, 1] (NCP)."""
    if numbers is not None:
        values = numbers[o.leaf_of_rank]
        full = float(values[-1] - values[0]) or 1.0
        return np.asarray((values[hi] - values[lo]) / full, dtype=np.float64)
    a, b = o.leaf_of_rank[lo], o.leaf_of_rank[hi]
    level = lca_level(q, a, b)
    under = np.zeros(len(lo), dtype=np.int64)
    for lv in range(q.height + 1):
        sel = level == lv
        under[sel] = q.leaves[lv][q.maps[lv][a[sel]]]
    return np.asarray((under - 1) / max(q.domain - 1, 1), dtype=np.float64)
