"""The default engine: DuckDB in-process, one fresh in-memory connection per query; and
``quiet_connect``, the one way dataex's services open a DuckDB connection of their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from dataex.engines.sql import quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def quiet_connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that draws no progress bar, in a terminal or in Jupyter.

    DuckDB refuses ``enable_progress_bar`` in ``connect(config=...)`` (a global option), and inside
    Jupyter without ipywidgets it refuses any change to the setting, even to ``false``; there the bar
    is off already. So the setting is switched off only where it is on.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    on = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    if on is not None and on[0]:
        con.execute("SET enable_progress_bar = false")
    return con


class DuckDBEngine:
    """DuckDB: each Parquet file becomes a view; every other file and network access is switched off."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads

    def execute(self, sql: str, tables: Mapping[str, str]) -> pa.Table:
        import duckdb

        config: dict[str, str | bool | int | float | list[str]] = {}
        if self.threads is not None:
            config["threads"] = self.threads
        con = duckdb.connect(":memory:", config=config)
        try:
            # Only the named files are readable: defence in depth behind the SQL whitelist.
            allowed = ", ".join(quote_literal(path) for path in tables.values())
            con.execute(f"SET allowed_paths = [{allowed}]")
            con.execute("SET enable_external_access = false")
            for name, path in tables.items():
                con.execute(
                    f"CREATE VIEW {quote_ident(name)} AS SELECT * FROM read_parquet({quote_literal(path)})"
                )
            con.execute("SET lock_configuration = true")
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()
