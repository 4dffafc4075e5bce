"""De-identification operators: masking, keyed pseudonymization, generalization, suppression.

Each operator works on one Python value; the cheap ones also exist as DuckDB SQL expression
builders (``mask_sql``, ``generalize_date_sql``, ``age_band_sql``, ``suppress_sql``) so extracts can
apply them in the engine, and :func:`register_pseudonymize` makes ``pseudonymize`` callable from SQL.

Pseudonyms are ``HMAC-SHA-256(key, context || 0x00 || value)``, truncated to 16 bytes and printed as
``ps_`` + hex: deterministic for one node key and one context (a contract id), so joins still work
inside a contract and nothing links across contracts. The node key (32 random bytes) lives in
``<home>/pseudonym.key``, mode 0600, created on first use with ``O_EXCL``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from dataex.engines.sql import quote_ident
from dataex.errors import InvalidInput
from dataex.identity import keys
from dataex.privacy.detect.gazetteer import CITIES, PROVINCES
from dataex.privacy.detect.people import parse_date

if TYPE_CHECKING:
    import duckdb

MaskKind = Literal["cn_resident_id", "cn_mobile", "person_name", "email", "bank_card", "generic"]
MASK_KINDS: Final = ("cn_resident_id", "cn_mobile", "person_name", "email", "bank_card", "generic")
KEY_FILE: Final = "pseudonym.key"
KEY_BYTES: Final = 32
PSEUDONYM_PREFIX: Final = "ps_"
PSEUDONYM_BYTES: Final = 16

# kind -> (characters kept at the start, characters kept at the end)
_KEEP: Final[dict[str, tuple[int, int]]] = {
    "cn_resident_id": (6, 4),  # area code and the last four: 110101********1234
    "cn_mobile": (3, 4),  # 138****5678
    "bank_card": (6, 4),  # issuer (BIN) and the last four, as card receipts print them
    "generic": (1, 1),
}


def _check_kind(kind: str) -> None:
    if kind not in MASK_KINDS:
        raise InvalidInput(f"unknown mask kind {kind!r}; use one of {', '.join(MASK_KINDS)}")


def mask(value: str | None, kind: str, *, char: str = "*") -> str | None:
    """Hides the middle of ``value`` the way Chinese forms and receipts do (None stays None)."""
    _check_kind(kind)
    if value is None:
        return None
    v = value.strip()
    if kind == "person_name":
        return v[:1] + char * (len(v) - 1) if len(v) > 1 else char
    if kind == "email":
        local, at, domain = v.partition("@")
        if not at:
            return mask(v, "generic", char=char)
        return f"{local[:1]}{char * 3}@{domain}"
    head, tail = _KEEP[kind]
    if kind == "cn_mobile":
        v = re.sub(r"[\s-]", "", v)
        if v.startswith(("+86", "0086")) and len(v) > 11:
            v = v[-11:]
    if len(v) <= head + tail:
        return char * len(v)
    return v[:head] + char * (len(v) - head - tail) + v[len(v) - tail :]


def load_or_create_key(home: Path) -> bytes:
    """The node's pseudonymization key: ``<home>/pseudonym.key`` (created on first use, mode 0600)."""
    return keys.load_or_create_secret(home / KEY_FILE, KEY_BYTES)


def pseudonymize(value: str | None, key: bytes, *, context: str) -> str | None:
    """A stable pseudonym of ``value`` for this key and context (None stays None)."""
    if value is None:
        return None
    if len(key) < 16:
        raise InvalidInput("a pseudonymization key needs at least 16 bytes")
    mac = hmac.new(key, context.encode() + b"\x00" + value.encode(), hashlib.sha256)
    return PSEUDONYM_PREFIX + mac.digest()[:PSEUDONYM_BYTES].hex()


def generalize_date(value: dt.date | str | None, *, to: Literal["month", "year"] = "month") -> str | None:
    """``1985-03-17`` → ``1985-03`` (month) or ``1985`` (year); unparseable values are suppressed."""
    if value is None:
        return None
    day = value if isinstance(value, dt.date) else parse_date(value)
    if day is None:
        return None
    return f"{day.year:04d}-{day.month:02d}" if to == "month" else f"{day.year:04d}"


def age_band(age: int | None, *, width: int = 10, top: int | None = 90) -> str | None:
    """``37`` → ``30-39`` for bands of ``width``; ages at or above ``top`` become ``90+``."""
    if width < 1:
        raise InvalidInput("an age band needs a width of at least 1")
    if age is None or age < 0:
        return None
    if top is not None and age >= top:
        return f"{top}+"
    low = age // width * width
    return f"{low}-{low + width - 1}"


_PROVINCE_SUFFIX: Final = r"(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)?"


def generalize_address(value: str | None, *, to: Literal["province", "city"] = "city") -> str | None:
    """Keeps only the province (``浙江省``) or the province and city (``浙江省杭州市``) of an address."""
    if value is None:
        return None
    v = value.strip()
    province = next((p for p in sorted(PROVINCES, key=len, reverse=True) if v.startswith(p)), None)
    rest = v
    out = ""
    if province is not None:
        m = re.match(re.escape(province) + _PROVINCE_SUFFIX, v)
        out = m.group(0) if m else province
        rest = v[len(out) :]
        if to == "province" or province in ("北京", "天津", "上海", "重庆"):
            return out
    m = re.match(r"[\u4e00-\u9fff]{1,7}?(?:市|自治州|地区|盟)", rest)
    if m is not None:
        return out + m.group(0)
    city = next((c for c in CITIES if rest.startswith(c)), None)
    if city is not None:
        return out + city
    return out or None


def suppress(_value: object) -> None:
    """Suppression: whatever the value, it is removed (NULL in the output)."""
    return None


# -- DuckDB SQL --------------------------------------------------------------------------------------


def mask_sql(column: str, kind: str) -> str:
    """A DuckDB expression masking ``column`` as :func:`mask` does (NULL stays NULL)."""
    _check_kind(kind)
    c = f"trim(CAST({quote_ident(column)} AS VARCHAR))"
    if kind == "person_name":
        return f"CASE WHEN length({c}) > 1 THEN left({c}, 1) || repeat('*', length({c}) - 1) ELSE '*' END"
    if kind == "email":
        return (
            f"CASE WHEN position('@' IN {c}) > 0 THEN left({c}, 1) || '***' || "
            f"substr({c}, position('@' IN {c})) ELSE {mask_sql(column, 'generic')} END"
        )
    head, tail = _KEEP[kind]
    if kind == "cn_mobile":
        c = f"right(regexp_replace({c}, '[\\s-]', '', 'g'), 11)"
    return (
        f"CASE WHEN length({c}) <= {head + tail} THEN repeat('*', length({c})) ELSE "
        f"left({c}, {head}) || repeat('*', length({c}) - {head + tail}) || right({c}, {tail}) END"
    )


def generalize_date_sql(column: str, *, to: Literal["month", "year"] = "month") -> str:
    """A DuckDB expression for :func:`generalize_date` on a DATE (or ISO date text) column."""
    fmt = "%Y-%m" if to == "month" else "%Y"
    return f"strftime(TRY_CAST({quote_ident(column)} AS DATE), '{fmt}')"


def age_band_sql(column: str, *, width: int = 10, top: int | None = 90) -> str:
    """A DuckDB expression for :func:`age_band` on an integer column."""
    if width < 1:
        raise InvalidInput("an age band needs a width of at least 1")
    c = f"TRY_CAST({quote_ident(column)} AS BIGINT)"
    low = f"(({c} // {width}) * {width})"
    band = f"CAST({low} AS VARCHAR) || '-' || CAST({low} + {width - 1} AS VARCHAR)"
    cap = f"WHEN {c} >= {int(top)} THEN '{int(top)}+' " if top is not None else ""
    return f"CASE WHEN {c} IS NULL OR {c} < 0 THEN NULL {cap}ELSE {band} END"


def suppress_sql(column: str) -> str:
    """A DuckDB expression for suppression: NULL of the column's type."""
    return f"CAST(NULL AS VARCHAR) AS {quote_ident(column)}"


def register_pseudonymize(con: duckdb.DuckDBPyConnection, key: bytes, *, context: str) -> str:
    """Registers ``pseudonymize(VARCHAR) -> VARCHAR`` (bound to key and context) on ``con``.

    HMAC is not a DuckDB built-in, so this is a Python UDF (NULL in, NULL out); returns its name.
    """

    def fn(value: str) -> str | None:
        return pseudonymize(value, key, context=context)

    name = "pseudonymize"
    con.create_function(name, fn, ["VARCHAR"], "VARCHAR", side_effects=False)
    return name
