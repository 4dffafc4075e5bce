"""Value formats as SQL: what ``valid: <kind>`` rules and the normativity score check.

The hot kinds are pure DuckDB SQL, vectorised, so a 10-million-row column is checked in the same
scan as everything else: ``cn_resident_id`` (province prefix, real birth date, ISO 7064 MOD 11-2
check character — the same rules as :class:`dataex.privacy.detect.identity.ResidentId`), ``cn_mobile``
(allocated MIIT blocks, optional +86), ``email`` and ``date`` (ISO / slash / compact dates in text).
Every other kind the privacy recognizers know (bank cards with Luhn, USCC, IBAN, ...) runs as a
DuckDB Python UDF that calls the recognizer's own ``validate``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import duckdb

from dataex.privacy.detect import RECOGNIZERS

_PROVINCES = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83"
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MOBILE = r"((\+|00)?86)?1(3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])[0-9]{8}"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"


def _resident_id(q: str) -> str:
    v = f"upper(trim({q}))"
    checksum = " + ".join(f"{w} * (ascii(substr({v}, {i + 1}, 1)) - 48)" for i, w in enumerate(_WEIGHTS))
    provinces = ", ".join(f"'{p}'" for p in _PROVINCES.split())
    born18 = f"try_strptime(substr({v}, 7, 8), '%Y%m%d')"
    born15 = f"try_strptime('19' || substr({v}, 7, 6), '%Y%m%d')"
    return (
        f"(substr({v}, 1, 2) IN ({provinces}) AND CASE"
        f" WHEN regexp_full_match({v}, '[1-9][0-9]{{16}}[0-9X]') THEN"
        f" {born18} BETWEEN TIMESTAMP '1890-01-01' AND current_date"
        f" AND substr('10X98765432', (({checksum}) % 11) + 1, 1) = substr({v}, 18, 1)"
        f" WHEN regexp_full_match({v}, '[1-9][0-9]{{14}}') THEN {born15} IS NOT NULL"
        f" ELSE false END)"
    )


def _mobile(q: str) -> str:
    return f"regexp_full_match(regexp_replace(trim({q}), '[ ()-]', '', 'g'), '{_MOBILE}')"


def _email(q: str) -> str:
    return f"regexp_full_match(trim({q}), '{_EMAIL}')"


def _date(q: str) -> str:
    v = f"trim({q})"
    return (
        f"coalesce(try_strptime({v}, '%Y-%m-%d'), try_strptime({v}, '%Y/%m/%d'),"
        f" try_strptime({v}, '%Y%m%d'), try_strptime({v}, '%Y-%m-%d %H:%M:%S')) IS NOT NULL"
    )


SQL_KINDS: dict[str, Callable[[str], str]] = {
    "cn_resident_id": _resident_id,
    "cn_mobile": _mobile,
    "email": _email,
    "date": _date,
}


@cache
def _recognizers() -> dict[str, Callable[[str], bool]]:
    """The privacy recognizers' ``validate`` by kind."""
    return {r.kind: r.validate for r in RECOGNIZERS}


def KINDS() -> frozenset[str]:
    """Every kind a ``valid:`` rule may name."""
    return frozenset(SQL_KINDS) | frozenset(_recognizers())


def strong_kinds() -> dict[str, Callable[[str], bool]]:
    """Kinds whose validation is strict enough to type a column from its values alone."""
    return {r.kind: r.validate for r in RECOGNIZERS if r.strong}


def _udf_name(kind: str) -> str:
    return f"dataex_valid_{kind}"


def valid_sql(kind: str, q: str) -> str:
    """SQL that is true when the value of column expression ``q`` is a valid ``kind``."""
    if kind in SQL_KINDS:
        return SQL_KINDS[kind](f"{q}::VARCHAR")
    return f"{_udf_name(kind)}({q}::VARCHAR)"


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    """Registers one scalar UDF per recognizer kind not expressed in SQL."""
    for kind, validate in _recognizers().items():
        if kind in SQL_KINDS:
            continue

        con.create_function(_udf_name(kind), _as_udf(validate), ["VARCHAR"], "BOOLEAN", side_effects=False)


def _as_udf(validate: Callable[[str], bool]) -> Callable[[str], bool]:
    def fn(value: str) -> bool:
        return bool(validate(value))

    return fn
