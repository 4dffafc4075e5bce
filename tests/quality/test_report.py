"""THE LEAK TEST: a non-owner's report (JSON and HTML) holds no personal value and no bin under 5."""

from __future__ import annotations

import json
from pathlib import Path

from dataex.quality import evaluate, get_report, get_report_html
from dataex.quality.report import merge_bins, public_view
from tests.conftest import Node, add
from tests.quality.helpers import visits_with_noise


def test_public_report_leaks_no_personal_values(sqlite_node: Node, tmp_path: Path) -> None:
    ex = sqlite_node.ex
    owner = add(sqlite_node, "Ruijin Hospital")
    consumer = add(sqlite_node, "AI lab", kind="ai_team", role="consumer")
    path, table = visits_with_noise(tmp_path)
    ds = ex.register(path, owner=owner.party.id, title="visits", license="CC-BY-4.0").dataset
    evaluate(ex, ds.id, target="department", actor=owner.party)

    public = get_report(ex, ds.id, viewer=consumer.party)
    anonymous = get_report(ex, ds.id, viewer="anonymous")
    assert public == anonymous and public["view"] == "public"
    text = json.dumps(public, ensure_ascii=False) + get_report_html(ex, ds.id, viewer=consumer.party)
    personal = {
        str(v)
        for name in ("name", "id_no", "mobile", "patient_id", "visit_id")
        for v in table.column(name).to_pylist()
    }
    leaked = sorted(v for v in personal if v in text)
    assert leaked == []
    for col in public["columns"]:
        assert all(b["count"] >= 5 for b in col["histogram"]), col["name"]
        if col["personal"]:
            assert "min" not in col["stats"] and "max" not in col["stats"]
    assert "rows" not in public["label_issues"]
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def test_owner_view_has_label_issue_rows(sqlite_node: Node, tmp_path: Path) -> None:
    ex = sqlite_node.ex
    owner = add(sqlite_node, "Ruijin Hospital")
    path, _ = visits_with_noise(tmp_path)
    ds = ex.register(path, owner=owner.party.id, title="visits", license="CC-BY-4.0").dataset
    evaluate(ex, ds.id, target="department", actor=owner.party)
    full = get_report(ex, ds.id, viewer=owner.party)
    assert full["view"] == "owner"
    issues = full["label_issues"]
    assert issues["count"] == len(issues["rows"]) > 0
    assert get_report(ex, ds.id) == full  # the local operator sees the owner's view
    html = get_report_html(ex, ds.id, viewer=owner.party)
    assert html.startswith("<!doctype html>") and html.count("<svg") >= 3


def test_small_bins_are_merged_or_suppressed() -> None:
    bins = [{"lo": 0, "hi": 1, "count": 2}, {"lo": 1, "hi": 2, "count": 9}, {"lo": 2, "hi": 3, "count": 3}]
    assert merge_bins(bins) == [{"lo": 0, "hi": 3, "count": 14}]
    assert merge_bins([{"lo": 0, "hi": 1, "count": 4}]) == []


def test_public_view_hides_values_of_personal_fields() -> None:
    report = {
        "view": "owner",
        "columns": [
            {"name": "sex", "personal": True, "stats": {}, "histogram": [{"value": "男", "count": 50}]},
            {"name": "dept", "personal": False, "stats": {},
             "histogram": [{"value": "内科", "count": 50}, {"value": "罕见科", "count": 2}]},
            {"name": "age", "personal": True, "stats": {"min": 3, "max": 99, "mean": 40.0},
             "histogram": [{"lo": 3, "hi": 51, "count": 30}, {"lo": 51, "hi": 99, "count": 30}]},
        ],
        "rules": [
            {"name": "r", "rule": "in_set", "columns": ["sex"], "line": 2, "violations": 1, "rows": [7]}
        ],
        "label_issues": {"count": 1, "rows": [7], "target": "dept", "examined": 10},
        "details": {"timeliness": {"newest": "2025-12-31", "age_days": 3}},
    }  # fmt: skip
    view = public_view(report)
    sex, dept, age = view["columns"]
    assert sex["histogram"] == []
    assert dept["histogram"] == [{"value": "内科", "count": 50}]
    assert age["stats"] == {"mean": 40.0}
    assert age["histogram"][0]["lo"] is None and age["histogram"][-1]["hi"] is None
    assert view["rules"] == [{"name": "r", "rule": "in_set", "columns": ["sex"], "violations": 1}]
    assert view["label_issues"] == {"count": 1, "target": "dept", "examined": 10}
    assert view["details"]["timeliness"] == {"newest": "2025-12"}
