"""Anonymize an Arrow table under a spec: validate, encode, search or partition, measure.

Pure: no node, no database. :mod:`dataex.privacy.anonymize.service` adds the dataset, the
registration of the result and the log.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from dataex.errors import AnonymizationInfeasible, InvalidInput
from dataex.privacy.anonymize import hierarchies as hier
from dataex.privacy.anonymize import lattice, mondrian, risk, utility
from dataex.privacy.anonymize.hierarchies import Encoded, Hierarchy
from dataex.privacy.anonymize.models import IntArray, LVariant, Models, Sensitive, check_classes, overall

Algorithm = Literal["optimal", "mondrian"]
ALGORITHMS = ("optimal", "mondrian")
METRICS = ("entropy", "loss", "discernibility")
L_VARIANTS = ("distinct", "entropy", "recursive")


@dataclass(frozen=True)
class Spec:
    """What to anonymize and how; ``hierarchies`` maps a column to an ARX CSV file."""

    qi: list[str]
    sensitive: list[str] = field(default_factory=list)
    k: int | None = None
    l: int | None = None  # noqa: E741
    l_variant: LVariant = "distinct"
    c: float = 3.0
    t: float | None = None
    max_suppression: float = 0.0
    hierarchies: dict[str, str] = field(default_factory=dict)
    algorithm: Algorithm = "optimal"
    metric: lattice.Metric = "entropy"
    drop: list[str] = field(default_factory=list)
    target: str | None = None

    @property
    def models(self) -> Models:
        return Models(k=self.k, l=self.l, l_variant=self.l_variant, c=self.c, t=self.t)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """A release and its measurements; ``table`` leaves suppressed rows out."""

    table: pa.Table
    spec: Spec
    levels: dict[str, int] | None
    suppressed: int
    achieved: dict[str, Any]
    risk: dict[str, Any]
    utility: dict[str, Any]
    hierarchies: dict[str, dict[str, str]]
    search: dict[str, Any]
    rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The input rows released, in order: row ``i`` of ``table`` is input row ``rows[i]``."""


def validate(spec: Spec, table: pa.Table) -> None:
    """Refuses bad parameters before any work, naming the bad value."""
    names = table.column_names
    for col in [
        *spec.qi,
        *spec.sensitive,
        *spec.hierarchies,
        *spec.drop,
        *([spec.target] if spec.target else []),
    ]:
        if col not in names:
            raise InvalidInput(f"no column {col!r} in the dataset; columns: {', '.join(names)}")
    both = [c for c in spec.qi if c in spec.sensitive]
    if both:
        raise InvalidInput(f"column {both[0]!r} is both a quasi-identifier and sensitive")
    if not spec.qi:
        raise InvalidInput("give at least one quasi-identifier (--qi)")
    if spec.k is None and spec.l is None and spec.t is None:
        raise InvalidInput("give at least one privacy model: --k, --l or --t")
    if spec.k is not None and not 2 <= spec.k <= table.num_rows:
        raise InvalidInput(f"k must be between 2 and the row count {table.num_rows}; got {spec.k}")
    if (spec.l is not None or spec.t is not None) and not spec.sensitive:
        raise InvalidInput("l-diversity and t-closeness need a sensitive attribute (--sensitive)")
    if spec.l is not None:
        if spec.l < 2:
            raise InvalidInput(f"l must be at least 2; got {spec.l}")
        for s in spec.sensitive:
            distinct = len(hier.distinct_strings(table[s]))
            if spec.l > distinct:
                raise InvalidInput(f"l={spec.l} exceeds the {distinct} distinct values of {s!r}")
    if spec.l_variant not in L_VARIANTS:
        raise InvalidInput(
            f"unknown l-diversity variant {spec.l_variant!r}; use one of {', '.join(L_VARIANTS)}"
        )
    if spec.l_variant == "recursive" and not spec.c > 0:
        raise InvalidInput(f"c must be positive; got {spec.c}")
    if spec.t is not None and not 0 < spec.t <= 1:
        raise InvalidInput(f"t must be in (0, 1]; got {spec.t}")
    if not 0 <= spec.max_suppression <= 1:
        raise InvalidInput(f"max suppression must be in [0, 1]; got {spec.max_suppression}")
    if spec.algorithm not in ALGORITHMS:
        raise InvalidInput(f"unknown algorithm {spec.algorithm!r}; use optimal or mondrian")
    if spec.metric not in METRICS:
        raise InvalidInput(f"unknown metric {spec.metric!r}; use one of {', '.join(METRICS)}")


def load_hierarchy(spec: Spec, table: pa.Table, col: str) -> Hierarchy:
    path = spec.hierarchies.get(col)
    return hier.read_arx(Path(path), column=col) if path else hier.automatic(table[col], name=col)


def _numeric(table: pa.Table, col: str, spec: Spec) -> bool:
    t = table[col].type
    return col not in spec.hierarchies and (pa.types.is_integer(t) or pa.types.is_floating(t))


def encode_sensitive(table: pa.Table, col: str, h: Hierarchy | None) -> Sensitive:
    """Codes of a sensitive column, with the distance t-closeness uses for it."""
    numeric = pa.types.is_integer(table[col].type) or pa.types.is_floating(table[col].type)
    if h is not None:
        e = hier.encode(table[col], h, name=col)
        return Sensitive(col, e.codes, len(e.maps[0]), "hierarchical", None, e.maps)
    e = hier.encode(table[col], hier.flat(hier.distinct_strings(table[col]), column=col), name=col)
    m = len(e.maps[0])
    if numeric:
        values = pd.to_numeric(pd.Series(e.labels[0]), errors="coerce").to_numpy(dtype=np.float64)
        rank = np.empty(m, dtype=np.int64)
        rank[np.argsort(values, kind="stable")] = np.arange(m)
        return Sensitive(col, e.codes, m, "ordered", rank)
    return Sensitive(col, e.codes, m, "equal")


def anonymize_table(table: pa.Table, spec: Spec) -> Outcome:
    """Runs ``spec`` on ``table``; raises ``AnonymizationInfeasible`` with the best achievable."""
    validate(spec, table)
    started = time.perf_counter()
    hs = {c: load_hierarchy(spec, table, c) for c in spec.qi}
    qis = [hier.encode(table[c], hs[c], name=c) for c in spec.qi]
    sens_h = {
        s: hier.read_arx(Path(spec.hierarchies[s]), column=s) for s in spec.sensitive if s in spec.hierarchies
    }
    sensitive = [encode_sensitive(table, s, sens_h.get(s)) for s in spec.sensitive]
    n = table.num_rows
    before = risk.measure(np.bincount(_raw_classes(qis)))
    if spec.algorithm == "optimal":
        gen, kept, levels, info = _optimal(qis, sensitive, spec, n)
        cells = np.stack(
            [q.leaves[lv][q.maps[lv][q.codes]] for q, lv in zip(qis, levels.values(), strict=True)], 1
        )
        cell_loss = (cells - 1) / np.array([max(q.domain - 1, 1) for q in qis])
    else:
        gen, cell_loss, info = _mondrian(qis, sensitive, spec, table)
        kept, levels = np.ones(n, dtype=bool), None
    suppressed = int(n - kept.sum())
    loss = float(np.where(kept[:, None], cell_loss, 1.0).sum() / (n * len(qis)))
    entropy = sum(
        utility.non_uniform_entropy(q.codes, pd.factorize(g)[0]) for q, g in zip(qis, gen, strict=True)
    )
    classes = pd.factorize(pd.MultiIndex.from_arrays([pd.factorize(g)[0] for g in gen]))[0]
    population = np.bincount(classes)
    released = np.bincount(classes[kept], minlength=len(population))
    after = risk.measure(released, population)
    achieved = _achieved(classes[kept], sensitive, kept, n)
    util = utility.summary(
        sizes=released, suppressed=suppressed, rows=n, k=spec.k, entropy=entropy, loss=loss
    )
    if spec.target is not None:
        target = np.asarray(table[spec.target].to_numpy(zero_copy_only=False))[kept]
        original = {q.name: q.labels[0][q.codes][kept] for q in qis}
        util["ml"] = utility.ml_utility(
            original, {q.name: g[kept] for q, g in zip(qis, gen, strict=True)}, target
        )
    out = table.filter(pa.array(kept))
    for q, g in zip(qis, gen, strict=True):
        out = out.set_column(
            out.column_names.index(q.name), q.name, pa.array(g[kept].astype(str), pa.string())
        )
    out = out.drop_columns(spec.drop)
    info["seconds"] = round(time.perf_counter() - started, 3)
    digests = {c: {"sha256": h.digest(), "kind": h.kind} for c, h in {**hs, **sens_h}.items()}
    return Outcome(
        out,
        spec,
        levels,
        suppressed,
        achieved,
        {"before": before, "after": after},
        util,
        digests,
        info,
        np.flatnonzero(kept).astype(np.int64),
    )


def _raw_classes(qis: list[Encoded]) -> IntArray:
    return np.asarray(pd.factorize(pd.MultiIndex.from_arrays([q.codes for q in qis]))[0], dtype=np.int64)


def _optimal(
    qis: list[Encoded], sensitive: list[Sensitive], spec: Spec, n: int
) -> tuple[list[npt.NDArray[np.object_]], npt.NDArray[np.bool_], dict[str, int], dict[str, Any]]:
    units = lattice.fold(qis, sensitive)
    limit = math.floor(spec.max_suppression * n + 1e-9)
    try:
        found = lattice.search(qis, units, spec.models, spec.metric, limit)
    except ValueError as e:
        raise InvalidInput(f"{e}; use --algorithm mondrian or coarser hierarchies") from e
    if found.best is None:
        top = found.top
        best = _best_achievable(top.check, top.suppressed_units, units.weight, n)
        raise AnonymizationInfeasible(
            f"no generalization satisfies {spec.models.describe()} with at most {limit} suppressed records; "
            f"even the most general one needs {top.suppressed} suppressed; best achievable: {best}",
            best=best,
        )
    ev = found.best
    levels = dict(zip(spec.qi, ev.node, strict=True))
    gen = [q.labels[lv][q.maps[lv][q.codes]] for q, lv in zip(qis, ev.node, strict=True)]
    kept = ~ev.suppressed_units[units.inverse]
    info = {
        "algorithm": "optimal",
        "nodes": found.nodes,
        "evaluated": found.evaluated,
        "metric_value": ev.loss,
    }
    return gen, kept, levels, info


def _best_achievable(check: Any, bad: npt.NDArray[np.bool_], weight: IntArray, n: int) -> dict[str, Any]:
    """What the most general transformation achieves without suppression."""
    return {
        "k": int(check.sizes[check.sizes > 0].min()),
        "l_distinct": int(check.l_distinct.min()) if np.isfinite(check.l_entropy.min()) else None,
        "l_entropy": float(check.l_entropy.min()) if np.isfinite(check.l_entropy.min()) else None,
        "t": float(check.t.max()),
        "suppression_needed": float(weight[bad].sum() / n),
    }


def _mondrian(
    qis: list[Encoded], sensitive: list[Sensitive], spec: Spec, table: pa.Table
) -> tuple[list[npt.NDArray[np.object_]], npt.NDArray[np.float64], dict[str, Any]]:
    numbers = [
        pd.to_numeric(pd.Series(q.labels[0]), errors="coerce").to_numpy(dtype=np.float64)
        if _numeric(table, q.name, spec)
        else None
        for q in qis
    ]
    ords = [mondrian.ordinal(q, num) for q, num in zip(qis, numbers, strict=True)]
    whole = check_classes(
        np.zeros(table.num_rows, dtype=np.int64),
        1,
        np.ones(table.num_rows, dtype=np.int64),
        spec.models,
        sensitive,
    )
    if not whole.ok[0]:
        best = _best_achievable(
            whole,
            np.ones(table.num_rows, dtype=bool),
            np.ones(table.num_rows, dtype=np.int64),
            table.num_rows,
        )
        raise AnonymizationInfeasible(
            f"even the whole table as one class does not satisfy {spec.models.describe()}; "
            f"best achievable: {best}",
            best=best,
        )
    p = mondrian.partition(ords, sensitive, spec.models)
    gen, loss = [], []
    for j, (q, o, num) in enumerate(zip(qis, ords, numbers, strict=True)):
        gen.append(mondrian.labels(q, o, p.lo[:, j], p.hi[:, j], num)[p.part])
        loss.append(mondrian.cell_loss(q, o, p.lo[:, j], p.hi[:, j], num)[p.part])
    info = {"algorithm": "mondrian", "partitions": len(p.lo), "rounds": p.rounds}
    return gen, np.stack(loss, axis=1), info


def _achieved(
    classes: IntArray, sensitive: list[Sensitive], kept: npt.NDArray[np.bool_], rows: int
) -> dict[str, Any]:
    """k, l and t of the released records; t against the **input's** distribution (all ``rows``
    records, suppressed ones included), the reference the search and t-closeness define."""
    if len(classes) == 0:
        return {"k": 0}
    compact, n = pd.factorize(classes)
    ones = np.ones(len(compact), dtype=np.int64)
    out: dict[str, Any] = {"k": int(np.bincount(compact).min())}
    for s in sensitive:
        sub = Sensitive(s.name, s.codes[kept], s.m, s.distance, s.rank, s.parents)
        reference = [overall(s, np.ones(rows, dtype=np.int64))]
        chk = check_classes(compact.astype(np.int64), len(n), ones, Models(t=1.0, l=1), [sub], reference)
        out[s.name] = {
            "l_distinct": int(chk.l_distinct.min()),
            "l_entropy": float(chk.l_entropy.min()),
            "t": float(chk.t.max()),
            "t_distance": s.distance,
            "t_reference": "input",
        }
    return out
