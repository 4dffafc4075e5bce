"""Metadata: describe merges, validates, logs and refuses; get_metadata gives defaults."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from dataex.catalog.metadata import Metadata, describe, get_metadata
from dataex.db.models import LogEntryRow
from dataex.errors import DatasetNotFound, Forbidden, InvalidInput
from dataex.ledger.log import canonical_json
from tests.conftest import Actor, Node, add
from tests.state import assert_only_denials, snapshot


@pytest.fixture
def dataset_id(fresh_node: Node, hospital: Actor, visits_csv: Path) -> str:
    reg = fresh_node.ex.register(visits_csv, owner=hospital.party.id, title="Visits", license="CC-BY-4.0")
    return reg.dataset.id


def last_entry(node: Node) -> dict[str, object]:
    with node.ex.session() as s:
        row = s.scalars(select(LogEntryRow).order_by(LogEntryRow.idx.desc())).first()
        assert row is not None
        return dict(json.loads(row.entry))


def test_defaults_when_nothing_was_described(fresh_node: Node, dataset_id: str) -> None:
    meta = get_metadata(fresh_node.ex, dataset_id)
    assert meta == Metadata(dataset_id=dataset_id)
    assert meta.visibility == "public"
    assert meta.description == ""


def test_describe_stores_merges_and_logs(fresh_node: Node, hospital: Actor, dataset_id: str) -> None:
    ex = fresh_node.ex
    first = describe(
        ex,
        dataset_id,
        actor=hospital.party,
        description="# 门诊就诊\nOutpatient visits.",
        keywords=["医疗", "outpatient", "医疗"],
        fields={"diagnosis": "ICD-10 code of the main diagnosis"},
        semantic_types={"sex": "wd:Q48277"},
        rai={"annotation_protocol": "labels by two coders", "data_collection": "HIS export"},
        languages=["zh", "en"],
    )
    assert first.keywords == ["医疗", "outpatient"]
    assert first.rai == {"annotation_protocol": ["labels by two coders"], "data_collection": "HIS export"}
    second = describe(
        ex,
        dataset_id,
        actor=hospital.party,
        fields={"diagnosis_name": "名称"},
        rai={"data_collection": None, "limitations": ["one hospital only"]},
        temporal_coverage="2025-01-01/2025-12-31",
    )
    stored = get_metadata(ex, dataset_id)
    assert stored.description == "# 门诊就诊\nOutpatient visits."
    assert stored.fields == {
        "diagnosis": {"description": "ICD-10 code of the main diagnosis", "semantic_type": None},
        "diagnosis_name": {"description": "名称", "semantic_type": None},
        "sex": {"description": "", "semantic_type": "wd:Q48277"},
    }
    assert stored.rai == {
        "annotation_protocol": ["labels by two coders"],
        "limitations": ["one hospital only"],
    }
    assert stored.temporal_coverage == "2025-01-01/2025-12-31"
    assert stored.updated_at == second.updated_at
    entry = last_entry(fresh_node)
    assert entry["event"] == "dataset.described"
    assert entry["actor"] == hospital.party.id
    data = entry["data"]
    assert isinstance(data, dict)
    assert data["changed"] == ["temporal_coverage", "fields", "rai"]
    expected = hashlib.sha256(canonical_json(stored.content())).hexdigest()
    assert data["metadata_sha256"] == expected
    assert "名称" not in json.dumps(data, ensure_ascii=False)  # names and a hash, not the text


def test_operator_may_describe(fresh_node: Node, dataset_id: str) -> None:
    meta = describe(fresh_node.ex, dataset_id, actor=None, visibility="private")
    assert meta.visibility == "private"
    assert last_entry(fresh_node)["actor"] == "operator"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fields": {"no_such_column": "x"}}, "'no_such_column'"),
        ({"semantic_types": {"age": "not a type"}}, "semantic type"),
        ({"keywords": [f"k{i}" for i in range(51)]}, "at most 50"),
        ({"keywords": ["x" * 101]}, "limit is 100"),
        ({"description": "字" * 40_000}, "100 kB"),
        ({"visibility": "secret"}, "visibility must be one of public, private"),
        ({"rai": {"has_synthetic_data": "yes"}}, "unknown RAI property 'has_synthetic_data'"),
        ({"languages": ["english please"]}, "BCP 47"),
    ],
)
def test_bad_input_changes_nothing(
    fresh_node: Node, hospital: Actor, dataset_id: str, kwargs: dict[str, object], message: str
) -> None:
    before = snapshot(fresh_node.ex)
    with pytest.raises(InvalidInput) as info:
        describe(fresh_node.ex, dataset_id, actor=hospital.party, **kwargs)  # type: ignore[arg-type]
    assert message in info.value.message
    assert snapshot(fresh_node.ex) == before
    assert get_metadata(fresh_node.ex, dataset_id) == Metadata(dataset_id=dataset_id)


def test_only_the_owner_describes(fresh_node: Node, dataset_id: str) -> None:
    other = add(fresh_node, "Another Hospital")
    before = snapshot(fresh_node.ex)
    with pytest.raises(Forbidden, match="only the owner"):
        describe(fresh_node.ex, dataset_id, actor=other.party, description="mine now")
    assert_only_denials(fresh_node.ex, before)


def test_private_metadata_is_for_owner_and_operator(
    fresh_node: Node, hospital: Actor, dataset_id: str
) -> None:
    ex = fresh_node.ex
    describe(ex, dataset_id, actor=hospital.party, visibility="private", description="secret")
    assert get_metadata(ex, dataset_id, viewer=hospital.party).description == "secret"
    assert get_metadata(ex, dataset_id).description == "secret"
    # to anyone else a private dataset does not exist: the same error as an unknown id
    with pytest.raises(DatasetNotFound):
        get_metadata(ex, dataset_id, viewer="anonymous")
    with pytest.raises(DatasetNotFound):
        get_metadata(ex, dataset_id, viewer=add(fresh_node, "Curious", role="consumer").party)
