"""Column-level detection over a Parquet file: sample with DuckDB, validate, combine with header hints.

For each column: a reservoir sample of up to ``SAMPLE_SIZE`` non-null values (fixed seed, one
streaming pass per column, so 10 million rows cost what 10,000 do plus a scan), the share of
distinct sampled values each recognizer validates (weighted by their counts), and the header
hints. Strong recognizers (check digits, strict grammars) may type a column from values alone;
weak ones (names, addresses, passports, dates of birth, diagnoses) need a hint or an overwhelming
share. Long text columns are scanned with ``find_all`` and reported as ``free_text_with_pii`` with
span counts per kind. Nothing here returns, logs or stores a value.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb

from dataex.engines.duckdb import quiet_connect
from dataex.engines.sql import INTEGER_TYPES, quote_ident, quote_literal
from dataex.privacy.detect import RECOGNIZERS, Recognizer, find_all
from dataex.privacy.detect.identity import resident_id_birth_date
from dataex.privacy.detect.people import parse_date
from dataex.privacy.grading import MINORS_GRADE, grade_of, grade_of_spans, highest

SAMPLE_SIZE: Final = 10_000
SEED: Final = 20250101
TEXT_SCAN: Final = 2_000
PROBE: Final = 300
MATERIALIZE_BYTES: Final = 32 << 20
"""Parquet files up to this size are loaded into memory once for classification."""
MINOR_AGE: Final = 14
_DIGIT_KINDS: Final = frozenset({"cn_resident_id", "cn_mobile", "bank_card", "credit_card"})
_AGE_HINT: Final = re.compile(r"年龄|周岁|^age$|^age_|_age$|^nl$", re.IGNORECASE)
_TEXT_TYPES: Final = ("VARCHAR", "STRING", "TEXT")
_STRONG_KINDS: Final = frozenset(r.kind for r in RECOGNIZERS if r.strong)
_OTHER_CODES: Final = re.compile(
    r"customer|client|account|order|product|sku|item|store|shop|branch|supplier|vendor|invoice|"
    r"ticket|seat|room|cabin|cabinet|locker|客户|订单|产品|商品|货号|门店|供应商|发票|座位|房间",
    re.IGNORECASE,
)
_INT_TYPES: Final = INTEGER_TYPES


@dataclass(frozen=True)
class FieldResult:
    """What classification says about one column (never a value)."""

    name: str
    type: str
    confidence: float
    category: str
    grade: str
    spans: dict[str, int] | None = None
    note: str | None = None
    share: float | None = None
    """Free text: the share of scanned rows holding at least one identifier."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "confidence": self.confidence,
            "category": self.category,
            "grade": self.grade,
        }
        if self.spans is not None:
            out["spans"] = dict(self.spans)
        if self.share is not None:
            out["share"] = self.share
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Detection:
    grade: str
    fields: list[FieldResult]
    minors: bool = False
    """True when the data holds people under 14 (then the dataset grade is at least general-4)."""
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Guess:
    type: str
    confidence: float
    spans: dict[str, int] | None = None
    share: float | None = None


def _source(con: duckdb.DuckDBPyConnection, path: str) -> str:
    """The table to read: a small local file is loaded once into memory (one query per column on
    a wide file would otherwise parse the file's metadata once per column); else the file itself."""
    reader = f"read_parquet({quote_literal(path)})"
    local = Path(path)
    if local.is_file() and local.stat().st_size <= MATERIALIZE_BYTES:
        con.execute(f"CREATE TEMP TABLE dx_source AS SELECT * FROM {reader}")
        return "dx_source"
    return reader


def _sample(con: duckdb.DuckDBPyConnection, src: str, column: str, size: int, seed: int) -> Counter[str]:
    """Counts of the distinct values in a reservoir sample of the column's non-null values."""
    col = quote_ident(column)
    rows = con.execute(
        f"SELECT v, count(*) FROM (SELECT trim(CAST({col} AS VARCHAR)) AS v FROM "
        f"(SELECT {col} FROM {src} WHERE {col} IS NOT NULL) "
        f"USING SAMPLE reservoir({int(size)} ROWS) REPEATABLE ({int(seed)})) WHERE v <> '' GROUP BY v"
    ).fetchall()
    return Counter({str(v): int(n) for v, n in rows})


def _share(r: Recognizer, values: Counter[str], total: int) -> float:
    return sum(n for v, n in values.items() if r.validate(v)) / total if total else 0.0


def _judge(r: Recognizer, share: float, hinted: bool, *, text: bool, codes: bool = False) -> float | None:
    """Confidence that a column is of ``r.kind``, or None when the evidence is too weak."""
    kind = r.kind
    if kind == "medical_diagnosis":
        if hinted and text:
            return round(0.7 + 0.3 * share, 3)
        return round(0.9 * share, 3) if share >= 0.9 and not codes else None
    if kind in ("date_of_birth", "passport"):
        return round(0.5 + share / 2, 3) if hinted and share >= 0.5 else None
    if r.strong:
        if share >= 0.6 or (hinted and share >= 0.2):
            return round(share + (1 - share) / 2 if hinted else share, 3)
        return None
    if hinted and share >= 0.5:
        return round(0.5 + share / 2, 3)
    return round(0.8 * share, 3) if share >= 0.9 else None


def _guess(name: str, sql_type: str, values: Counter[str]) -> _Guess:
    total = sum(values.values())
    text = sql_type.upper().startswith(_TEXT_TYPES)
    integer = sql_type.upper().startswith(_INT_TYPES)
    dated = sql_type.upper().startswith(("DATE", "TIMESTAMP"))
    if total == 0 or not (text or integer or dated):
        return _Guess("none", 1.0)
    probe = Counter(dict(list(values.items())[:PROBE]))
    probe_total = sum(probe.values())
    best: tuple[float, int, str] | None = None
    for rank, r in enumerate(RECOGNIZERS):
        if (integer and r.kind not in _DIGIT_KINDS) or (dated and r.kind != "date_of_birth"):
            continue
        hinted = r.hinted(name)
        if not hinted and r.kind != "medical_diagnosis" and _share(r, probe, probe_total) < 0.05:
            continue
        codes = r.kind == "medical_diagnosis" and not hinted and _codes_of_something_else(name, values)
        confidence = _judge(r, _share(r, values, total), hinted, text=text, codes=codes)
        if confidence is not None and (best is None or (confidence, -rank) > (best[0], -best[1])):
            best = (confidence, rank, r.kind)
    if best is not None:
        return _Guess(best[2], best[0])
    if text:
        found = _scan_text(values, every_kind=_looks_like_text(values, total))
        if found is not None:
            return found
    best_share = max((_share(r, probe, probe_total) for r in RECOGNIZERS if r.strong), default=0.0)
    return _Guess("none", round(1.0 - best_share, 3))


def _looks_like_text(values: Counter[str], total: int) -> bool:
    mean = sum(len(v) * n for v, n in values.items()) / total
    return mean >= 12


def _codes_of_something_else(name: str, values: Counter[str]) -> bool:
    """ICD-10-shaped values that are codes of something else: the header names a non-medical code
    (``customer``, ``sku``, ``客户编号`` …), or every code falls in one or two chapters (``C0``…``C96``
    are customer numbers far more often than a diagnosis column without a header hint)."""
    if _OTHER_CODES.search(name):
        return True
    chapters = {v[:1].upper() for v in values if v[:1].isalpha()}
    return len(chapters) < 3


def _scan_text(values: Counter[str], *, every_kind: bool) -> _Guess | None:
    """Identifiers embedded in text, with the share of scanned rows that hold one. Short text
    counts only the validated kinds (check digits, strict grammars); long text every kind."""
    counts: Counter[str] = Counter()
    scanned = hit = 0
    for v, n in values.most_common():
        if scanned >= TEXT_SCAN:
            break
        take = min(n, TEXT_SCAN - scanned)
        spans = [s for s in find_all(v) if every_kind or s.kind in _STRONG_KINDS]
        for s in spans:
            counts[s.kind] += take
        scanned += take
        hit += take if spans else 0
    if not counts:
        return _Guess("none", 1.0) if every_kind else None
    share = round(hit / scanned, 3)
    return _Guess("free_text_with_pii", round(0.5 + share / 2, 3), dict(sorted(counts.items())), share)


def _minors(
    con: duckdb.DuckDBPyConnection,
    src: str,
    columns: list[tuple[str, str]],
    samples: dict[str, Counter[str]],
    guesses: dict[str, _Guess],
) -> bool:
    """Whether the data holds people under 14: an age column, dates of birth, or resident IDs."""
    today = dt.datetime.now(dt.UTC).date()
    limit = dt.date(today.year - MINOR_AGE, today.month, min(today.day, 28))
    for name, sql_type in columns:
        if _AGE_HINT.search(name) and sql_type.upper().startswith(_INT_TYPES):
            col = quote_ident(name)
            young = con.execute(
                f"SELECT count(*) FROM {src} WHERE {col} >= 0 AND {col} < {MINOR_AGE}"
            ).fetchone()
            if young and young[0]:
                return True
        kind = guesses[name].type
        if kind in ("date_of_birth", "cn_resident_id"):
            parse = parse_date if kind == "date_of_birth" else resident_id_birth_date
            if any((born := parse(v)) is not None and born > limit for v in samples[name]):
                return True
    return False


def detect_parquet(
    src: str,
    columns: list[tuple[str, str]] | None = None,
    *,
    sample_size: int = SAMPLE_SIZE,
    seed: int = SEED,
) -> Detection:
    """Classifies every column of the Parquet file at ``src`` (a local path or DuckDB-readable URL)."""
    con = quiet_connect()
    try:
        src = _source(con, src)
        if columns is None:
            described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
            columns = [(str(r[0]), str(r[1])) for r in described]
        timings: dict[str, float] = {}
        samples: dict[str, Counter[str]] = {}
        guesses: dict[str, _Guess] = {}
        for name, sql_type in columns:
            t0 = time.perf_counter()
            samples[name] = _sample(con, src, name, sample_size, seed)
            t1 = time.perf_counter()
            guesses[name] = _guess(name, sql_type, samples[name])
            timings[name] = round(time.perf_counter() - t0, 4)
            timings[f"{name}:sample"] = round(t1 - t0, 4)
        minors = _minors(con, src, columns, samples, guesses)
    finally:
        con.close()
    fields = [_result(name, guesses[name]) for name, _ in columns]
    return Detection(dataset_grade(fields, minors=minors), fields, minors, timings)


def dataset_grade(fields: list[FieldResult], *, minors: bool) -> str:
    """The highest field grade; personal data of minors under 14 is sensitive (PIPL art. 28), so a
    dataset holding any personal field and minors is at least ``general-4``."""
    grades = [f.grade for f in fields]
    if minors and any(f.category != "non_personal" for f in fields):
        grades.append(MINORS_GRADE)
    return highest(grades)


def _result(name: str, g: _Guess) -> FieldResult:
    if g.spans is not None:
        category, grade = grade_of_spans(g.spans)
    else:
        category, grade = grade_of(g.type)
    return FieldResult(name, g.type, g.confidence, category, grade, g.spans, share=g.share)
