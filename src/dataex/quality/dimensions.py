"""The six quality dimensions of GB/T 36344-2018, each scored 0-100 (formulas in docs/quality.md).

Every score is 100 x a pass rate (or the mean of a few pass rates), so a score of 97 reads as
"3% of what was checked failed". The overall score is the plain mean of the six; the grade is
A (>= 90), B (>= 75), C (>= 60), else D.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from dataex.engines.sql import quote_ident
from dataex.quality.formats import valid_sql
from dataex.quality.profile import Profile, number_literal
from dataex.quality.rules import Rule

DIMENSIONS = ("normativity", "completeness", "accuracy", "consistency", "timeliness", "accessibility")
CHINESE = {
    "normativity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
}
IQR_FENCE = 3.0
"""Robust outliers: values beyond Q1 - 3 IQR or Q3 + 3 IQR (Tukey's "far out")."""
KEY_SHARE = 0.95
"""A column whose distinct count is at least this share of its values is treated as a key."""
DEFAULT_FREQUENCY_DAYS = 365
FREQUENCIES = (
    (r"daily|每日|每天|日更", 1),
    (r"weekly|每周", 7),
    (r"monthly|每月|月度", 31),
    (r"quarterly|每季|季度", 92),
    (r"yearly|annual|每年|年度", 365),
)
_SEX = re.compile(r"^(sex|gender|性别|xb)$", re.IGNORECASE)
_AGE = re.compile(r"^(age|年龄|nl)$", re.IGNORECASE)
_BIRTH = re.compile(r"birth|dob|出生", re.IGNORECASE)
_MALE = "('男', 'M', 'm', 'male', 'Male', 'MALE', '1')"
_KNOWN_SEX = (
    "('男', '女', 'M', 'F', 'm', 'f', 'male', 'female', 'Male', 'Female', 'MALE', 'FEMALE', '1', '2')"
)


def grade_of(score: float) -> str:
    return "A" if score >= 90 else "B" if score >= 75 else "C" if score >= 60 else "D"


@dataclass
class Context:
    """What the dimensions need besides the data: formats, metadata, the clock."""

    formats: dict[str, str]
    """Column → value kind checked for normativity (declared, classified or detected)."""
    documented: int
    license: str
    maintenance: str
    now: dt.datetime
    registered_at: dt.datetime
    cross: dict[str, str] = field(default_factory=dict)
    """Role (id, sex, age, birth) → column, for the resident-ID cross-field checks."""


def cross_columns(p: Profile, formats: dict[str, str]) -> dict[str, str]:
    """Finds the resident-ID column and the sex / age / birth-date columns to check it against."""
    ids = [c for c, k in formats.items() if k == "cn_resident_id"]
    if not ids:
        return {}
    roles = {"id": ids[0]}
    for c in p.columns:
        if _SEX.match(c.name) and c.kind == "string":
            roles.setdefault("sex", c.name)
        elif _AGE.match(c.name) and c.kind == "number":
            roles.setdefault("age", c.name)
        elif _BIRTH.search(c.name) and c.kind == "date":
            roles.setdefault("birth", c.name)
    return roles


def newest_date(p: Profile) -> dt.date | None:
    dates = [c.stats["max"] for c in p.of_kind("date") if c.stats.get("max")]
    return max(dt.date.fromisoformat(d[:10]) for d in dates) if dates else None


def _key_columns(p: Profile) -> list[str]:
    return [
        c.name
        for c in p.columns
        if c.kind in ("string", "number")
        and c.distinct >= KEY_SHARE * max(1, p.rows - c.nulls)
        and p.rows > 1
    ]


def checks(p: Profile, ctx: Context) -> dict[str, str]:
    """Pass-2 aggregate expressions for the dimensions (merged with histograms and rules)."""
    out: dict[str, str] = {}
    for col, kind in ctx.formats.items():
        q = quote_ident(col)
        out[f"bad:{col}"] = (
            f"count(*) FILTER (WHERE {q} IS NOT NULL AND trim({q}::VARCHAR) <> '' "
            f"AND NOT coalesce({valid_sql(kind, q)}, false))"
        )
    for c in p.of_kind("number"):
        q1, q3 = c.stats.get("q1"), c.stats.get("q3")
        if q1 is not None and q3 is not None and q3 > q1:
            lo, hi = q1 - IQR_FENCE * (q3 - q1), q3 + IQR_FENCE * (q3 - q1)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            q = quote_ident(c.name)
            out[f"out:{c.name}"] = (
                f"count(*) FILTER (WHERE {q}::DOUBLE < {number_literal(lo)} "
                f"OR {q}::DOUBLE > {number_literal(hi)})"
            )
    keys = _key_columns(p)
    rest = [c.name for c in p.columns if c.name not in keys]
    if keys and len(rest) >= 3:
        out["near_distinct"] = f"count(DISTINCT hash({', '.join(quote_ident(c) for c in rest)}))"
    out.update(_cross_exprs(p, ctx))
    return out


def _cross_exprs(p: Profile, ctx: Context) -> dict[str, str]:
    roles = ctx.cross
    if not roles:
        return {}
    v = f"upper(trim({quote_ident(roles['id'])}))"
    ok = f"(length({v}) = 18 AND coalesce({valid_sql('cn_resident_id', quote_ident(roles['id']))}, false))"
    born = f"try_strptime(substr({v}, 7, 8), '%Y%m%d')::DATE"
    out: dict[str, str] = {}
    if "sex" in roles:
        s = quote_ident(roles["sex"])
        on = f"{ok} AND {s} IN {_KNOWN_SEX}"
        male = f"((ascii(substr({v}, 17, 1)) - 48) % 2 = 1)"
        out["x:sex:checked"] = f"count(*) FILTER (WHERE {on})"
        out["x:sex:bad"] = f"count(*) FILTER (WHERE {on} AND {male} <> ({s} IN {_MALE}))"
    if "age" in roles:
        ref = (newest_date(p) or ctx.now.date()).isoformat()
        a = quote_ident(roles["age"])
        age = (
            f"(year(DATE '{ref}') - year({born}) - "
            f"(strftime(DATE '{ref}', '%m%d') < strftime({born}, '%m%d'))::INTEGER)"
        )
        on = f"{ok} AND {a} IS NOT NULL"
        out["x:age:checked"] = f"count(*) FILTER (WHERE {on})"
        out["x:age:bad"] = f"count(*) FILTER (WHERE {on} AND abs({a} - {age}) > 1)"
    if "birth" in roles:
        b = quote_ident(roles["birth"])
        on = f"{ok} AND {b} IS NOT NULL"
        out["x:birth:checked"] = f"count(*) FILTER (WHERE {on})"
        out["x:birth:bad"] = f"count(*) FILTER (WHERE {on} AND {b}::DATE <> {born})"
    return out


def _rate(bad: float, total: float) -> float:
    return 1.0 - bad / total if total > 0 else 1.0


def _score(*rates: float) -> float:
    return round(100 * sum(rates) / len(rates), 2) if rates else 100.0


@dataclass
class Scores:
    scores: dict[str, float]
    details: dict[str, dict[str, Any]]

    @property
    def overall(self) -> float:
        return round(sum(self.scores.values()) / len(self.scores), 2)


def _violations(rules: list[tuple[Rule, int]], kinds: tuple[str, ...]) -> list[tuple[Rule, int]]:
    return [(r, n) for r, n in rules if r.kind in kinds]


def normativity(
    p: Profile, ctx: Context, got: dict[str, Any], rules: list[tuple[Rule, int]]
) -> tuple[float, dict[str, Any]]:
    checked = {col: p.rows - p.column(col).missing for col in ctx.formats}
    bad = {col: int(got[f"bad:{col}"]) for col in ctx.formats}
    declared = _violations(rules, ("valid", "matches", "in_set"))
    total = sum(checked.values()) + len(declared) * p.rows
    failed = sum(bad.values()) + sum(n for _, n in declared)
    detail: dict[str, Any] = {
        "formats": {c: {"kind": k, "checked": checked[c], "bad": bad[c]} for c, k in ctx.formats.items()}
    }
    detail["rule_violations"] = sum(n for _, n in declared)
    return _score(_rate(failed, total)), detail


def completeness(p: Profile, rules: list[tuple[Rule, int]]) -> tuple[float, dict[str, Any]]:
    cells = p.rows * len(p.columns)
    missing = sum(c.missing for c in p.columns)
    cell = _rate(missing, cells)
    record = p.complete_rows / p.rows if p.rows else 1.0
    required = [r.columns[0] for r, _ in _violations(rules, ("not_null",))]
    req = min((_rate(p.column(c).missing, p.rows) for c in required), default=cell)
    detail: dict[str, Any] = {
        "cell_fill": round(cell, 6),
        "record_fill": round(record, 6),
        "required_fill": round(req, 6),
    }
    detail["required_fields"] = required
    return round(100 * (0.5 * cell + 0.25 * record + 0.25 * req), 2), detail


def accuracy(
    p: Profile, got: dict[str, Any], rules: list[tuple[Rule, int]], labels: tuple[int, int] | None
) -> tuple[float, dict[str, Any]]:
    outliers = {k[4:]: int(v) for k, v in got.items() if k.startswith("out:")}
    values = sum(p.rows - p.column(c).nulls for c in outliers)
    rates = [_rate(sum(outliers.values()), values)] if outliers else []
    ranges = _violations(rules, ("between",))
    if ranges:
        rates.append(_rate(sum(n for _, n in ranges), p.rows * len(ranges)))
    if labels is not None:
        rates.append(_rate(*labels))
    detail: dict[str, Any] = {"outliers": outliers, "range_violations": sum(n for _, n in ranges)}
    detail["label_issues"] = labels[0] if labels else None
    return _score(*rates), detail


def consistency(
    p: Profile, got: dict[str, Any], rules: list[tuple[Rule, int]]
) -> tuple[float, dict[str, Any]]:
    duplicates = p.rows - p.distinct_rows
    rates = [_rate(duplicates, p.rows)]
    detail: dict[str, Any] = {"exact_duplicates": duplicates}
    if "near_distinct" in got:
        near = max(0, p.distinct_rows - int(got["near_distinct"]))
        rates.append(_rate(near, p.rows))
        detail["near_duplicates"] = near
    cross = {}
    for role in ("sex", "age", "birth"):
        if f"x:{role}:checked" in got:
            checked, bad = int(got[f"x:{role}:checked"]), int(got[f"x:{role}:bad"])
            cross[role] = {"checked": checked, "mismatches": bad}
            rates.append(_rate(bad, checked))
    detail["resident_id_agreement"] = cross
    for _rule, n in _violations(rules, ("unique", "expr")):
        rates.append(_rate(n, p.rows))
    return _score(*rates), detail


def frequency_days(maintenance: str) -> int:
    for pattern, days in FREQUENCIES:
        if re.search(pattern, maintenance, re.IGNORECASE):
            return days
    return DEFAULT_FREQUENCY_DAYS


def timeliness(p: Profile, ctx: Context) -> tuple[float, dict[str, Any]]:
    """100 while the newest date is within one update period; falls linearly to 0 at four periods."""
    newest = newest_date(p)
    reference = newest or ctx.registered_at.date()
    period = frequency_days(ctx.maintenance)
    age = max(0, (ctx.now.date() - reference).days)
    score = 100.0 if age <= period else max(0.0, 100.0 * (1 - (age - period) / (3 * period)))
    detail: dict[str, Any] = {"newest": reference.isoformat(), "from": "data" if newest else "registration"}
    detail.update(age_days=age, period_days=period)
    return round(score, 2), detail


def accessibility(p: Profile, ctx: Context) -> tuple[float, dict[str, Any]]:
    """40 readable + 40 x share of documented fields + 20 for a license."""
    share = ctx.documented / len(p.columns) if p.columns else 0.0
    licensed = ctx.license.strip().lower() not in ("", "unknown", "none")
    detail: dict[str, Any] = {"readable": True, "documented_fields": ctx.documented, "fields": len(p.columns)}
    detail["license"] = licensed
    return round(40 + 40 * share + (20 if licensed else 0), 2), detail


def score_all(
    p: Profile,
    ctx: Context,
    got: dict[str, Any],
    rules: list[tuple[Rule, int]],
    labels: tuple[int, int] | None,
) -> Scores:
    parts = {
        "normativity": normativity(p, ctx, got, rules),
        "completeness": completeness(p, rules),
        "accuracy": accuracy(p, got, rules, labels),
        "consistency": consistency(p, got, rules),
        "timeliness": timeliness(p, ctx),
        "accessibility": accessibility(p, ctx),
    }
    return Scores({k: v[0] for k, v in parts.items()}, {k: v[1] for k, v in parts.items()})
