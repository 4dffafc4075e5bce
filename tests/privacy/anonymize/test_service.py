"""The anonymize service on a node (SQLite and PostgreSQL): registration, lineage, log, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from dataex.db.models import LogEntryRow
from dataex.errors import AnonymizationInfeasible, Forbidden, InvalidHierarchy, InvalidInput
from dataex.privacy.anonymize import service
from dataex.privacy.anonymize.engine import Spec
from dataex.privacy.anonymize.verify import verify_file
from tests.conftest import Actor, Node, add
from tests.privacy.anonymize.adult import ADULT, hierarchies


def _entries(node: Node, event: str) -> list[dict[str, object]]:
    with node.ex.session() as s:
        rows = s.scalars(select(LogEntryRow).where(LogEntryRow.event == event)).all()
        return [json.loads(r.entry) for r in rows]


def test_anonymize_registers_a_derived_dataset_with_lineage_and_log(
    fresh_node: Node, hospital: Actor, tmp_path: Path
) -> None:
    ex = fresh_node.ex
    src = ex.register(
        ADULT / "adult_subset.csv", owner=hospital.party.id, title="Adult subset", license="CC-BY-4.0"
    )
    qi = ["sex", "age", "race", "education"]
    spec = Spec(
        qi=qi, sensitive=["salary-class"], k=5, l=2, max_suppression=0.02, hierarchies=hierarchies(qi)
    )
    out = tmp_path / "owner.csv"
    before = len(_entries(fresh_node, "dataset.registered"))
    result = service.anonymize(ex, src.dataset.id, spec, actor=hospital.party, out=out)
    derived = ex.get_dataset(result.dataset.id)
    assert derived.derived_from == src.dataset.id and derived.owner_id == hospital.party.id
    assert len(_entries(fresh_node, "dataset.registered")) == before + 1
    [entry] = _entries(fresh_node, "dataset.anonymized")
    data = entry["data"]
    assert isinstance(data, dict)
    assert data["dataset_id"] == derived.id and data["source_id"] == src.dataset.id
    assert data["spec"]["k"] == 5 and data["spec"]["l"] == 2
    assert set(data["hierarchies"]) == set(qi)
    assert all(len(h["sha256"]) == 64 for h in data["hierarchies"].values())
    v = verify_file(out, qi, ["salary-class"])
    assert v["k"] >= 5 and v["sensitive"]["salary-class"]["l_distinct"] >= 2
    assert v["rows"] == derived.rows == result.outcome.table.num_rows
    assert ex.audit().ok
    body = result.to_dict()
    assert body["id"] == derived.id and body["levels"] is not None and "risk" in body


def test_only_the_owner_may_anonymize(fresh_node: Node, hospital: Actor) -> None:
    ex = fresh_node.ex
    src = ex.register(
        ADULT / "adult_subset.csv", owner=hospital.party.id, title="Adult subset", license="CC-BY-4.0"
    )
    other = add(fresh_node, "Other Hospital")
    with pytest.raises(Forbidden):
        service.anonymize(ex, src.dataset.id, Spec(qi=["sex"], k=2), actor=other.party)


def test_demo_hospital_data_defaults_from_classification(sqlite_node: Node, visits_csv: Path) -> None:
    ex = sqlite_node.ex
    h = add(sqlite_node, "Ruijin Hospital")
    src = ex.register(visits_csv, owner=h.party.id, title="Visits", license="proprietary")
    result = service.anonymize(ex, src.dataset.id, Spec(qi=[], k=5, max_suppression=0.05), actor=h.party)
    spec = result.outcome.spec
    assert "id_no" in spec.qi and "age" in spec.qi and "sex" in spec.qi
    assert "name" in spec.drop and "mobile" in spec.drop
    cols = result.outcome.table.column_names
    assert "name" not in cols and "mobile" not in cols
    assert result.outcome.achieved["k"] >= 5
    ids = result.outcome.table.column("id_no").to_pylist()
    assert all(len(v) <= 6 or v == "*" for v in ids)  # generalized at least to the area code


def test_check_only_measures(sqlite_node: Node) -> None:
    ex = sqlite_node.ex
    h = add(sqlite_node, "Ruijin Hospital")
    src = ex.register(ADULT / "adult.csv", owner=h.party.id, title="Adult", license="CC-BY-4.0")
    cols = [
        "sex",
        "age",
        "race",
        "marital-status",
        "education",
        "native-country",
        "workclass",
        "occupation",
        "salary-class",
    ]
    size = len(_entries(sqlite_node, "dataset.anonymized"))
    r = service.check(ex, src.dataset.id, Spec(qi=cols, k=5), actor=None)
    assert r["achieved"]["k"] == 1 and r["satisfied"]["k"] is False
    assert r["risk"]["prosecutor"]["average"] == 0.6465751607983555
    assert len(_entries(sqlite_node, "dataset.anonymized")) == size


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (Spec(qi=["sex"], k=1), "k must be between 2"),
        (Spec(qi=["sex"], k=10**6), "k must be between 2"),
        (Spec(qi=["sex"], sensitive=["salary-class"], l=3), "exceeds the 2 distinct values"),
        (Spec(qi=["sex"], sensitive=["salary-class"], t=0.0), r"t must be in \(0, 1\]"),
        (Spec(qi=["sex"], sensitive=["salary-class"], t=1.5), r"t must be in \(0, 1\]"),
        (Spec(qi=["nope"], k=2), "no column 'nope'"),
        (
            Spec(qi=["sex", "salary-class"], sensitive=["salary-class"], k=2),
            "both a quasi-identifier and sensitive",
        ),
        (Spec(qi=["sex"]), "at least one privacy model"),
        (Spec(qi=["sex"], l=2), "need a sensitive attribute"),
    ],
)
def test_bad_input_is_refused_and_nothing_registered(sqlite_node: Node, spec: Spec, match: str) -> None:
    ex = sqlite_node.ex
    h = add(sqlite_node, "Ruijin Hospital")
    src = ex.register(ADULT / "adult_subset.csv", owner=h.party.id, title="Adult subset", license="CC-BY-4.0")
    n = len(ex.list_datasets())
    with pytest.raises(InvalidInput, match=match):
        service.anonymize(ex, src.dataset.id, spec, actor=h.party)
    assert len(ex.list_datasets()) == n


def test_hierarchy_missing_a_value_and_infeasible(sqlite_node: Node, tmp_path: Path) -> None:
    ex = sqlite_node.ex
    h = add(sqlite_node, "Ruijin Hospital")
    src = ex.register(ADULT / "adult_subset.csv", owner=h.party.id, title="Adult subset", license="CC-BY-4.0")
    partial = tmp_path / "sex.csv"
    partial.write_text("Male;*\n")
    with pytest.raises(InvalidHierarchy, match="'Female'"):
        service.anonymize(
            ex, src.dataset.id, Spec(qi=["sex"], k=2, hierarchies={"sex": str(partial)}), actor=h.party
        )
    # no class can hold r1 < 1·r2 when one salary class dominates the whole table
    infeasible = Spec(qi=["sex", "age"], sensitive=["salary-class"], l=2, l_variant="recursive", c=1.0)
    with pytest.raises(AnonymizationInfeasible) as e:
        service.anonymize(ex, src.dataset.id, infeasible, actor=h.party)
    assert "best achievable" in e.value.message and "k" in e.value.best
    assert len(ex.list_datasets()) == 1
