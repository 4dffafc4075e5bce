"""The differential test on Spark: random whitelisted predicates answer alike on neighbouring datasets.

Same predicates, neighbours and status as tests/privacy/dp/test_differential.py (DuckDB), with few
examples: Spark shares one ``local[2]`` session per process and each query costs a Spark job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from dataex.engines import get_engine
from dataex.engines.spark import spark_session
from tests.privacy.dp.strategies import neighbours, queries, status
from tests.privacy.dp.test_differential import ATTACKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return neighbours(tmp_path_factory.mktemp("neighbours"))


def test_known_attacks_are_answered_on_both_neighbours_by_spark(pair: tuple[Path, Path]) -> None:
    spark = get_engine("spark")
    spark_session().conf.set("spark.sql.ansi.enabled", "true")  # Spark 4's default raises on x / 0
    where = " OR ".join(f"({a})" for a in ATTACKS)  # one Spark job for all of them
    for prebounded in (True, False):
        sql = f"SELECT COUNT(*) AS n, SUM(cost) AS s FROM t WHERE {where}"
        assert [status(spark, sql, p, prebounded=prebounded) for p in pair] == ["ok", "ok"]


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=queries)
def test_random_predicates_have_the_same_status_on_neighbours_in_spark(
    pair: tuple[Path, Path], sql: str
) -> None:
    spark = get_engine("spark")
    small, large = (status(spark, sql, p, prebounded=True) for p in pair)
    assert small == large, sql
