"""The six GB/T 36344 dimensions on small tables with known defects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataex.quality import dimensions as dims
from dataex.quality import formats, profile
from tests.quality.test_rules import _resident_id

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _score(tmp_path: Path, table: pa.Table, **ctx: Any) -> tuple[dims.Scores, profile.Profile]:
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    con = profile.connect(path)
    formats.register_udfs(con)
    types = con.execute("DESCRIBE SELECT * EXCLUDE (file_row_number) FROM t").fetchall()
    p = profile.profile(con, [(str(n), str(t)) for n, t, *_ in types])
    options: dict[str, Any] = {
        "formats": {}, "documented": 0, "license": "CC-BY-4.0", "maintenance": "",
        "now": NOW, "registered_at": NOW,
    }  # fmt: skip
    options.update(ctx)
    context = dims.Context(**options)
    context.cross = dims.cross_columns(p, context.formats)
    got = profile.aggregate(con, {**profile.histogram_exprs(p), **dims.checks(p, context)})
    return dims.score_all(p, context, got, [], None), p


def _people(n: int = 100) -> dict[str, list[Any]]:
    ids = [_resident_id(i) for i in range(n)]
    born = [dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14])) for v in ids]
    ref = dt.date(2025, 12, 31)
    ages = [ref.year - b.year - ((ref.month, ref.day) < (b.month, b.day)) for b in born]
    sexes = ["男" if int(v[16]) % 2 else "女" for v in ids]
    visits = [ref - dt.timedelta(days=i) for i in range(n)]
    return {
        "id_no": ids,
        "sex": sexes,
        "age": ages,
        "birth_date": born,
        "visit_date": visits,
        "n": list(range(n)),
    }


def test_clean_table_scores_full_marks_where_checked(tmp_path: Path) -> None:
    scores, _ = _score(tmp_path, pa.table(_people()), formats={"id_no": "cn_resident_id"}, documented=6)
    assert scores.scores == {
        "normativity": 100.0, "completeness": 100.0, "accuracy": 100.0,
        "consistency": 100.0, "timeliness": 100.0, "accessibility": 100.0,
    }  # fmt: skip
    assert dims.grade_of(scores.overall) == "A"
    agreement = scores.details["consistency"]["resident_id_agreement"]
    assert agreement == {r: {"checked": 100, "mismatches": 0} for r in ("sex", "age", "birth")}


def test_cross_field_disagreements_and_bad_ids(tmp_path: Path) -> None:
    data = _people()
    data["sex"][:4] = ["女" if s == "男" else "男" for s in data["sex"][:4]]
    data["age"][10:13] = [a + 5 for a in data["age"][10:13]]
    data["birth_date"][20] = dt.date(1900, 1, 1)
    data["id_no"][30] = data["id_no"][30][:17] + ("0" if data["id_no"][30][17] != "0" else "1")
    scores, _ = _score(tmp_path, pa.table(data), formats={"id_no": "cn_resident_id"})
    agreement = scores.details["consistency"]["resident_id_agreement"]
    assert agreement["sex"] == {"checked": 99, "mismatches": 4}
    assert agreement["age"] == {"checked": 99, "mismatches": 3}
    assert agreement["birth"] == {"checked": 99, "mismatches": 1}
    assert scores.details["normativity"]["formats"]["id_no"] == {
        "kind": "cn_resident_id",
        "checked": 100,
        "bad": 1,
    }
    assert scores.scores["normativity"] == 99.0


def test_completeness_duplicates_and_outliers(tmp_path: Path) -> None:
    values = [float(i) for i in range(100)]
    values[0] = 1000.0  # one far-out value
    a = ["x"] * 100
    a[5] = None
    b = [str(i % 7) for i in range(100)]
    b[6] = ""
    table = pa.table({"v": values, "a": a, "b": b})
    table = pa.concat_tables([table, table.slice(50, 10)])  # 10 exact duplicates
    scores, p = _score(tmp_path, table)
    assert p.rows == 110 and p.complete_rows == 109
    assert scores.details["consistency"]["exact_duplicates"] == 10
    assert scores.details["accuracy"]["outliers"] == {"v": 1}
    cell = 1 - 2 / 330
    assert scores.details["completeness"]["cell_fill"] == round(cell, 6)
    assert scores.scores["completeness"] == round(100 * (0.75 * cell + 0.25 * 109 / 110), 2)


def test_timeliness_follows_the_declared_frequency(tmp_path: Path) -> None:
    table = pa.table({"d": [dt.date(2025, 10, 1), dt.date(2025, 11, 1)]})
    yearly, _ = _score(tmp_path, table)
    monthly, _ = _score(tmp_path, table, maintenance="更新频率：每月")
    assert yearly.scores["timeliness"] == 100.0
    age = (NOW.date() - dt.date(2025, 11, 1)).days  # 61 days, 30 past a 31-day period
    assert monthly.details["timeliness"]["period_days"] == 31
    assert monthly.scores["timeliness"] == round(100 * (1 - (age - 31) / 93), 2)


def test_accessibility_counts_documented_fields_and_license(tmp_path: Path) -> None:
    table = pa.table({"a": [1], "b": [2], "c": [3], "d": [4]})
    scores, _ = _score(tmp_path, table, documented=1, license="")
    assert scores.scores["accessibility"] == 50.0  # 40 readable + 40 * 1/4 + 0
    assert dims.grade_of(89.99) == "B" and dims.grade_of(60) == "C" and dims.grade_of(59.9) == "D"
