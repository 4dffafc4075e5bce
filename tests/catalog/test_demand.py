"""The demand board: posting, validation, matching with explanations, logging."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dataex.catalog import demand as demands
from dataex.catalog.fields import concept, match_field, normalize
from dataex.db.models import DemandRow
from dataex.errors import Conflict, Forbidden, InvalidInput, NotFound
from dataex.exchange import Exchange
from tests.catalog.catalog_data import Catalog, describe, register_table, three_parties
from tests.conftest import Node
from tests.state import assert_only_denials, snapshot


@pytest.fixture
def board(fresh_node: Node, tmp_path: Path) -> Catalog:
    ex = fresh_node.ex
    hospital, shop, consumer = three_parties(fresh_node)
    h = hospital.party.id
    ids = {
        "ct": register_table(
            ex,
            tmp_path,
            owner=h,
            title="胸部CT影像与放射科报告",
            columns=["image_path", "report_text", "age", "sex"],
        ),
        "visits": register_table(
            ex,
            tmp_path,
            owner=h,
            title="门诊就诊记录 2025",
            columns=["visit_id", "patient_age", "gender", "diagnosis_code", "cost"],
        ),
        "retail": register_table(
            ex,
            tmp_path,
            owner=shop.party.id,
            title="Retail sales",
            columns=["store", "sku", "amount", "date"],
        ),
        "survey": register_table(ex, tmp_path, owner=h, title="Patient survey", columns=["q1", "q2", "q3"]),
    }
    describe(ex, ids["ct"], description="Chest CT images with radiology reports. 胸部 CT 影像及放射科报告。")
    describe(ex, ids["visits"], description="门诊就诊记录，含诊断编码与费用。Outpatient visits.")
    describe(ex, ids["retail"], description="Daily retail sales in Zhejiang.")
    describe(
        ex,
        ids["survey"],
        description="问卷调查。",
        fields={"q1": {"semantic_type": "https://schema.org/gender"}, "q2": {"description": "受访者年龄"}},
    )
    return Catalog(fresh_node, hospital, shop, consumer, ids)


def post(b: Catalog, **kw: Any) -> demands.Demand:
    args: dict[str, Any] = {
        "title": "Chest CT with radiology reports",
        "fields": ["image", "report", "age", "sex"],
        "purpose": "train a triage model",
        "budget": 50_000,
        "deadline": dt.date.today() + dt.timedelta(days=30),
    }
    args.update(kw)
    return demands.post_demand(b.node.ex, actor=b.consumer.party, **args)


def last_entry(ex: Exchange) -> dict[str, Any]:
    with ex.session() as s:
        size = ex.log.size(s)
        return ex.log.entries(s, start=size - 1)[0].body


def demand_count(ex: Exchange) -> int:
    with ex.session() as s:
        return s.scalar(select(func.count()).select_from(DemandRow)) or 0


def test_post_demand_is_stored_listed_and_logged(board: Catalog) -> None:
    d = post(board, description="Adults only")
    assert d.id.startswith("dmd_") and d.status == "open" and d.budget == 50_000
    assert d.fields == ["image", "report", "age", "sex"] and d.consumer_id == board.consumer.party.id
    entry = last_entry(board.node.ex)
    assert entry["event"] == "demand.posted" and entry["actor"] == board.consumer.party.id
    assert entry["data"]["demand_id"] == d.id and entry["data"]["budget"] == 50_000
    assert entry["data"]["deadline"] == d.deadline.isoformat()  # type: ignore[union-attr]
    assert [x.id for x in demands.list_demands(board.node.ex)] == [d.id]
    assert demands.list_demands(board.node.ex, status="closed") == []
    assert demands.get_demand(board.node.ex, d.id) == d
    assert board.node.ex.audit().ok


def test_only_consumers_post(board: Catalog) -> None:
    before = snapshot(board.node.ex)
    with pytest.raises(Forbidden, match="only consumers"):
        demands.post_demand(board.node.ex, actor=board.hospital.party, title="x", fields=["a"], purpose="p")
    assert_only_denials(board.node.ex, before)
    assert demand_count(board.node.ex) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"budget": -1}, "between 0 and"),
        ({"budget": True}, "whole number of fen"),
        ({"title": "   "}, "a title"),
        ({"purpose": ""}, "a purpose"),
        ({"fields": []}, "1 to 50 wanted fields"),
        ({"fields": [" ", ""]}, "1 to 50 wanted fields"),
        ({"fields": ["!!!", "age"]}, "need a letter or digit"),
        ({"deadline": dt.date.today() - dt.timedelta(days=1)}, "in the past"),
        ({"description": "x" * 10_001}, "a description"),
    ],
)
def test_bad_demands_store_nothing(board: Catalog, change: dict[str, Any], message: str) -> None:
    before = snapshot(board.node.ex)
    with pytest.raises(InvalidInput, match=message):
        post(board, **change)
    assert snapshot(board.node.ex) == before and demand_count(board.node.ex) == 0


def test_matching_ranks_overlapping_fields_first_and_explains(board: Catalog) -> None:
    d = post(board)
    found = demands.match_demand(board.node.ex, d.id, actor=board.consumer.party)
    ids = [m.dataset_id for m in found]
    assert ids[0] == board.ids["ct"]
    assert board.ids["retail"] not in ids
    best = found[0]
    why = {m.field: (m.column, m.reason) for m in best.matched_fields}
    assert why == {
        "image": ("image_path", "name_part"),
        "report": ("report_text", "name_part"),
        "age": ("age", "same_name"),
        "sex": ("sex", "same_name"),
    }
    assert best.missing_fields == [] and best.field_score == pytest.approx(0.85)
    assert best.text_score > 0 and best.score == pytest.approx(0.7 * 0.85 + 0.3 * best.text_score, abs=1e-3)
    visits = next(m for m in found if m.dataset_id == board.ids["visits"])
    assert {m.field: m.reason for m in visits.matched_fields} == {"age": "name_part", "sex": "synonym"}
    assert sorted(visits.missing_fields) == ["image", "report"] and visits.score < best.score
    entry = last_entry(board.node.ex)
    assert entry["event"] == "demand.matched" and entry["actor"] == board.consumer.party.id
    assert entry["data"] == {
        "demand_id": d.id,
        "matches": [{"dataset_id": m.dataset_id, "score": m.score} for m in found],
    }


def test_chinese_fields_match_english_columns(board: Catalog) -> None:
    d = post(board, title="门诊诊断数据", fields=["年龄", "性别", "诊断", "费用"], purpose="疾病预测")
    found = demands.match_demand(board.node.ex, d.id)
    assert found[0].dataset_id == board.ids["visits"]
    why = {m.field: (m.column, m.reason) for m in found[0].matched_fields}
    assert why == {
        "年龄": ("patient_age", "name_part"),
        "性别": ("gender", "synonym"),
        "诊断": ("diagnosis_code", "name_part"),
        "费用": ("cost", "synonym"),
    }


def test_semantic_types_and_field_descriptions_count(board: Catalog) -> None:
    d = post(board, title="survey answers", fields=["sex", "age"])
    survey = next(m for m in demands.match_demand(board.node.ex, d.id) if m.dataset_id == board.ids["survey"])
    assert {m.field: (m.column, m.reason) for m in survey.matched_fields} == {
        "sex": ("q1", "semantic_type"),
        "age": ("q2", "description"),
    }


def test_private_datasets_are_matched_only_for_their_owner(board: Catalog) -> None:
    describe(board.node.ex, board.ids["ct"], description="内部数据", visibility="private")
    d = post(board)
    for_consumer = [
        m.dataset_id for m in demands.match_demand(board.node.ex, d.id, actor=board.consumer.party)
    ]
    for_owner = [m.dataset_id for m in demands.match_demand(board.node.ex, d.id, actor=board.hospital.party)]
    assert board.ids["ct"] not in for_consumer and board.ids["ct"] in for_owner


def test_providers_see_demands_their_dataset_could_serve(board: Catalog) -> None:
    wanted = post(board)
    other = post(board, title="Retail baskets", fields=["store", "sku"], purpose="forecast")
    ex = board.node.ex
    found = demands.demands_for_dataset(ex, board.ids["ct"], actor=board.hospital.party)
    assert [m.demand.id for m in found] == [wanted.id]
    assert found[0].score == next(
        m.score for m in demands.match_demand(ex, wanted.id) if m.dataset_id == board.ids["ct"]
    )
    entry = demands.demands_for_dataset(ex, board.ids["ct"], actor=board.hospital.party) and last_entry(ex)
    assert entry["event"] == "dataset.demands_matched"
    assert entry["data"]["demands"] == [{"demand_id": wanted.id, "score": found[0].score}]
    assert [m.demand.id for m in demands.demands_for_dataset(ex, board.ids["retail"])] == [other.id]
    with pytest.raises(Forbidden):
        demands.demands_for_dataset(ex, board.ids["ct"], actor=board.shop.party)
    demands.close_demand(ex, wanted.id, actor=board.consumer.party)
    assert demands.demands_for_dataset(ex, board.ids["ct"], actor=board.hospital.party) == []


def test_close_demand(board: Catalog) -> None:
    d = post(board)
    ex = board.node.ex
    with pytest.raises(Forbidden):
        demands.close_demand(ex, d.id, actor=board.hospital.party)
    closed = demands.close_demand(ex, d.id, actor=board.consumer.party)
    assert closed.status == "closed" and demands.list_demands(ex) == []
    assert last_entry(ex)["event"] == "demand.closed"
    before = snapshot(ex)
    with pytest.raises(Conflict, match="already closed"):
        demands.close_demand(ex, d.id)
    with pytest.raises(NotFound):
        demands.match_demand(ex, "dmd_missing")
    with pytest.raises(InvalidInput, match="unknown demand status"):
        demands.list_demands(ex, status="pending")
    assert snapshot(ex) == before
    assert [x.id for x in demands.list_demands(ex, status="all")] == [d.id]


@pytest.mark.parametrize(
    ("name", "norm", "concept_"),
    [
        ("Patient_Age", "patientage", "patientage"),
        ("年龄", "年龄", "age"),
        ("Gender", "gender", "sex"),
        ("ICD-10", "icd10", "diagnosis"),
        ("费 用", "费用", "cost"),
    ],
)
def test_field_name_normalization(name: str, norm: str, concept_: str) -> None:
    assert normalize(name) == norm and concept(name) == concept_


def test_field_match_reasons() -> None:
    assert match_field("visit_date", "date_of_visit", {}).reason == "name_part"  # type: ignore[union-attr]
    assert match_field("visit_date", "date_of_visit", {}).score == pytest.approx(0.7)  # type: ignore[union-attr]
    assert match_field("病人", "patient", {}).reason == "synonym"  # type: ignore[union-attr]
    assert match_field("age", "store", {}) is None
