"""Croissant 1.1: export validates and loads the exact rows with the real mlcroissant; import is safe."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import mlcroissant as mlc
import pytest

from dataex.catalog.croissant import (
    CROISSANT_1_1,
    RECORD_SET_ID,
    export_croissant,
    field_id,
    import_croissant,
)
from dataex.catalog.metadata import describe, get_metadata
from dataex.errors import BadFile, InvalidInput, UnsafePath
from tests.conftest import Actor, Node
from tests.state import snapshot

# rdflib 7.x's own JSON-LD parser, which mlcroissant calls, warns about itself.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated, use Dataset instead.")


@pytest.fixture
def described(fresh_node: Node, hospital: Actor, visits_csv: Path) -> str:
    ex = fresh_node.ex
    ds = ex.register(visits_csv, owner=hospital.party.id, title="门诊 visits", license="CC-BY-4.0").dataset
    describe(
        ex,
        ds.id,
        actor=hospital.party,
        description="Outpatient visits, 2025.",
        keywords=["医疗", "outpatient"],
        fields={"diagnosis": "ICD-10 code of the main diagnosis", "age": "完成的年龄"},
        semantic_types={"sex": "wd:Q48277"},
        rai={
            "annotation_protocol": "labels by two coders, disagreements resolved by a third",
            "data_collection": "HIS export, 2025-01..12",
            "limitations": "one hospital",
            "personal_sensitive_information": ["name", "id_no", "mobile"],
        },
        temporal_coverage="2025-01-01/2025-12-31",
        spatial_coverage="Shanghai",
        languages=["zh", "en"],
    )
    return ds.id


def write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def as_python(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()  # pandas Timestamp
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    return value


def test_export_validates_and_loads_the_same_rows(
    fresh_node: Node, described: str, visits_csv: Path, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    doc = export_croissant(ex, described, local=True)
    ds = ex.get_dataset(described)
    assert doc["conformsTo"] == [CROISSANT_1_1, "http://mlcommons.org/croissant/RAI/1.0"]
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert doc["rai:dataAnnotationProtocol"] == ["labels by two coders, disagreements resolved by a third"]
    assert doc["dataex:digest"] == ds.digest
    assert doc["dataex:certificateLogIndex"] == ds.log_index
    [file] = doc["distribution"]
    assert file["sha256"] == ds.file_sha256
    assert file["encodingFormat"] == "application/x-parquet"
    fields = {f["name"]: f for f in doc["recordSet"][0]["field"]}
    assert fields["age"]["dataType"] == "sc:Integer"
    assert fields["visit_date"]["dataType"] == "sc:Date"
    assert fields["cost"]["dataType"] == "sc:Float"
    assert fields["insured"]["dataType"] == "sc:Boolean"
    assert fields["sex"]["dataType"] == ["sc:Text", "wd:Q48277"]
    assert fields["diagnosis"]["description"] == "ICD-10 code of the main diagnosis"

    dataset = mlc.Dataset(jsonld=doc)
    assert dataset.metadata.ctx.issues.errors == set()
    assert dataset.metadata.ctx.issues.warnings == set()
    assert dataset.metadata.data_collection == "HIS export, 2025-01..12"
    assert dataset.metadata.personal_sensitive_information == ["name", "id_no", "mobile"]

    # records: mlcroissant resolves local contentUrls against the document's folder, so load a file
    loaded = mlc.Dataset(jsonld=write(doc, tmp_path / "croissant.json"))
    records = list(loaded.records(record_set=RECORD_SET_ID))
    names = [c["name"] for c in ds.columns]
    expected = duckdb.sql(f"SELECT * FROM read_csv('{visits_csv}') ORDER BY visit_id").fetchall()
    got = sorted(
        (tuple(as_python(r[field_id(n)]) for n in names) for r in records), key=lambda row: str(row[0])
    )
    assert len(got) == ds.rows == 500
    assert got == [tuple(v.date() if isinstance(v, datetime) else v for v in row) for row in expected]
    assert isinstance(got[0][names.index("visit_date")], date)


def test_node_url_form(fresh_node: Node, described: str) -> None:
    doc = export_croissant(fresh_node.ex, described, local=False, base_url="https://node.example.org/")
    url = doc["distribution"][0]["contentUrl"]
    assert url == f"https://node.example.org/datasets/{described}/files/canonical.parquet"
    assert doc["url"] == f"https://node.example.org/datasets/{described}"
    mlc.Dataset(jsonld=doc)  # validates (no network touched: records are not read)


def test_round_trip_import_registers_with_metadata(fresh_node: Node, described: str, tmp_path: Path) -> None:
    ex = fresh_node.ex
    owner = ex.get_dataset(described).owner_id
    doc = export_croissant(ex, described, local=True)
    folder = tmp_path / "share"
    folder.mkdir()
    shutil.copy(doc["distribution"][0]["contentUrl"], folder / "visits.parquet")
    doc["distribution"][0]["contentUrl"] = "visits.parquet"
    doc["name"] = "Re-imported visits"
    [reg] = import_croissant(ex, write(doc, folder / "croissant.json"), owner_id=owner, actor=None)
    assert reg.dataset.id == described  # same owner, same content: the existing record
    assert reg.created is False
    meta = get_metadata(ex, described)
    assert meta.rai["annotation_protocol"] == ["labels by two coders, disagreements resolved by a third"]
    assert meta.fields["sex"]["semantic_type"] == "wd:Q48277"
    assert meta.fields["age"]["description"] == "完成的年龄"
    assert meta.languages == ["zh", "en"]


def test_import_of_a_new_file(fresh_node: Node, hospital: Actor, tmp_path: Path) -> None:
    ex = fresh_node.ex
    data = tmp_path / "data"
    data.mkdir()
    csv = data / "scores.csv"
    csv.write_text("student,score\nann,91\nbo,78\n", encoding="utf-8")
    doc = minimal_doc("data/scores.csv", sha256=hashlib.sha256(csv.read_bytes()).hexdigest())
    [reg] = import_croissant(
        ex, write(doc, tmp_path / "c.json"), owner_id=hospital.party.id, actor=hospital.party
    )
    assert reg.created is True
    d = reg.dataset
    assert (d.title, d.license, d.rows) == ("Exam scores", "CC0-1.0", 2)
    meta = get_metadata(ex, d.id)
    assert meta.description == "Scores of an exam."
    assert meta.fields == {"score": {"description": "Points out of 100", "semantic_type": None}}
    assert meta.rai == {"biases": ["small class"], "data_collection_timeframe": ["2025-06-01"]}


def minimal_doc(content_url: str, *, sha256: str = "0" * 64) -> dict[str, Any]:
    from dataex.catalog.croissant import CONTEXT

    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_1_1,
        "name": "Exam scores",
        "description": "Scores of an exam.",
        "license": "https://spdx.org/licenses/CC0-1.0.html",
        "rai:dataBiases": "small class",
        "rai:dataCollectionTimeFrame": "2025-06-01",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "scores.csv",
                "name": "scores.csv",
                "contentUrl": content_url,
                "encodingFormat": "text/csv",
                "sha256": sha256,
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "scores",
                "name": "scores",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"scores/{col}",
                        "name": col,
                        "dataType": kind,
                        **({"description": desc} if desc else {}),
                        "source": {"fileObject": {"@id": "scores.csv"}, "extract": {"column": col}},
                    }
                    for col, kind, desc in (
                        ("student", "sc:Text", ""),
                        ("score", "sc:Integer", "Points out of 100"),
                    )
                ],
            }
        ],
    }


def refused(node: Node, owner: Actor, path: Path, error: type[Exception], **kwargs: Any) -> str:
    before = snapshot(node.ex)
    with pytest.raises(error) as info:
        import_croissant(node.ex, path, owner_id=owner.party.id, actor=owner.party, **kwargs)
    assert snapshot(node.ex) == before
    return str(info.value)


def test_invalid_croissant_lists_mlcroissant_messages(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    doc = minimal_doc("scores.csv")
    doc["recordSet"][0]["field"][0]["source"]["fileObject"] = {"@id": "missing.csv"}
    message = refused(fresh_node, hospital, write(doc, tmp_path / "c.json"), InvalidInput)
    assert "does not validate under mlcroissant" in message
    assert "missing.csv" in message
    with pytest.raises(mlc.ValidationError) as info:
        mlc.Dataset(jsonld=doc)
    assert str(info.value).splitlines()[0] in message


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/x.csv",
        "http://127.0.0.1:9/x.csv",
        "ftp://example.org/x.csv",
        "s3://bucket/x.csv",
        "gs://bucket/x.csv",
        "file://example.org/x.csv",
    ],
)
def test_urls_are_refused_without_touching_the_network(
    fresh_node: Node, hospital: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the import touched the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    message = refused(fresh_node, hospital, write(minimal_doc(url), tmp_path / "c.json"), UnsafePath)
    assert "refused contentUrl" in message


def test_a_path_outside_the_allowed_root_is_refused(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("student,score\nx,1\n", encoding="utf-8")
    inner = tmp_path / "inner"
    inner.mkdir()
    for url in ("../secret.csv", str(outside), f"file://{outside}"):
        message = refused(fresh_node, hospital, write(minimal_doc(url), inner / "c.json"), UnsafePath)
        assert "outside the allowed roots" in message
    (inner / "link.csv").symlink_to(outside)
    refused(fresh_node, hospital, write(minimal_doc("link.csv"), inner / "c.json"), UnsafePath)
    # an explicitly allowed root accepts it
    doc = minimal_doc("../secret.csv", sha256=hashlib.sha256(outside.read_bytes()).hexdigest())
    regs = import_croissant(
        fresh_node.ex,
        write(doc, inner / "c.json"),
        owner_id=hospital.party.id,
        actor=None,
        allowed_roots=[tmp_path],
    )
    assert regs[0].dataset.rows == 1


def test_a_sha256_mismatch_is_refused(fresh_node: Node, hospital: Actor, tmp_path: Path) -> None:
    (tmp_path / "scores.csv").write_text("student,score\nann,91\n", encoding="utf-8")
    message = refused(fresh_node, hospital, write(minimal_doc("scores.csv"), tmp_path / "c.json"), BadFile)
    assert "declares " + "0" * 64 in message


def test_not_json_is_refused(fresh_node: Node, hospital: Actor, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json", encoding="utf-8")
    assert "is not JSON" in refused(fresh_node, hospital, path, InvalidInput)
