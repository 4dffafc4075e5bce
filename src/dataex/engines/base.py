"""The one SQL-execution interface: an engine runs a query over named Parquet files.

An engine is two attributes and one method, so a fake for unit tests is a few lines::

    class Engine(Protocol):
        name: str        # "duckdb", "spark"
        dialect: str     # the sqlglot dialect its SQL is written in
        def execute(self, sql, tables) -> pyarrow.Table

``tables`` maps a view name used in ``sql`` to a local Parquet path; the engine exposes each file
under that name (read-only) for the duration of the call. Services write their SQL once (sqlglot
expressions) and render it in ``engine.dialect``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa


@runtime_checkable
class Engine(Protocol):
    """Runs one read-only SQL query over Parquet files and returns the result as an Arrow table."""

    name: str
    dialect: str

    def execute(self, sql: str, tables: Mapping[str, str]) -> pa.Table:
        """Runs ``sql`` (in ``self.dialect``) with each ``tables`` name bound to that Parquet file."""
        ...
