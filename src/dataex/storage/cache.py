"""Derived files a node may rebuild at any time (``<home>/cache/…``): written once, renamed into place.

A cached file is named by everything it is derived from, so a name never refers to two contents; a
reader either finds the complete file or builds it. Two processes building the same file at once
each write their own temporary file and the last rename wins with identical content.
"""

from __future__ import annotations

from pathlib import Path

from dataex.engines.sql import quote_literal
from dataex.identity.parties import new_id


def materialize(target: Path, select_sql: str) -> Path:
    """Writes the rows of DuckDB ``select_sql`` to ``target`` (zstd Parquet) unless it exists."""
    if target.exists():
        return target
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.stem}.{new_id('tmp')}.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"COPY ({select_sql}) TO {quote_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    tmp.replace(target)
    return target
