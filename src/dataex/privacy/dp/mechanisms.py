"""Noise from OpenDP, and the release of a plan's exact aggregates as noisy values with intervals.

Every statistic is an integer before noise (counts; sums on an integer grid of ``step``), so all
noise is OpenDP's **discrete Laplace** (``make_laplace`` on an integer vector domain, L1 metric),
sampled exactly and fast for thousands of groups. Medians use OpenDP's ``make_noisy_max``
(report-noisy-max, equivalent to the exponential mechanism) over integer rank scores computed in
SQL. Keys without a declared domain pass OpenDP's ``make_laplace_threshold``. Each mechanism's
scale is checked with OpenDP's own privacy map against its ε share before it runs.

``exact_mode()`` switches noise off for the exactness tests; it only works inside pytest and no
CLI option or API field reaches it. Exact answers are never cached.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from dataex.errors import DataexError

if TYPE_CHECKING:
    import pyarrow as pa

    from dataex.privacy.dp.rewrite import Measurement, Plan

CONFIDENCE: Final = 0.95
_EXACT: ContextVar[bool] = ContextVar("dataex_dp_exact", default=False)


@contextmanager
def exact_mode() -> Iterator[None]:
    """TEST ONLY: release exact aggregates (no noise). Refuses to run outside pytest."""
    if "pytest" not in sys.modules:
        raise RuntimeError("exact (noise-free) DP mode exists for the test suite only")
    token = _EXACT.set(True)
    try:
        yield
    finally:
        _EXACT.reset(token)


def is_exact() -> bool:
    return _EXACT.get()


@cache
def _dp() -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _checked(measurement: Any, d_in: Any, epsilon: float) -> Any:
    loss = measurement.map(d_in)
    eps = loss[0] if isinstance(loss, tuple) else loss
    if eps > epsilon * (1 + 1e-9):
        raise DataexError(f"internal: a mechanism would spend ε={eps} > its share {epsilon}")
    return measurement


def laplace_vector(values: list[int], *, sensitivity: int, epsilon: float) -> list[int]:
    """Discrete Laplace noise of scale ``sensitivity / epsilon`` on each value (one OpenDP call)."""
    if not values or is_exact():
        return list(values)
    dp = _dp()
    scale = sensitivity / epsilon
    meas = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale)
    out: list[int] = _checked(meas, sensitivity, epsilon)(values)
    return out


def noisy_argmin(scores: list[int], *, sensitivity: int, epsilon: float) -> int:
    """The index of a low score, chosen by OpenDP's report-noisy-max (negated), scale 2Δ/ε."""
    if is_exact():
        return min(range(len(scores)), key=lambda j: (scores[j], j))
    dp = _dp()
    meas = dp.m.make_noisy_max(
        dp.vector_domain(dp.atom_domain(T="i64")),
        dp.linf_distance(T="i64", monotonic=False),
        dp.max_divergence(),
        scale=2 * sensitivity / epsilon,
        negate=True,
    )
    return int(_checked(meas, sensitivity, epsilon)(scores))


def threshold_counts(
    counts: dict[str, int], *, sensitivity: int, epsilon: float, delta: float, floor: int
) -> tuple[dict[str, int], int]:
    """OpenDP's Laplace threshold: noisy counts of the keys above a threshold; and that threshold."""
    dp = _dp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
    d_in = (sensitivity, sensitivity, sensitivity)

    def make(t: int) -> Any:
        return dp.m.make_laplace_threshold(domain, metric, scale=sensitivity / epsilon, threshold=t)

    least = int(dp.binary_search(lambda t: make(t).map(d_in)[1] <= delta, bounds=(sensitivity, 2**31 - 1)))
    threshold = max(least, floor)
    if is_exact():
        return {k: v for k, v in counts.items() if v >= threshold}, threshold
    out: dict[str, int] = _checked(make(threshold), d_in, epsilon)(counts)
    return out, threshold


EXACT_LIMIT: Final = 2**62
"""Exact aggregates are clamped into [-2⁶², 2⁶²] before noise, so that OpenDP's 64-bit integers
never overflow whatever the data (clamping moves no two values further apart: same sensitivity)."""


def clamp_exact(value: Any) -> int:
    """An exact aggregate as an integer in [-EXACT_LIMIT, EXACT_LIMIT] (NULL, from no rows: 0)."""
    if value is None:
        return 0
    return max(-EXACT_LIMIT, min(EXACT_LIMIT, int(value)))


def half_width(scale: float) -> int:
    """Half-width of the central 95% interval of discrete Laplace noise with this scale (integers)."""
    return half_width_at(scale, CONFIDENCE)


@dataclass(frozen=True)
class Release:
    columns: list[str]
    rows: list[dict[str, Any]]
    intervals: list[dict[str, list[float] | None]]
    threshold: int | None


def release(plan: Plan, table: pa.Table) -> Release:
    """Noisy values and 95% intervals for every output of every group of ``table`` (the exact SQL's)."""
    data = table.to_pydict()
    n = table.num_rows
    keys = [tuple(data[k][i] for k in plan.keys) for i in range(n)]
    noisy: dict[str, list[float]] = {}
    threshold = None
    kept = list(range(n))
    if plan.threshold_measurement is not None:
        name = plan.threshold_measurement
        counts = {json.dumps(_key(keys[i])): clamp_exact(data[name][i]) for i in range(n)}
        m = plan.measurement(name)
        passed, threshold = threshold_counts(
            counts,
            sensitivity=m.sensitivity,
            epsilon=m.epsilon,
            delta=plan.delta,
            floor=plan.threshold or 1,
        )
        kept = [i for i in range(n) if json.dumps(_key(keys[i])) in passed]
        noisy[name] = [float(passed[json.dumps(_key(keys[i]))]) for i in kept]
    for m in plan.measurements:
        if m.name in noisy:
            continue
        if m.kind == "median":
            noisy[m.name] = [_median(m, data, i) for i in kept]
            continue
        values = [clamp_exact(data[m.name][i]) for i in kept]
        out = laplace_vector(values, sensitivity=m.sensitivity, epsilon=m.epsilon)
        noisy[m.name] = [v * m.step for v in out]
    rows: list[dict[str, Any]] = []
    intervals: list[dict[str, list[float] | None]] = []
    for pos, i in enumerate(kept):
        row: dict[str, Any] = {}
        spans: dict[str, list[float] | None] = {}
        for o in plan.outputs:
            if o.kind == "key":
                row[o.name] = _jsonable(data[plan.keys[plan.key_columns.index(str(o.column))]][i])
                continue
            row[o.name], spans[o.name] = _combine(plan, o.kind, o.measurements, noisy, pos)
        rows.append(row)
        intervals.append(spans)
    order = _ordered(plan, rows)
    return Release(
        columns=[o.name for o in plan.outputs],
        rows=[rows[i] for i in order],
        intervals=[intervals[i] for i in order],
        threshold=threshold,
    )


def noise_scale(m: Measurement) -> float:
    """The Laplace scale of a measurement in value units (median: the noisy-max Gumbel scale)."""
    if m.kind == "median":
        return 2 * m.sensitivity / m.epsilon
    return m.sensitivity / m.epsilon * m.step


def _combine(
    plan: Plan, kind: str, names: tuple[str, ...], noisy: dict[str, list[float]], pos: int
) -> tuple[float | int, list[float] | None]:
    first = plan.measurement(names[0])
    if kind == "median":
        return noisy[first.name][pos], None
    scale = first.sensitivity / first.epsilon
    hw = 0 if is_exact() else half_width(scale)
    if kind in ("count", "count_column", "count_distinct"):
        count_value = round(noisy[first.name][pos])
        return count_value, [float(count_value - hw), float(count_value + hw)]
    if kind == "sum":
        total = noisy[first.name][pos]
        return _round(total, first.step), [
            _round(total - hw * first.step, first.step),
            _round(total + hw * first.step, first.step),
        ]
    # AVG = offset + noisy centered sum / noisy count, clamped to the bounds (post-processing).
    count = plan.measurement(names[1])
    assert first.bounds is not None
    lo, hi = first.bounds
    s, c = noisy[first.name][pos], noisy[count.name][pos]
    # 95% overall: each of the two noisy inputs lies in its 97.5% interval (union bound).
    hs = float(0 if is_exact() else half_width_at(scale, 0.975)) * first.step
    hc = float(0 if is_exact() else half_width_at(count.sensitivity / count.epsilon, 0.975))
    mean = min(hi, max(lo, first.offset + s / c)) if c > 0 else (lo + hi) / 2
    if c - hc <= 0:
        return mean, [lo, hi]
    corners = [first.offset + (s + a) / (c + b) for a in (-hs, hs) for b in (-hc, hc)]
    return mean, [max(lo, min(corners)), min(hi, max(corners))]


@cache  # a pure function of its two numbers, called once per released value
def half_width_at(scale: float, confidence: float) -> int:
    """The smallest integer t with P(|X| > t) <= 1 - confidence for discrete Laplace X of this scale.

    P(|X| >= t) = 2 e^{-t/b} / (1 + e^{-1/b}) for t >= 1, so t = ceil(b ln(2 / ((1-c)(1+e^{-1/b})))) - 1.
    """
    if scale <= 0:
        return 0
    t = scale * math.log(2 / ((1 - confidence) * (1 + math.exp(-1 / scale))))
    return max(0, math.ceil(t) - 1)


def _median(m: Measurement, data: dict[str, list[Any]], i: int) -> float:
    scores = [abs(int(data[f"{m.name}_c{j}"][i])) for j in range(len(m.candidates))]
    return m.candidates[noisy_argmin(scores, sensitivity=m.sensitivity, epsilon=m.epsilon)]


def _round(value: float, step: float) -> float:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(value, digits)


def _key(values: tuple[Any, ...]) -> list[Any]:
    return [_jsonable(v) for v in values]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _ordered(plan: Plan, rows: list[dict[str, Any]]) -> list[int]:
    order = list(range(len(rows)))
    if plan.order_by:
        for name, desc in reversed(plan.order_by):
            order.sort(key=lambda i: (rows[i][name] is None, rows[i][name]), reverse=desc)
    elif plan.keys:
        names = [o.name for o in plan.outputs if o.kind == "key"]
        order.sort(key=lambda i: tuple(str(rows[i][n]) for n in names))
    return order[: plan.limit] if plan.limit is not None else order
