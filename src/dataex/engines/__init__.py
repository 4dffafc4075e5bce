"""SQL engines behind one interface (:class:`Engine`): DuckDB (default) and Apache Spark."""

from __future__ import annotations

from typing import Final

from dataex.engines.base import Engine
from dataex.engines.duckdb import DuckDBEngine
from dataex.errors import InvalidInput

ENGINES: Final[tuple[str, ...]] = ("duckdb", "spark")
DEFAULT_ENGINE: Final = "duckdb"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "get_engine"]


def get_engine(name: str | Engine | None = None) -> Engine:
    """The engine called ``name`` (default DuckDB); an :class:`Engine` instance is returned as is."""
    if name is not None and not isinstance(name, str):
        return name
    chosen = name or DEFAULT_ENGINE
    if chosen == "duckdb":
        return DuckDBEngine()
    if chosen == "spark":
        # lazy: Spark is an optional extra (pyspark) and starts a JVM
        from dataex.engines.spark import SparkEngine

        return SparkEngine()
    raise InvalidInput(f"unknown engine {chosen!r}; use one of {', '.join(ENGINES)}")
