"""The Spark engine runs the same rewritten query (sqlglot → Spark SQL) with the same answers.

One SparkSession (``local[2]``) is shared by the whole module and started once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dataex.privacy.dp import mechanisms, query
from tests.conftest import Node
from tests.privacy.dp import QUERY, dp_market, small_visits

pytestmark = pytest.mark.slow


def test_spark_and_duckdb_agree_exactly_and_spark_answers_noisily(sqlite_node: Node, tmp_path: Path) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "visits.csv", units=50, per_unit=4))
    ex, me = dm.m.ex, dm.m.insurer.party
    sqls = [QUERY, "SELECT MEDIAN(age) AS med, COUNT(DISTINCT patient_id) AS p FROM visits WHERE cost > 10"]
    with mechanisms.exact_mode():
        for sql in sqls:
            duck = query(ex, dm.contract.id, sql, epsilon=0.2, actor=me, engine="duckdb")
            spark = query(ex, dm.contract.id, sql, epsilon=0.2, actor=me, engine="spark")
            assert spark.engine == "spark"
            assert spark.rows == duck.rows
    noisy = query(ex, dm.contract.id, QUERY, epsilon=0.5, actor=me, engine="spark")
    assert [r["diagnosis"] for r in noisy.rows] == ["A", "B", "C", "Z"]
    plan = query(ex, dm.contract.id, QUERY, epsilon=0.5, actor=me, engine="spark", explain=True)
    assert plan.explain is not None and "VALUES" in plan.explain["sql"]
