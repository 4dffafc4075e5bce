"""Search in Chinese and English over the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from dataex.catalog.search import rebuild_index, search
from dataex.db.models import ClassificationRow, QualityReportRow
from dataex.errors import InvalidInput
from dataex.ledger.log import utc_now
from tests.catalog.catalog_data import Catalog, describe, register_table, three_parties
from tests.conftest import Node
from tests.state import snapshot


@pytest.fixture
def catalog(fresh_node: Node, tmp_path: Path) -> Catalog:
    ex = fresh_node.ex
    hospital, shop, consumer = three_parties(fresh_node)
    h, s = hospital.party.id, shop.party.id
    ids = {
        "visits": register_table(
            ex,
            tmp_path,
            owner=h,
            title="门诊就诊记录 2025",
            columns=["visit_id", "patient_age", "sex", "diagnosis_code", "department", "cost"],
        ),
        "hypertension": register_table(
            ex,
            tmp_path,
            owner=h,
            title="高血压患者随访",
            columns=["patient_id", "systolic_bp", "diastolic_bp", "medication"],
        ),
        "ct": register_table(
            ex,
            tmp_path,
            owner=h,
            title="胸部CT影像与放射科报告",
            columns=["image_path", "report_text", "age", "sex"],
        ),
        "retail": register_table(
            ex,
            tmp_path,
            owner=s,
            title="Retail sales by store",
            license="CC0-1.0",
            columns=["store", "sku", "amount", "date"],
        ),
        "inpatient": register_table(
            ex,
            tmp_path,
            owner=h,
            title="住院病案首页",
            columns=["admission_id", "age", "diagnosis", "surgery", "total_cost"],
        ),
        "rare": register_table(
            ex, tmp_path, owner=h, title="罕见病登记", columns=["case_id", "disease", "gene"]
        ),
    }
    describe(
        ex,
        ids["visits"],
        description="上海某三甲医院 2025 年门诊就诊记录，含 ICD-10 诊断编码、科室与费用。"
        "Outpatient visits with ICD-10 diagnosis codes, departments and costs.",
        keywords=["医疗", "门诊", "outpatient"],
        fields={"diagnosis_code": {"description": "主要诊断的 ICD-10 编码", "semantic_type": None}},
    )
    describe(
        ex,
        ids["hypertension"],
        description="社区高血压患者的血压随访数据，含用药信息。Hypertension follow-up in the community.",
        keywords=["慢病", "高血压"],
    )
    describe(
        ex,
        ids["ct"],
        description="胸部 CT 影像及放射科医生撰写的诊断报告。Chest CT images with radiology reports.",
        keywords=["影像", "radiology"],
    )
    describe(
        ex,
        ids["retail"],
        description="Daily retail sales of a supermarket chain in Zhejiang. 超市零售销售数据。",
        keywords=["retail", "零售"],
    )
    describe(
        ex,
        ids["inpatient"],
        description="住院病案首页数据，含主要诊断与手术信息。"
        "Inpatient discharge abstracts with main diagnosis.",
    )
    describe(ex, ids["rare"], description="罕见病患者登记，仅供本院研究。", visibility="private")
    return Catalog(fresh_node, hospital, shop, consumer, ids)


def top(c: Catalog, query: str, **kw: object) -> str:
    result = search(c.node.ex, query, actor=c.consumer.party, **kw)  # type: ignore[arg-type]
    assert result.hits, f"no hit for {query!r}"
    return result.hits[0].dataset_id


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("门诊 诊断", "visits"),
        ("门诊诊断", "visits"),
        ("门诊", "visits"),
        ("高血压", "hypertension"),
        ("血压", "hypertension"),
        ("outpatient diagnosis", "visits"),
        ("Outpatient", "visits"),
        ("CT 报告", "ct"),
        ("chest 影像", "ct"),
        ("radiology reports", "ct"),
        ("retail", "retail"),
        ("零售", "retail"),
        ("住院 手术", "inpatient"),
        ("inpatient", "inpatient"),
        ("systolic", "hypertension"),
    ],
)
def test_expected_top_hit(catalog: Catalog, query: str, expected: str) -> None:
    assert top(catalog, query) == catalog.ids[expected]


def test_hits_are_ranked_highlighted_and_explained(catalog: Catalog) -> None:
    result = search(catalog.node.ex, "高血压", actor=catalog.consumer.party)
    assert result.mode == "all" and result.total == 1
    hit = result.hits[0]
    assert hit.title == "高血压患者随访" and hit.score > 0
    assert "<mark>高血压</mark>" in hit.snippet
    assert hit.matched_fields == ["title", "keywords", "description"]

    diagnosis = search(catalog.node.ex, "诊断", actor=catalog.consumer.party)
    assert {h.dataset_id for h in diagnosis.hits} == {
        catalog.ids["visits"],
        catalog.ids["ct"],
        catalog.ids["inpatient"],
    }
    assert diagnosis.total == 3
    assert [h.score for h in diagnosis.hits] == sorted((h.score for h in diagnosis.hits), reverse=True)
    english = search(catalog.node.ex, "outpatient diagnosis", actor=catalog.consumer.party).hits[0]
    assert "<mark>Outpatient</mark>" in english.snippet and "<mark>diagnosis</mark>" in english.snippet
    assert "column_names" in english.matched_fields  # diagnosis_code


def test_no_document_with_all_terms_falls_back_to_any(catalog: Catalog) -> None:
    result = search(catalog.node.ex, "高血压 retail", actor=catalog.consumer.party)
    assert result.mode == "any"
    assert {h.dataset_id for h in result.hits} == {catalog.ids["hypertension"], catalog.ids["retail"]}


def test_pagination(catalog: Catalog) -> None:
    ex, who = catalog.node.ex, catalog.consumer.party
    first = search(ex, "诊断", limit=2, actor=who)
    rest = search(ex, "诊断", limit=2, offset=2, actor=who)
    beyond = search(ex, "诊断", limit=2, offset=10, actor=who)
    assert len(first.hits) == 2 and len(rest.hits) == 1 and not beyond.hits
    assert first.total == rest.total == beyond.total == 3
    assert {h.dataset_id for h in first.hits + rest.hits} == {
        catalog.ids["visits"],
        catalog.ids["ct"],
        catalog.ids["inpatient"],
    }


def test_filters(catalog: Catalog) -> None:
    ex, who = catalog.node.ex, catalog.consumer.party
    assert not search(ex, "retail", license="CC-BY-4.0", actor=who).hits
    assert top(catalog, "retail", license="cc0-1.0") == catalog.ids["retail"]
    assert search(ex, "诊断", owner=catalog.shop.party.id, actor=who).total == 0
    assert search(ex, "诊断", owner=catalog.hospital.party.id, actor=who).total == 3
    # No quality report or classification: a grade filter passes nothing, no filter passes all.
    with ex.transaction() as s:  # (other services may have computed them on registration)
        s.execute(delete(QualityReportRow))
        s.execute(delete(ClassificationRow))
    assert search(ex, "诊断", quality_grade="A", actor=who).total == 0
    assert search(ex, "诊断", sensitivity="L3", actor=who).total == 0
    with ex.transaction() as s:
        s.add(QualityReportRow(dataset_id=catalog.ids["visits"], grade="A", report={}, computed_at=utc_now()))
        s.add(
            ClassificationRow(
                dataset_id=catalog.ids["inpatient"],
                grade="L3",
                fields=[],
                overrides={},
                computed_at=utc_now(),
            )
        )
    assert [h.dataset_id for h in search(ex, "诊断", quality_grade="A", actor=who).hits] == [
        catalog.ids["visits"]
    ]
    assert search(ex, "诊断", quality_grade="B", actor=who).total == 0
    assert [h.dataset_id for h in search(ex, "诊断", sensitivity="L3", actor=who).hits] == [
        catalog.ids["inpatient"]
    ]
    assert search(ex, "诊断", actor=who).total == 3
    assert search(ex, "诊断", tier="L1", actor=who).total == 0
    with pytest.raises(InvalidInput, match="unknown tier"):
        search(ex, "诊断", tier="L9", actor=who)


def test_tier_filter_finds_datasets_offered_at_that_tier(catalog: Catalog) -> None:
    from dataex.contracts.offers import create_offer

    ex = catalog.node.ex
    visits = ex.get_dataset(catalog.ids["visits"])
    owner = ex.get_party(visits.owner_id)
    create_offer(ex, visits.id, actor=owner, tier="L1", purposes=["research"], epsilon=1.0)
    assert [h.dataset_id for h in search(ex, "诊断", tier="L1").hits] == [visits.id]
    assert search(ex, "诊断", tier="L3").total == 0


def test_private_datasets_only_for_owner_and_operator(catalog: Catalog) -> None:
    ex, rare = catalog.node.ex, catalog.ids["rare"]
    assert search(ex, "罕见病", actor=catalog.consumer.party).total == 0
    assert search(ex, "罕见病", actor=catalog.shop.party).total == 0
    assert [h.dataset_id for h in search(ex, "罕见病", actor=catalog.hospital.party).hits] == [rare]
    assert [h.dataset_id for h in search(ex, "罕见病").hits] == [rare]  # the local operator
    operator = next(p for p in ex.list_parties() if p.is_operator)
    assert search(ex, "罕见病", actor=operator).total == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("!!!，。？", "no searchable words"),
        ("的 the of", "no searchable words"),
        ("门诊" * 5000, "10000 characters; the limit is 500"),
        ("x" * 10_000, "10000 characters; the limit is 500"),
    ],
)
def test_bad_queries_are_refused_and_change_nothing(catalog: Catalog, query: str, message: str) -> None:
    before = snapshot(catalog.node.ex)
    with pytest.raises(InvalidInput, match=message):
        search(catalog.node.ex, query, actor=catalog.consumer.party)
    assert snapshot(catalog.node.ex) == before


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (101, 0), (10, -1)])
def test_bad_pages_are_refused(catalog: Catalog, limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput):
        search(catalog.node.ex, "门诊", limit=limit, offset=offset)


def test_reindex_replaces_the_document_and_rebuild_covers_the_catalog(catalog: Catalog) -> None:
    ex = catalog.node.ex
    describe(ex, catalog.ids["retail"], description="Weekly grocery orders.", keywords=["grocery"])
    assert search(ex, "supermarket").total == 0
    assert top(catalog, "grocery") == catalog.ids["retail"]
    assert rebuild_index(ex) == len(catalog.ids)
    assert top(catalog, "grocery") == catalog.ids["retail"]
    assert top(catalog, "高血压") == catalog.ids["hypertension"]
    assert search(ex, "诊断", actor=catalog.consumer.party).total == 3


def test_search_documents_copy_owner_license_and_visibility(catalog: Catalog) -> None:
    from sqlalchemy import select

    from dataex.db.models import DatasetMetadataRow, DatasetRow, SearchDocumentRow

    ex, rare, who = catalog.node.ex, catalog.ids["rare"], catalog.consumer.party
    describe(ex, rare, visibility="public")  # describe re-indexes in its own transaction
    assert [h.dataset_id for h in search(ex, "罕见病", actor=who).hits] == [rare]
    describe(ex, rare, visibility="private")
    assert search(ex, "罕见病", actor=who).total == 0
    with ex.session() as s:
        rows = s.execute(
            select(SearchDocumentRow, DatasetRow, DatasetMetadataRow)
            .join(DatasetRow, DatasetRow.id == SearchDocumentRow.dataset_id)
            .outerjoin(DatasetMetadataRow, DatasetMetadataRow.dataset_id == DatasetRow.id)
        ).all()
    assert len(rows) == len(catalog.ids)
    for doc, row, meta in rows:
        assert (doc.owner_id, doc.license) == (row.owner_id, row.license.lower())
        assert doc.visibility == (meta.visibility if meta is not None else "public")


def test_total_counts_every_match_whatever_the_page(catalog: Catalog) -> None:
    ex, who = catalog.node.ex, catalog.consumer.party
    for limit, offset in [(1, 0), (1, 1), (1, 2), (1, 3), (3, 0), (5, 0), (2, 1)]:
        result = search(ex, "诊断", limit=limit, offset=offset, actor=who)
        assert result.total == 3, (limit, offset)
        assert len(result.hits) == max(0, min(limit, 3 - offset))
