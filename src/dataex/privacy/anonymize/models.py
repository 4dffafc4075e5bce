"""Privacy models, checked per equivalence class with numpy group-bys (no per-row Python).

* k-anonymity: every class has at least ``k`` records.
* l-diversity of each sensitive attribute, three variants (Machanavajjhala et al. 2007):
  distinct (at least ``l`` distinct values), entropy (``-Σ p·ln p >= ln l``) and recursive (c, l)
  (``r1 < c·(r_l + r_{l+1} + ... + r_m)``, ``r_i`` the i-th largest value count).
* t-closeness (Li et al. 2007): the earth mover's distance between the class's distribution of the
  sensitive value and the whole table's is at most ``t``, with equal distance (unordered:
  ``½ Σ |p_i − q_i|``), ordered distance (numbers: ``Σ_i |Σ_{j<=i} (p_j − q_j)| / (m − 1)``) or
  hierarchical distance (``Σ_N height(N)/H · min(pos_extra(N), neg_extra(N))`` over inner nodes).

Classes are given as ``cls`` (class index per unit), ``weight`` (records per unit; a unit is a row
or a group of identical rows) and each sensitive attribute's value code per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

LVariant = Literal["distinct", "entropy", "recursive"]
Distance = Literal["equal", "ordered", "hierarchical"]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
EPS = 1e-9


@dataclass(frozen=True)
class Sensitive:
    """A sensitive attribute as codes ``0..m-1`` per unit.

    ``rank[code]`` orders the values (ordered distance); ``parents[level][code]`` maps each value to
    its ancestor at hierarchy level ``level`` (hierarchical distance; level 0 is the value itself).
    """

    name: str
    codes: IntArray
    m: int
    distance: Distance = "equal"
    rank: IntArray | None = None
    parents: tuple[IntArray, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Models:
    """The privacy models a release must satisfy; ``None`` switches one off."""

    k: int | None = None
    l: int | None = None  # noqa: E741 - the model's name
    l_variant: LVariant = "distinct"
    c: float = 3.0
    t: float | None = None

    @property
    def min_class(self) -> int:
        """The smallest class size any enabled model can accept."""
        return max(self.k or 1, self.l or 1)

    @property
    def monotonic(self) -> bool:
        """Whether a generalization of a passing class always passes, also with suppression.

        True for k-anonymity and distinct l-diversity (merged classes keep their records and
        values); entropy and recursive l-diversity and t-closeness may fail after a merge with a
        failing class, so the lattice search does not prune on them.
        """
        return self.t is None and (self.l is None or self.l_variant == "distinct")

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.k is not None:
            out["k"] = self.k
        if self.l is not None:
            out["l"] = self.l
            out["l_variant"] = self.l_variant
            if self.l_variant == "recursive":
                out["c"] = self.c
        if self.t is not None:
            out["t"] = self.t
        return out


def pair_counts(
    cls: IntArray, codes: IntArray, weight: IntArray, m: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Per (class, value) pair present: its class, its value and its record count."""
    key = cls * m + codes
    uniq, inv = np.unique(key, return_inverse=True)
    counts = np.bincount(inv, weights=weight).astype(np.int64)
    return uniq // m, uniq % m, counts


def diversity(
    cls: IntArray,
    n: int,
    s: Sensitive,
    weight: IntArray,
    sizes: IntArray,
    c: float,
    l: int,  # noqa: E741
) -> tuple[IntArray, FloatArray, BoolArray]:
    """Per class: distinct values, entropy-l (``exp(H)``) and whether recursive (c, l) holds."""
    pc, _, cnt = pair_counts(cls, s.codes, weight, s.m)
    distinct = np.bincount(pc, minlength=n).astype(np.int64)
    p = cnt / np.maximum(sizes[pc], 1)
    entropy = np.bincount(pc, weights=-p * np.log(p), minlength=n)
    order = np.lexsort((-cnt, pc))
    spc, scnt = pc[order], cnt[order]
    starts = np.searchsorted(spc, spc, side="left")
    rank = np.arange(len(spc)) - starts
    r1 = np.zeros(n, dtype=np.int64)
    np.maximum.at(r1, spc, scnt)
    tail = np.bincount(spc, weights=np.where(rank >= l - 1, scnt, 0), minlength=n)
    recursive = (distinct >= l) & (r1 < c * tail)
    return distinct, np.exp(entropy), recursive


def distribution(cls: IntArray, n: int, s: Sensitive, weight: IntArray) -> FloatArray:
    """The dense matrix ``classes × m`` of value shares per class."""
    mat = np.bincount(cls * s.m + s.codes, weights=weight, minlength=n * s.m).reshape(n, s.m)
    total = mat.sum(axis=1, keepdims=True)
    return np.asarray(mat / np.maximum(total, 1), dtype=np.float64)


def emd(p: FloatArray, q: FloatArray, s: Sensitive) -> FloatArray:
    """Earth mover's distance from each row of ``p`` to ``q`` under the attribute's distance."""
    diff = p - q[None, :]
    if s.distance == "ordered" and s.m > 1:
        assert s.rank is not None
        ordered = np.empty_like(diff)
        ordered[:, s.rank] = diff
        return np.asarray(np.abs(np.cumsum(ordered, axis=1)[:, :-1]).sum(axis=1) / (s.m - 1))
    if s.distance == "hierarchical" and len(s.parents) > 1:
        height = len(s.parents) - 1
        cost = np.zeros(len(p))
        extra = diff  # extra of every node at level 0 (the leaves)
        for level in range(1, height + 1):
            child_parent = _child_parent(s, level)
            width = int(s.parents[level].max()) + 1
            pos = np.zeros((len(p), width))
            neg = np.zeros((len(p), width))
            np.add.at(pos.T, child_parent, np.maximum(extra, 0).T)
            np.add.at(neg.T, child_parent, np.maximum(-extra, 0).T)
            cost += (level / height) * np.minimum(pos, neg).sum(axis=1)
            extra = pos - neg
        return cost
    return np.asarray(0.5 * np.abs(diff).sum(axis=1))


def _child_parent(s: Sensitive, level: int) -> IntArray:
    """For each node at ``level - 1``, its parent's index at ``level``."""
    width = int(s.parents[level - 1].max()) + 1
    out = np.zeros(width, dtype=np.int64)
    out[s.parents[level - 1]] = s.parents[level]
    return out


@dataclass(frozen=True)
class ClassCheck:
    """Per-class verdicts and measures (``l_*`` and ``t`` are worst over sensitive attributes)."""

    ok: BoolArray
    sizes: IntArray
    l_distinct: IntArray
    l_entropy: FloatArray
    t: FloatArray


def check_classes(
    cls: IntArray,
    n: int,
    weight: IntArray,
    models: Models,
    sensitive: list[Sensitive],
    reference: list[FloatArray] | None = None,
    prefilter: int | None = None,
) -> ClassCheck:
    """Which classes satisfy ``models``; ``reference`` the overall distributions for t-closeness.

    With ``prefilter``, stops after the size check when more than that many records already fail.
    """
    sizes = np.bincount(cls, weights=weight, minlength=n).astype(np.int64)
    ok = sizes >= (models.k or 1)
    if prefilter is not None and int(weight[~ok[cls]].sum()) > prefilter:
        # k alone already suppresses too much: the other models cannot help (callers only need ok)
        empty = np.zeros(n)
        return ClassCheck(ok, sizes, np.zeros(n, dtype=np.int64), empty, empty)
    l_distinct = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    l_entropy = np.full(n, np.inf)
    t = np.zeros(n)
    for i, s in enumerate(sensitive):
        if models.l is not None or models.t is None:
            distinct, ent, recursive = diversity(cls, n, s, weight, sizes, models.c, models.l or 1)
            l_distinct = np.minimum(l_distinct, distinct)
            l_entropy = np.minimum(l_entropy, ent)
            if models.l is not None:
                if models.l_variant == "distinct":
                    ok &= distinct >= models.l
                elif models.l_variant == "entropy":
                    ok &= ent >= models.l - EPS
                else:
                    ok &= recursive
        if models.t is not None:
            q = reference[i] if reference is not None else overall(s, weight)
            dist = emd(distribution(cls, n, s, weight), q, s)
            t = np.maximum(t, dist)
            ok &= dist <= models.t + EPS
    return ClassCheck(ok, sizes, l_distinct, l_entropy, t)


def overall(s: Sensitive, weight: IntArray) -> FloatArray:
    """The whole table's distribution of the sensitive value (t-closeness's reference)."""
    counts = np.bincount(s.codes, weights=weight, minlength=s.m)
    return np.asarray(counts / max(counts.sum(), 1), dtype=np.float64)
