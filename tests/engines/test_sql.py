"""SQL quoting: identifiers and literals survive any text, and DuckDB reads them back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataex.engines.duckdb import quiet_connect
from dataex.engines.sql import quote_ident, quote_literal

AWKWARD = ['plain', 'with space', 'a"b', "it's", '""', "''", "back\\slash", "诊断", "x; DROP TABLE t; --"]


def test_the_quoting_rules() -> None:
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal(Path("/tmp/o'k.parquet")) == "'/tmp/o''k.parquet'"


@pytest.mark.parametrize("text", AWKWARD)
def test_duckdb_reads_back_what_was_quoted(text: str) -> None:
    con = quiet_connect()
    try:
        cursor = con.execute(f"SELECT {quote_literal(text)} AS {quote_ident(text)}")
        names, rows = [d[0] for d in cursor.description or []], cursor.fetchall()
    finally:
        con.close()
    assert names == [text]
    assert rows == [(text,)]
