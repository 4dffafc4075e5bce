"""Empirical differential privacy: measured ε ≤ claimed ε on worst-case neighbours (docs/dp.md §8).

Method (a held-out threshold test in the style of DP-Sniper, Bichsel et al., S&P 2021):

1. Neighbours D and D' = D plus one privacy unit whose ``k`` rows push every output as far as the
   sensitivity allows (cost at the upper bound, age in the WHERE range, one group).
2. The service's plan (``plan_query``) and its exact SQL run once per dataset (DuckDB). The exact
   result is replicated N times and released by **``mechanisms.release``**, the function the service
   and PSI-then-DP call: the discrete Laplace noise is i.i.d. per value (one OpenDP call per
   measurement), so row i of the replicated release is an independent release of the query.
3. Each side's N samples are split in halves. On the **training** half, for every statistic of the
   output (each value; for vectors also their sum) and every threshold t among 60 quantiles, the
   events {s ≥ t} and {s ≤ t} are scored in both directions by ln(CP_lo(P̂[M(D)∈S]) / CP_hi(P̂[M(D')∈S]));
   the best event S is fixed. On the **held-out** half only that S is evaluated: with Clopper–Pearson
   bounds at one-sided level α = 5·10⁻⁸, ε_lo = ln(CP_lo(p) / CP_hi(q)).
4. If the mechanism is ε-DP, P[M(D)∈S] ≤ e^ε P[M(D')∈S] for every S, so ε_lo > ε only if one of the
   two held-out bounds fails: probability ≤ 2α = 10⁻⁷ per mechanism. Five mechanisms: the suite fails
   wrongly with probability ≤ 5·10⁻⁷ < 10⁻⁶ (union bound). A control shows the test has power: the
   same release at twice the claimed ε is caught (its ε_lo exceeds the claim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import beta

from dataex.engines import get_engine
from dataex.privacy.dp import mechanisms
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.rewrite import VIEW, plan_query
from dataex.privacy.dp.settings import PrivacySettings

ALPHA = 5e-8
"""One-sided level of each Clopper–Pearson bound (two per mechanism, five mechanisms: 5·10⁻⁷)."""
N = 20_000
"""Releases per dataset and half (training, held-out): 40 000 per dataset per mechanism."""
EPSILON = 1.0
K = 2
SETTINGS = PrivacySettings(
    "ds_x",
    "patient_id",
    K,
    bounds={"cost": (0.0, 250.0), "age": (0.0, 120.0)},
    domains={"diagnosis": ["A", "B", "C"]},
)
TYPES = {"patient_id": "VARCHAR", "diagnosis": "VARCHAR", "age": "BIGINT", "cost": "DOUBLE"}
MECHANISMS = {
    "count": ("SELECT COUNT(*) AS n FROM t WHERE age >= 60", True),
    "sum": ("SELECT SUM(cost) AS s FROM t WHERE age >= 60", True),
    "avg": ("SELECT AVG(cost) AS a FROM t WHERE age >= 60", True),
    "grouped_count": ("SELECT diagnosis, COUNT(*) AS n FROM t GROUP BY diagnosis", True),
    # PSI-then-DP: the matched rows, bounded inside the query (prebounded=False), as thendp plans it
    "psi_then_dp": ("SELECT COUNT(*) AS n, SUM(cost) AS s FROM matched WHERE age >= 60", False),
}
POWER = {"count": 0.5, "sum": 0.5, "grouped_count": 0.5, "psi_then_dp": 0.25, "avg": -math.inf}
"""The least ε_lo each test must reach (× ε): one measurement's share bounds what one event shows."""


def rows(units: range, per_unit: int) -> list[dict[str, object]]:
    return [
        {"patient_id": f"P{u:03d}", "diagnosis": "ABC"[(u + j) % 3], "age": 30 + (u * 7 + j) % 60,
         "cost": float((u * 37 + j * 11) % 300)}
        for u in units for j in range(per_unit)
    ]  # fmt: skip


def extreme_unit(n_rows: int) -> list[dict[str, object]]:
    """One unit that moves every output by its full sensitivity: cost ≥ hi, age ≥ 60, one group."""
    return [{"patient_id": "PX", "diagnosis": "A", "age": 80, "cost": 400.0} for _ in range(n_rows)]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("empirical")
    # DP SQL reads the bounded copy (≤ k rows per unit); PSI-then-DP's matched rows are unbounded.
    pairs = {
        "copy": (rows(range(60), K), rows(range(60), K) + extreme_unit(K)),
        "matched": (rows(range(40), 3), rows(range(40), 3) + extreme_unit(5)),
    }
    out = {}
    for name, (small, large) in pairs.items():
        paths = (d / f"{name}.parquet", d / f"{name}_plus_one.parquet")
        for path, data in zip(paths, (small, large), strict=True):
            pq.write_table(pa.Table.from_pylist(data), path)
        out[name] = paths
    return out


@dataclass(frozen=True)
class Event:
    stat: int
    upper: bool  # {s >= t} if True, else {s <= t}
    threshold: float
    forward: bool  # D vs D' if True, else D' vs D


def samples(sql: str, prebounded: bool, path: Path, epsilon: float) -> np.ndarray:
    """N·2 independent releases of ``sql`` on ``path``: shape (2N, statistics)."""
    plan = plan_query(
        parse(sql), settings=SETTINGS, types=TYPES, dataset_id="ds_x", epsilon=epsilon, prebounded=prebounded
    )
    runner = get_engine("duckdb")
    exact = runner.execute(plan.sql_for(runner.dialect), {VIEW: str(path)})
    released = mechanisms.release(plan, pa.concat_tables([exact] * (2 * N)))
    values = [o.name for o in plan.outputs if o.kind != "key"]
    groups = exact.num_rows
    # rows are ordered by key (stable), so group g's releases are rows g·2N … (g+1)·2N − 1
    columns = [
        np.asarray([float(r[v]) for r in released.rows[g * 2 * N : (g + 1) * 2 * N]])
        for g in range(groups)
        for v in values
    ]
    if len(columns) > 1:
        columns.append(np.sum(columns, axis=0))
    return np.stack(columns, axis=1)


def cp_lower(x: np.ndarray, n: int) -> np.ndarray:
    return np.where(x > 0, beta.ppf(ALPHA, np.maximum(x, 1), n - x + 1), 0.0)


def cp_upper(x: np.ndarray, n: int) -> np.ndarray:
    return np.where(x < n, beta.ppf(1 - ALPHA, x + 1, np.maximum(n - x, 1)), 1.0)


def hits(values: np.ndarray, thresholds: np.ndarray, upper: bool) -> np.ndarray:
    ordered = np.sort(values)
    if upper:
        return len(values) - np.searchsorted(ordered, thresholds, side="left")
    return np.searchsorted(ordered, thresholds, side="right")


def choose_event(a: np.ndarray, b: np.ndarray) -> Event:
    """The event with the highest lower bound on the training halves."""
    best: tuple[float, Event] = (-math.inf, Event(0, True, 0.0, True))
    n = len(a)
    for stat in range(a.shape[1]):
        both = np.concatenate([a[:, stat], b[:, stat]])
        thresholds = np.unique(np.quantile(both, np.linspace(0.01, 0.99, 60)))
        for upper in (True, False):
            ha, hb = hits(a[:, stat], thresholds, upper), hits(b[:, stat], thresholds, upper)
            for forward, (p, q) in ((True, (ha, hb)), (False, (hb, ha))):
                score = np.log(np.maximum(cp_lower(p, n), 1e-300)) - np.log(cp_upper(q, n))
                i = int(np.argmax(score))
                if score[i] > best[0]:
                    best = (float(score[i]), Event(stat, upper, float(thresholds[i]), forward))
    return best[1]


def measured_epsilon(a: np.ndarray, b: np.ndarray) -> float:
    """ε_lo on the held-out halves for the event chosen on the training halves."""
    event = choose_event(a[:N], b[:N])
    test_a, test_b = a[N:, event.stat], b[N:, event.stat]
    t = np.asarray([event.threshold])
    p, q = hits(test_a, t, event.upper), hits(test_b, t, event.upper)
    if not event.forward:
        p, q = q, p
    lo, hi = float(cp_lower(p, N)[0]), float(cp_upper(q, N)[0])
    return math.log(lo / hi) if lo > 0 else -math.inf


def run(name: str, datasets: dict[str, tuple[Path, Path]], epsilon: float) -> float:
    sql, prebounded = MECHANISMS[name]
    small, large = datasets["copy" if prebounded else "matched"]
    return measured_epsilon(
        samples(sql, prebounded, small, epsilon), samples(sql, prebounded, large, epsilon)
    )


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_measured_epsilon_is_at_most_the_claimed_epsilon(
    name: str, datasets: dict[str, tuple[Path, Path]]
) -> None:
    measured = run(name, datasets, EPSILON)
    assert measured <= EPSILON, f"{name}: measured ε ≥ {measured:.3f} > claimed {EPSILON}"
    # power: a statistic of one measurement shows at most that measurement's share of ε (PSI-then-DP:
    # ε/2 each for COUNT and SUM); AVG divides two noisy measurements and shows far less
    assert measured > POWER[name] * EPSILON, f"{name}: the test lost its power ({measured:.3f})"
    print(f"{name}: measured ε_lo = {measured:.3f} (claimed {EPSILON})")


def test_the_test_catches_a_release_at_twice_the_claimed_epsilon(
    datasets: dict[str, tuple[Path, Path]],
) -> None:
    measured = run("count", datasets, 2 * EPSILON)
    assert measured > EPSILON, measured
    print(f"count at 2ε, claimed ε: measured ε_lo = {measured:.3f} (claimed {EPSILON})")
