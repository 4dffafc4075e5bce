"""The noise itself: its distribution matches the stated scale, and neighbours stay ε-close."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dataex.privacy.dp import mechanisms, query
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.rewrite import plan_query
from dataex.privacy.dp.settings import PrivacySettings
from tests.conftest import Node
from tests.privacy.dp import dp_market, small_visits

RELEASES = 20_000
"""Enough releases that a 0.1% test level still tells a wrong scale from the stated one."""


def test_many_releases_of_one_count_follow_the_stated_discrete_laplace() -> None:
    settings = PrivacySettings("ds_x", "patient_id", 3, domains={"d": ["a"]})
    plan = plan_query(
        parse("SELECT COUNT(*) AS n FROM t"), settings=settings,
        types={"d": "VARCHAR", "patient_id": "VARCHAR"}, dataset_id="ds_x", epsilon=0.5,
    )  # fmt: skip
    m = plan.measurements[0]
    scale = m.sensitivity / m.epsilon
    assert scale == 6.0  # k / ε = 3 / 0.5
    noisy = mechanisms.laplace_vector([1000] * RELEASES, sensitivity=m.sensitivity, epsilon=m.epsilon)
    noise = np.asarray(noisy) - 1000
    stated = stats.dlaplace(1 / scale)
    # Kolmogorov–Smirnov distance, evaluated between the integers (scipy's kstest assumes a continuous law).
    grid = np.arange(-60, 61) + 0.5
    empirical = np.searchsorted(np.sort(noise), grid, side="right") / RELEASES
    distance = float(np.max(np.abs(empirical - stated.cdf(grid))))
    critical = 1.95 / math.sqrt(RELEASES)  # 0.1% level: real noise, so the test must not flake in CI
    assert distance < critical
    assert float(np.max(np.abs(empirical - stats.dlaplace(1 / (2 * scale)).cdf(grid)))) > critical
    hw = mechanisms.half_width(scale)
    assert 0.94 <= float(np.mean(np.abs(noise) <= hw)) <= 0.97


def test_neighbouring_datasets_are_indistinguishable_beyond_epsilon(
    sqlite_node: Node, tmp_path: Path
) -> None:
    """One unit added (k rows): the best threshold test's advantage is within e^ε (plus sampling)."""
    small = dp_market(sqlite_node, small_visits(tmp_path / "d.csv", units=40))
    sql = "SELECT COUNT(*) AS n FROM d WHERE age >= 0"
    with mechanisms.exact_mode():
        exact = query(small.m.ex, small.contract.id, sql, epsilon=1.0, actor=small.m.insurer.party)
    base = exact.rows[0]["n"]
    neighbour = base + 2  # the added patient contributes its k = 2 rows
    epsilon = 1.0
    a = np.asarray(mechanisms.laplace_vector([base] * 20000, sensitivity=2, epsilon=epsilon))
    b = np.asarray(mechanisms.laplace_vector([neighbour] * 20000, sensitivity=2, epsilon=epsilon))
    worst = 0.0
    for t in range(base - 6, neighbour + 7):
        p, q = float(np.mean(b >= t)), float(np.mean(a >= t))
        if min(p, q, 1 - p, 1 - q) < 0.05:
            continue  # too few samples for a stable ratio
        worst = max(worst, math.log(p / q), math.log((1 - q) / (1 - p)))
    assert worst <= epsilon + 0.1
    assert worst >= 0.5 * epsilon  # the check can fail: the two are really distinguishable a bit


@pytest.mark.parametrize("scale", [0.5, 6.0, 1e6])
def test_half_width_is_the_95_percent_point(scale: float) -> None:
    dist = stats.dlaplace(1 / scale)
    t = mechanisms.half_width(scale)
    inside = dist.cdf(t) - dist.cdf(-t - 1)
    assert inside >= 0.95
    assert dist.cdf(t - 1) - dist.cdf(-t) < 0.95
