"""Optimal full-domain generalization: search the lattice of hierarchy levels.

A *node* gives one level per quasi-identifier; the lattice orders nodes componentwise. The search
finds the node with the least information loss whose release (records in failing classes
suppressed) satisfies the privacy models with at most ``max_suppressed`` records suppressed.

Pruning, in the spirit of ARX's Flash (Kohlmayer et al. 2012), uses two monotonicity facts:

* every metric here has a *lower bound* that ignores suppression and never decreases upwards in the
  lattice (for ``entropy`` and ``loss`` it is additive over columns, so it is known for every node
  before any data is touched; for ``discernibility`` it is ``Σ |class|²`` of the evaluated node);
  nodes are visited in ascending bound order and the search stops once the bound reaches the best
  loss found; successors of a node whose bound already reaches it are skipped;
* for monotonic privacy models (k-anonymity, distinct l-diversity) a node below a failing node
  fails, and a node above a passing node passes, without looking at the data.

ARX's ``entropy`` (monotonic non-uniform entropy) ignores suppression, so the first passing node in
bound order is optimal. Evaluating a node is one vectorized group-by over the distinct rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataex.privacy.anonymize.hierarchies import Encoded
from dataex.privacy.anonymize.models import (
    ClassCheck,
    FloatArray,
    IntArray,
    Models,
    Sensitive,
    check_classes,
    overall,
)

Metric = Literal["entropy", "loss", "discernibility"]
MAX_NODES = 2_000_000
UNKNOWN, PASS, FAIL, DONE = 0, 1, 2, 3


@dataclass(frozen=True)
class Units:
    """The table folded into distinct (QI codes, sensitive codes) units with record counts."""

    qi: IntArray  # units × QIs leaf codes
    sensitive: list[Sensitive]
    weight: IntArray
    inverse: IntArray  # row -> unit
    rows: int


def fold(qis: list[Encoded], sensitive: list[Sensitive]) -> Units:
    """Groups identical rows (over QIs and sensitive attributes) into weighted units."""
    cols = np.stack([q.codes for q in qis] + [s.codes for s in sensitive], axis=1)
    uniq, inverse, counts = np.unique(cols, axis=0, return_inverse=True, return_counts=True)
    nq = len(qis)
    folded = [
        Sensitive(s.name, uniq[:, nq + i].astype(np.int64), s.m, s.distance, s.rank, s.parents)
        for i, s in enumerate(sensitive)
    ]
    return Units(uniq[:, :nq].astype(np.int64), folded, counts.astype(np.int64), inverse.ravel(), len(cols))


@dataclass(frozen=True)
class Evaluation:
    node: tuple[int, ...]
    classes: IntArray  # unit -> class index
    check: ClassCheck
    suppressed_units: npt.NDArray[np.bool_]
    suppressed: int
    loss: float
    bound: float


@dataclass(frozen=True)
class Outcome:
    best: Evaluation | None
    top: Evaluation
    evaluated: int
    nodes: int


class Search:
    """One search over the lattice for ``units`` under ``models`` and ``metric``."""

    def __init__(
        self, qis: list[Encoded], units: Units, models: Models, metric: Metric, max_suppressed: int
    ) -> None:
        self.qis, self.units, self.models, self.metric = qis, units, models, metric
        self.max_suppressed = max_suppressed
        self.dense_limit = 2 * len(units.weight)
        self.heights = np.array([q.height for q in qis], dtype=np.int64)
        self.reference = [overall(s, units.weight) for s in units.sensitive]
        self.cells = [self._cell_loss(i) for i in range(len(qis))]  # per QI: level -> unit cell loss

    def _cell_loss(self, i: int) -> list[FloatArray]:
        """Per level, each unit's loss in column ``i`` (entropy bits or generalization intensity)."""
        q, codes, w = self.qis[i], self.units.qi[:, i], self.units.weight
        out = []
        leaf_count = np.bincount(codes, weights=w, minlength=len(q.maps[0]))
        for level in range(q.height + 1):
            gen = q.maps[level]
            if self.metric == "entropy":
                gen_count = np.bincount(gen, weights=leaf_count)
                out.append(-np.log2(leaf_count[codes] / gen_count[gen[codes]]))
            else:
                denom = max(q.domain - 1, 1)
                out.append((q.leaves[level][gen[codes]] - 1) / denom)
        return out

    def bounds(self, nodes: IntArray) -> FloatArray:
        """The suppression-free loss of every node (additive metrics), else zeros."""
        if self.metric == "discernibility":
            return np.zeros(len(nodes))
        per = [np.array([float(c @ self.units.weight) for c in cells]) for cells in self.cells]
        total = np.zeros(len(nodes))
        for i, p in enumerate(per):
            total += p[nodes[:, i]]
        if self.metric == "loss":
            total /= self.units.rows * len(self.qis)
        return total

    def classes(self, node: tuple[int, ...]) -> tuple[IntArray, int]:
        """Class index per unit at ``node`` (dense keys when small, else a sort)."""
        key = np.zeros(len(self.units.weight), dtype=np.int64)
        span = 1
        for i, level in enumerate(node):
            q = self.qis[i]
            width = len(q.labels[level])
            key = key * width + q.maps[level][self.units.qi[:, i]]
            span *= width
        if span <= self.dense_limit:
            present = np.zeros(span, dtype=np.int64)
            present[key] = 1
            index = np.cumsum(present) - 1
            return index[key], int(index[-1]) + 1
        codes, uniq = pd.factorize(key, sort=False)
        return codes.astype(np.int64), len(uniq)

    def evaluate(self, node: tuple[int, ...], bound: float) -> Evaluation:
        cls, n = self.classes(node)
        w = self.units.weight
        check = check_classes(
            cls, n, w, self.models, self.units.sensitive, self.reference, prefilter=self.max_suppressed
        )
        bad = ~check.ok[cls]
        suppressed = int(w[bad].sum())
        if self.metric == "entropy":
            loss = bound
        elif self.metric == "loss":
            cell = sum(self.cells[i][lv] for i, lv in enumerate(node))
            extra = float(((len(node) - cell) * w)[bad].sum())
            loss = bound + extra / (self.units.rows * len(node))
        else:
            sizes = check.sizes
            bound = float((sizes.astype(np.float64) ** 2).sum())
            kept = sizes[check.ok].astype(np.float64)
            loss = float((kept**2).sum()) + float(suppressed) * self.units.rows
        return Evaluation(node, cls, check, bad, suppressed, loss, bound)

    def run(self) -> Outcome:
        shape = tuple(int(h) + 1 for h in self.heights)
        count = int(np.prod(shape))
        if count > MAX_NODES:
            raise ValueError(f"the lattice has {count} nodes (more than {MAX_NODES})")
        nodes = np.indices(shape).reshape(len(shape), -1).T.astype(np.int64)
        bound = np.round(self.bounds(nodes), 9)
        height = nodes.sum(axis=1)
        status = np.zeros(count, dtype=np.int8)  # UNKNOWN, PASS (implied), FAIL (implied), DONE
        best: Evaluation | None = None
        evaluated = 0
        monotone = self.models.monotonic
        while True:
            limit = best.loss if best is not None else np.inf
            open_ = (status != FAIL) & (status != DONE) & (bound < limit)
            if not open_.any():
                break
            idx = self._next(open_, status, bound, height, monotone)
            node = tuple(int(x) for x in nodes[idx])
            if status[idx] == PASS and self.metric == "entropy":
                best = self.evaluate(node, float(bound[idx]))
                break
            ev = self.evaluate(node, float(bound[idx]))
            evaluated += 1
            status[idx] = DONE
            above = np.all(nodes >= nodes[idx], axis=1)
            if self.metric == "discernibility":
                bound = np.where(above, np.maximum(bound, ev.bound), bound)
            if ev.suppressed > self.max_suppressed:
                if monotone:
                    status[np.all(nodes <= nodes[idx], axis=1) & (status != DONE)] = FAIL
                continue
            if monotone:
                status[above & (status == UNKNOWN)] = PASS
            if best is None or (ev.loss, sum(node)) < (best.loss, sum(best.node)):
                best = ev
        top = self.evaluate(tuple(int(h) for h in self.heights), 0.0)
        return Outcome(best, top, evaluated, count)

    @staticmethod
    def _next(
        open_: npt.NDArray[np.bool_],
        status: npt.NDArray[np.int8],
        bound: FloatArray,
        height: IntArray,
        monotone: bool,
    ) -> int:
        """Monotone models: the highest open node of unknown status (a failure there settles all
        nodes below it), else the open node with the least bound. Ties: least bound, lowest."""
        pick = open_ & (status == UNKNOWN) if monotone else open_
        if not pick.any():
            pick = open_
        cand = np.flatnonzero(pick)
        if monotone and (status[cand] == UNKNOWN).all():
            order = np.lexsort((cand, bound[cand], -height[cand]))
        else:
            order = np.lexsort((cand, height[cand], bound[cand]))
        return int(cand[order[0]])


def search(qis: list[Encoded], units: Units, models: Models, metric: Metric, max_suppressed: int) -> Outcome:
    """The optimal node (``Outcome.best``, None when infeasible) and the top node for diagnostics."""
    return Search(qis, units, models, metric, max_suppressed).run()
