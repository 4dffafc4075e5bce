"""Registration on both metadata backends: records, idempotency, originality, lineage, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dataex.catalog.certificates import verify_certificate
from dataex.demo.data import hospital_visits
from dataex.errors import (
    DataexError,
    DuplicateColumns,
    EmptyFile,
    Forbidden,
    InputFileNotFound,
    InvalidInput,
    NotOriginal,
    PartyNotFound,
    RaggedRows,
    UndecodableFile,
    UnsafePath,
)
from dataex.quality.service import get_report
from tests.conftest import Actor, Node, add
from tests.state import snapshot


def test_register_records_certifies_and_logs(fresh_node: Node, hospital: Actor, visits_csv: Path) -> None:
    ex = fresh_node.ex
    reg = ex.register(
        visits_csv, owner=hospital.party.id, title="Outpatient visits 2025", license="CC-BY-4.0"
    )
    d = reg.dataset
    assert reg.created and d.id.startswith("ds_") and d.rows == 500
    assert d.digest.startswith("sha256:") and len(d.digest) == 7 + 64
    assert [c["name"] for c in d.columns][:3] == ["visit_id", "patient_id", "name"]
    assert ex.store.exists(d.file_sha256)
    assert ex.get_dataset(d.id) == d
    payload, problems = verify_certificate(d.certificate, ex.key.public_raw)
    assert problems == [] and payload is not None
    assert payload["digest"] == d.digest and payload["owner"] == {
        "id": hospital.party.id,
        "name": "Ruijin Hospital",
    }
    assert payload["rights"] == ["holding", "processing_use", "product_operation"]
    assert payload["log_index"] == d.log_index
    entry = ex.prove_inclusion(d.log_index)
    assert entry["ok"] and entry["entry"]["event"] == "dataset.registered"
    assert entry["entry"]["data"]["dataset_id"] == d.id and entry["entry"]["actor"] == "operator"
    assert ex.verify_certificate(d.certificate)["ok"] is True
    assert ex.audit().ok


def test_same_owner_same_content_is_idempotent(
    fresh_node: Node, hospital: Actor, visits_csv: Path, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    first = ex.register(visits_csv, owner=hospital.party.id, title="v", license="proprietary").dataset
    before = snapshot(ex)
    as_parquet = tmp_path / "same.parquet"
    pq.write_table(pacsv.read_csv(visits_csv), as_parquet)
    again = ex.register(as_parquet, owner=hospital.party.id, title="other title", license="proprietary")
    assert not again.created and again.dataset.id == first.id
    assert snapshot(ex) == before


def test_another_partys_copy_is_refused_and_changes_nothing(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    visits = hospital_visits(2000, seed=3)
    original = tmp_path / "visits.csv"
    pacsv.write_csv(visits, original)
    d = ex.register(original, owner=hospital.party.id, title="visits", license="proprietary").dataset
    broker = add(fresh_node, "Broker", kind="enterprise")
    # shuffled, 10% of the rows dropped, saved as Parquet: still >= 0.8 similar
    copy = tmp_path / "copy.parquet"
    pq.write_table(visits.take(list(range(1999, 199, -1))), copy)
    before = snapshot(ex)
    with pytest.raises(NotOriginal) as info:
        ex.register(copy, owner=broker.party.id, title="cheap visits", license="CC0-1.0")
    assert info.value.dataset_id == d.id
    assert 0.8 <= info.value.similarity <= 1.0
    assert info.value.details["certificate"] == d.certificate
    assert d.id in info.value.message
    assert snapshot(ex) == before


def test_unrelated_data_of_another_party_is_accepted(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    pacsv.write_csv(hospital_visits(300, seed=1), a)
    pacsv.write_csv(hospital_visits(300, seed=2), b)
    ex.register(a, owner=hospital.party.id, title="a", license="x")
    other = add(fresh_node, "Other hospital")
    assert ex.register(b, owner=other.party.id, title="b", license="x").created


def test_derived_from_is_lineage_for_the_owner_only(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    visits = hospital_visits(1000, seed=5)
    src, sub = tmp_path / "src.csv", tmp_path / "sub.csv"
    pacsv.write_csv(visits, src)
    pacsv.write_csv(visits.slice(0, 900), sub)
    source = ex.register(src, owner=hospital.party.id, title="src", license="x").dataset
    derived = ex.register(
        sub, owner=hospital.party.id, title="sub", license="x", derived_from=source.id
    ).dataset
    assert derived.derived_from == source.id and derived.id != source.id
    stranger = add(fresh_node, "Stranger")
    with pytest.raises(Forbidden):
        ex.register(sub, owner=stranger.party.id, title="sub", license="x", derived_from=source.id)


def test_unknown_owner_and_bad_fields_change_nothing(
    fresh_node: Node, visits_csv: Path, hospital: Actor
) -> None:
    ex = fresh_node.ex
    before = snapshot(ex)
    with pytest.raises(PartyNotFound):
        ex.register(visits_csv, owner="pty_nobody", title="t", license="x")
    with pytest.raises(InvalidInput, match="title"):
        ex.register(visits_csv, owner=hospital.party.id, title="  ", license="x")
    with pytest.raises(InvalidInput, match="rights"):
        ex.register(visits_csv, owner=hospital.party.id, title="t", license="x", rights=["ownership"])
    assert snapshot(ex) == before


BAD_FILES: dict[str, tuple[bytes | None, type[DataexError]]] = {
    "empty.csv": (b"", EmptyFile),
    "header_only.csv": (b"a,b,c\n", EmptyFile),
    "ragged.csv": (b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n", RaggedRows),
    "undecodable.csv": (b"a,b\n1,\x80\xff\xfe\xfd\n", UndecodableFile),
    "duplicate.csv": (b"a,b,A\n1,2,3\n", DuplicateColumns),
    "missing.csv": (None, InputFileNotFound),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_refused_and_change_nothing(sqlite_node: Node, tmp_path: Path, name: str) -> None:
    ex = sqlite_node.ex
    owner = add(sqlite_node, "H")
    content, error = BAD_FILES[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = snapshot(ex)
    with pytest.raises(error) as info:
        ex.register(path, owner=owner.party.id, title="t", license="x")
    assert "\n" not in info.value.message
    if name == "ragged.csv":
        assert info.value.details["lines"] == [3, 5]
    assert snapshot(ex) == before


def test_directory_and_dotdot_paths_are_refused(sqlite_node: Node, tmp_path: Path, visits_csv: Path) -> None:
    ex = sqlite_node.ex
    owner = add(sqlite_node, "H")
    before = snapshot(ex)
    with pytest.raises(InputFileNotFound, match="directory"):
        ex.register(tmp_path, owner=owner.party.id, title="t", license="x")
    (tmp_path / "sub").mkdir()
    shutil.copy(visits_csv, tmp_path / "v.csv")
    with pytest.raises(UnsafePath):
        ex.register(tmp_path / "sub" / ".." / "v.csv", owner=owner.party.id, title="t", license="x")
    assert snapshot(ex) == before


def test_consumers_cannot_own_data(fresh_node: Node, visits_csv: Path) -> None:
    lab = add(fresh_node, "AI lab", kind="ai_team", role="consumer")
    with pytest.raises(Forbidden):
        fresh_node.ex.register(visits_csv, owner=lab.party.id, title="t", license="x")


def test_registration_classifies_the_new_dataset(fresh_node: Node, hospital: Actor, visits_csv: Path) -> None:
    from dataex.privacy.classify import get_classification

    ex = fresh_node.ex
    d = ex.register(visits_csv, owner=hospital.party.id, title="visits", license="x").dataset
    result = get_classification(ex, d.id)
    types = {f["name"]: f["type"] for f in result.fields}
    assert types["id_no"] == "cn_resident_id"
    assert types["diagnosis"] == "medical_diagnosis"
    last = ex.prove_inclusion(d.log_index + 1)["entry"]
    assert last["event"] == "dataset.classified"
    assert last["data"]["dataset_id"] == d.id


def test_nan_and_inf_register_and_are_scored_as_values(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    # issue 18: the quality hook wrote NaN/inf into SQL and crashed after the registration committed
    src = tmp_path / "lab.csv"
    src.write_text("id,value\n1,1.5\n2,nan\n3,inf\n4,-inf\n5,2.5\n6,3.5\n7,4.5\n")
    ex = fresh_node.ex
    d = ex.register(src, owner=hospital.party.id, title="lab", license="x").dataset
    report = get_report(ex, d.id)
    value = next(c for c in report["columns"] if c["name"] == "value")
    assert value["stats"]["nonfinite"] == 3
    assert (value["stats"]["min"], value["stats"]["max"]) == (1.5, 4.5)


def test_a_wide_file_is_refused_whole_and_one_at_the_cap_is_analyzed(
    sqlite_node: Node, tmp_path: Path
) -> None:
    import time

    owner = add(sqlite_node, "Survey institute")
    ex = sqlite_node.ex
    wide = tmp_path / "wide.csv"
    wide.write_text(
        "\n".join(",".join(f"c{j}" if i == 0 else str(i * j) for j in range(10_000)) for i in range(5))
    )
    before = snapshot(ex)
    with pytest.raises(DataexError, match="10,000 columns; at most 2,000"):
        ex.register(wide, owner=owner.party.id, title="wide", license="x")
    assert snapshot(ex) == before
    ok = tmp_path / "ok.csv"
    ok.write_text(
        "\n".join(",".join(f"c{j}" if i == 0 else str(i * j) for j in range(600)) for i in range(5))
    )
    t0 = time.perf_counter()
    d = ex.register(ok, owner=owner.party.id, title="ok", license="x").dataset
    assert time.perf_counter() - t0 < 60
    assert len(get_report(ex, d.id)["columns"]) == 600
