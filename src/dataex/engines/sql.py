"""Quoting for the SQL dataex writes by hand (DuckDB, and the ANSI rules Spark SQL shares).

An identifier is double-quoted with every ``"`` doubled; a string literal is single-quoted with
every ``'`` doubled. Nothing else is escaped: neither DuckDB nor ANSI SQL treats a backslash
specially inside either form. Use them for names and values the SQL text must carry (column
names, file paths, option values); values that can be bound as parameters (``?``) should be.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["quote_ident", "quote_literal"]


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted: ``a"b`` → ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str | PathLike[str]) -> str:
    """A SQL string literal, single-quoted: ``it's`` → ``'it''s'``; a path is quoted as its text."""
    return "'" + str(text).replace("'", "''") + "'"


INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
"""DuckDB's integer type names (a column type starts with one of them)."""
FRACTIONAL_TYPES = ("FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC")
"""DuckDB's other numeric type names (``DECIMAL(18,3)`` starts with ``DECIMAL``)."""
