"""Apache Spark through pyspark: ``local[2]`` by default, one SparkSession reused per process.

pyspark is imported lazily (``pip install 'pyspark>=4,<5'``, Java 17), so importing dataex never
starts a JVM; the session starts on the first query and lives until the process ends.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataex.errors import DataexError

if TYPE_CHECKING:
    import pyarrow as pa

_lock = threading.Lock()
_session: Any = None


def spark_session(master: str = "local[2]") -> Any:
    """The process-wide SparkSession (started on first use)."""
    global _session
    with _lock:
        if _session is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as e:  # pragma: no cover - depends on the installation
                raise DataexError(
                    "the Spark engine needs pyspark: pip install 'pyspark>=4,<5' (and Java 17)"
                ) from e
            _session = (
                SparkSession.builder.master(master)
                .appName("dataex")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.ansi.enabled", "false")
                .config("spark.driver.memory", "2g")
                .getOrCreate()
            )
            _session.sparkContext.setLogLevel("ERROR")
        return _session


class SparkEngine:
    """Spark SQL: each Parquet file becomes a temporary view in the shared session."""

    name = "spark"
    dialect = "spark"

    def __init__(self, *, master: str = "local[2]") -> None:
        import importlib.util

        # checked here, before a DP query is charged: after the charge every failure reads alike
        if importlib.util.find_spec("pyspark") is None:  # pragma: no cover - depends on the installation
            raise DataexError("the Spark engine needs pyspark: pip install 'pyspark>=4,<5' (and Java 17)")
        self.master = master

    def execute(self, sql: str, tables: Mapping[str, str]) -> pa.Table:
        spark = spark_session(self.master)
        with _lock:  # temp views are per session: one query at a time binds its names
            # ANSI mode (Spark 4's default) raises on x / 0 and overflow, i.e. depending on the data;
            # without it they give NULL (or wrap): set per query, whoever configured the session.
            spark.conf.set("spark.sql.ansi.enabled", "false")
            for name, path in tables.items():
                spark.read.parquet(str(path)).createOrReplaceTempView(name)
            try:
                result: pa.Table = spark.sql(sql).toArrow()
            finally:
                for name in tables:
                    spark.catalog.dropTempView(name)
        return result
