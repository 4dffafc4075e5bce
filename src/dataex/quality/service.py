"""The quality service: evaluate a dataset, store its report, log ``dataset.evaluated``; read reports.

``evaluate`` does all the reading and computing first (two DuckDB scans, plus the label model when
a target is given) and only then opens ONE transaction that stores the report and appends the log
entry (grade, scores and counts — never values) with a checkpoint. Any error before that stores
and logs nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataex.catalog.datasets import Dataset, get_dataset_row
from dataex.catalog.metadata import Metadata, Viewer, read_metadata
from dataex.db.models import ClassificationRow, QualityReportRow
from dataex.errors import InputFileNotFound, NotFound
from dataex.ledger.log import utc_now
from dataex.policy import allows, check
from dataex.quality import dimensions as dims
from dataex.quality import formats, labels, profile, rules
from dataex.quality.report import public_view, render_html

if TYPE_CHECKING:
    import duckdb

    from dataex.identity.parties import Party
    from dataex.node import Node

PERSONAL = ("personal", "sensitive_personal")
DETECT_SHARE = 0.9
"""A string column is typed as a format when this share of its sampled values validates."""


@dataclass(frozen=True)
class QualityReport:
    dataset_id: str
    grade: str
    report: dict[str, Any]
    """The owner's full view."""
    computed_at: dt.datetime


@dataclass(frozen=True)
class _Inputs:
    dataset: Dataset
    meta: Metadata
    classified: dict[str, str] | None
    """Column → classification type, when the privacy classification is stored."""
    personal: set[str] | None


def _load(node: Node, dataset_id: str, actor: Party | None) -> _Inputs:
    check(node, actor, "evaluate_quality", dataset_id)
    with node.session() as s:
        row = get_dataset_row(s, dataset_id)
        meta = read_metadata(s, dataset_id)
        cls = s.get(ClassificationRow, dataset_id)
        fields = list(cls.fields) if cls is not None else None
        dataset = Dataset.of(row)
    if fields is None:
        return _Inputs(dataset, meta, None, None)
    classified = {f["name"]: str(f.get("type", "none")) for f in fields}
    personal = {f["name"] for f in fields if f.get("category") in PERSONAL}
    return _Inputs(dataset, meta, classified, personal)


def _formats(
    con: duckdb.DuckDBPyConnection, p: profile.Profile, classified: dict[str, str] | None
) -> dict[str, str]:
    """Column → kind to check: from the classification when stored, else detected on a sample."""
    known = formats.KINDS()
    strings = [
        c.name
        for c in p.columns
        if c.missing < p.rows and (c.kind == "string" or (c.kind == "number" and "INT" in c.type.upper()))
    ]
    if classified is not None:
        return {c: classified[c] for c in strings if classified.get(c) in known}
    validators = {**formats.strong_kinds()}
    out: dict[str, str] = {}
    for name, values in profile.sample(con, strings).items():
        for kind in ("cn_resident_id", "cn_mobile", "email", "date", *validators):
            ok = _share(values, validators.get(kind), con, kind)
            if values and ok >= DETECT_SHARE:
                out[name] = kind
                break
    return out


def _share(values: list[str], validate: Any, con: duckdb.DuckDBPyConnection, kind: str) -> float:
    if validate is not None:
        return sum(bool(validate(v)) for v in values) / max(1, len(values))
    sql = formats.valid_sql(kind, "v")
    got = con.execute(
        f"SELECT avg(coalesce({sql}, false)::INTEGER) FROM unnest($1::VARCHAR[]) AS u(v)", [values]
    )
    row = got.fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _rule_results(
    con: duckdb.DuckDBPyConnection, compiled: list[rules.Rule], got: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(compiled):
        n = int(got[f"rule:{i}"])
        if r.kind == "unique":
            rows = [int(x[0]) for x in con.execute(rules.unique_rows_sql(r)).fetchall()] if n else []
        else:
            rows = sorted(int(x) for x in (got.get(f"rows:{i}") or []))
        out.append({**r.describe(), "violations": n, "rows": rows})
    return out


NOTE_NO_TARGET: Final = "No --target given: accuracy does not include label issues."
"""A fixed note of the report (the web console translates it)."""


def _notes(inputs: _Inputs, target: str | None, issues: labels.LabelIssues | None) -> list[str]:
    notes = []
    if inputs.personal is None:
        notes.append(
            "No privacy classification is stored: every string and date column (and every column "
            "holding identifiers) is treated as potentially personal in the public view."
        )
    if issues is not None and issues.examined < inputs.dataset.rows:
        notes.append(f"Label issues were searched in a systematic sample of {issues.examined} rows.")
    if target is None:
        notes.append(NOTE_NO_TARGET)
    return notes


def _compute(
    node: Node, inputs: _Inputs, rules_text: str | None, target: str | None, now: dt.datetime
) -> dict[str, Any]:
    d = inputs.dataset
    path = Path(node.store.url(d.file_sha256))
    if not path.is_file():
        raise InputFileNotFound(
            f"the data file of {d.id} is missing from the store; run `dataex audit verify`"
        )
    con = profile.connect(path)
    try:
        formats.register_udfs(con)
        types = {
            str(n): str(t)
            for n, t, *_ in con.execute("DESCRIBE SELECT * EXCLUDE (file_row_number) FROM t").fetchall()
        }
        compiled = rules.load_rules(rules_text, types) if rules_text else []
        for r in compiled:
            if r.kind == "expr":
                _probe(con, r)
        p = profile.profile(con, list(types.items()))
        issues = labels.find_label_issues(con, p, target) if target is not None else None
        fmts = _formats(con, p, inputs.classified)
        ctx = dims.Context(
            formats=fmts,
            documented=sum(1 for c in types if inputs.meta.field_description(c)),
            license=d.license,
            maintenance=str(inputs.meta.rai.get("maintenance") or ""),
            now=now,
            registered_at=d.registered_at,
        )
        ctx.cross = dims.cross_columns(p, fmts)
        got = profile.aggregate(
            con, {**profile.histogram_exprs(p), **dims.checks(p, ctx), **rules.rule_exprs(compiled)}
        )
        profile.apply_histograms(p, got)
        results = _rule_results(con, compiled, got)
    finally:
        con.close()
    counted = [(r, int(x["violations"])) for r, x in zip(compiled, results, strict=True)]
    scores = dims.score_all(p, ctx, got, counted, (issues.count, issues.examined) if issues else None)
    return _assemble(inputs, p, scores, results, issues, _notes(inputs, target, issues), set(fmts))


def _probe(con: duckdb.DuckDBPyConnection, r: rules.Rule) -> None:
    import duckdb

    try:
        con.execute(f"SELECT count(*) FILTER (WHERE {r.violation}) FROM (SELECT * FROM t LIMIT 0)").fetchall()
    except duckdb.Error as e:
        raise rules._fail(r.line, f"expr does not run: {str(e).splitlines()[0]}", r.name) from e


def _assemble(
    inputs: _Inputs,
    p: profile.Profile,
    scores: dims.Scores,
    results: list[dict[str, Any]],
    issues: labels.LabelIssues | None,
    notes: list[str],
    formatted: set[str],
) -> dict[str, Any]:
    personal = inputs.personal
    columns = [
        {
            "name": c.name, "type": c.type, "kind": c.kind, "nulls": c.nulls, "empties": c.empties,
            "distinct": c.distinct, "stats": c.stats, "histogram": c.histogram,
            "personal": c.name in personal if personal is not None else _assumed_personal(c, formatted),
        }
        for c in p.columns
    ]  # fmt: skip
    label_issues: dict[str, Any] = {"count": 0, "rows": [], "target": None, "examined": 0}
    if issues is not None:
        label_issues = {
            "count": issues.count,
            "rows": issues.rows,
            "target": issues.target,
            "examined": issues.examined,
        }
    overall = scores.overall
    return {
        "dataset_id": inputs.dataset.id,
        "view": "owner",
        "grade": dims.grade_of(overall),
        "score": overall,
        "dimensions": scores.scores,
        "details": scores.details,
        "rows": p.rows,
        "columns": columns,
        "rules": results,
        "label_issues": label_issues,
        "personal_fields": "classification" if personal is not None else "assumed",
        "notes": notes,
    }


def _assumed_personal(c: profile.ColumnProfile, formatted: set[str]) -> bool:
    """Without a classification: every string and date column, and any column holding identifiers."""
    return c.kind in ("string", "date") or c.name in formatted


def log_record(report: dict[str, Any]) -> dict[str, Any]:
    """What ``dataset.evaluated`` says: grade, scores and counts, never a value."""
    return {
        "dataset_id": report["dataset_id"],
        "grade": report["grade"],
        "score": report["score"],
        "dimensions": report["dimensions"],
        "rules": len(report["rules"]),
        "rule_violations": sum(r["violations"] for r in report["rules"]),
        "label_issues": report["label_issues"]["count"],
    }


def evaluate(
    node: Node,
    dataset_id: str,
    *,
    rules_path: Path | None = None,
    rules_text: str | None = None,
    target: str | None = None,
    actor: Party | None = None,
    now: dt.datetime | None = None,
) -> QualityReport:
    """Computes, stores and logs the quality report of ``dataset_id`` (owner or operator only)."""
    inputs = _load(node, dataset_id, actor)
    if rules_path is not None:
        if not rules_path.is_file():
            raise InputFileNotFound(f"no rules file at {rules_path}")
        rules_text = rules_path.read_text(encoding="utf-8")
    report = _compute(node, inputs, rules_text, target, now or utc_now())
    with node.transaction() as s:
        node.log.lock(s)
        computed_at = utc_now()
        row = s.get(QualityReportRow, dataset_id)
        if row is None:
            row = QualityReportRow(dataset_id=dataset_id, grade="", report={}, computed_at=computed_at)
            s.add(row)
        row.grade, row.report, row.computed_at = report["grade"], report, computed_at
        node.log.append(s, "dataset.evaluated", log_record(report), actor=actor.id if actor else "operator")
        node.log.checkpoint(s)
    return QualityReport(dataset_id, report["grade"], report, computed_at)


def get_report(node: Node, dataset_id: str, *, viewer: Viewer = None) -> dict[str, Any]:
    """The stored report: the full view for the owner and the operator (``None``), else the public view."""
    check(node, viewer, "read_metadata", dataset_id)
    full = allows(node, viewer, "read_details", dataset_id)
    with node.session() as s:
        row = s.get(QualityReportRow, dataset_id)
        if row is None:
            raise NotFound(
                f"dataset {dataset_id} has no quality report yet; run `dataex quality {dataset_id}`"
            )
        report = dict(row.report)
        report["computed_at"] = row.computed_at.isoformat().replace("+00:00", "Z")
    return report if full else public_view(report)


def get_report_html(node: Node, dataset_id: str, *, viewer: Viewer = None) -> str:
    return render_html(get_report(node, dataset_id, viewer=viewer))
