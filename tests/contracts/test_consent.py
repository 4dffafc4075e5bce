"""Consent withdrawal: recorded as a keyed hash, followed through a two-level lineage, consumers notified."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import select

from dataex.contracts.consent import exclusion_predicate, list_notices, subject_hash, withdraw_consent
from dataex.contracts.lifecycle import approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.db.models import ConsentWithdrawalRow, LogEntryRow, NoticeRow
from dataex.demo.data import hospital_visits
from dataex.errors import Forbidden, InvalidInput
from dataex.privacy.deid import load_or_create_key
from tests.conftest import Node, add
from tests.state import assert_only_denials, snapshot


@pytest.fixture
def lineage(fresh_node: Node, tmp_path: Path) -> dict[str, str]:
    """root (600 visits) → child (first 500) → grandchild (first 400), all the hospital's."""
    ex = fresh_node.ex
    hospital = add(fresh_node, "Hospital")
    visits = hospital_visits(600, seed=9)
    ids: dict[str, str] = {"owner": hospital.party.id}
    parent = None
    for name, n in (("root", 600), ("child", 500), ("grandchild", 400)):
        path = tmp_path / f"{name}.csv"
        pacsv.write_csv(visits.slice(0, n), path)
        d = ex.register(path, owner=hospital.party.id, title=name, license="x", derived_from=parent).dataset
        ids[name] = parent = d.id
    ids["patient"] = visits.column("patient_id")[0].as_py()
    return ids


def test_withdrawal_excludes_the_subject_through_two_levels_of_lineage(
    fresh_node: Node, lineage: dict[str, str]
) -> None:
    ex = fresh_node.ex
    patient = lineage["patient"]
    con = duckdb.connect()
    counts = {}
    for name in ("root", "child", "grandchild"):
        d = ex.get_dataset(lineage[name])
        path = ex.store.url(d.file_sha256)
        counts[name] = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE patient_id = '{patient}') FROM read_parquet('{path}')"
        ).fetchone()
    w = withdraw_consent(ex, lineage["root"], patient, column="patient_id")
    assert w.created and w.datasets == [lineage["root"], lineage["child"], lineage["grandchild"]]
    for name in ("root", "child", "grandchild"):
        d = ex.get_dataset(lineage[name])
        with ex.session() as s:
            predicate = exclusion_predicate(ex, s, d.id)
        assert predicate is not None
        kept, of_patient = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE patient_id = '{patient}') "
            f"FROM read_parquet('{ex.store.url(d.file_sha256)}') WHERE {predicate}"
        ).fetchone()
        total, patient_rows = counts[name]
        assert patient_rows >= 1
        assert of_patient == 0
        assert kept == total - patient_rows
    # the withdrawal on the child does not reach its parent
    with ex.session() as s:
        assert exclusion_predicate(ex, s, lineage["root"]) is not None


def test_only_the_keyed_hash_is_stored_and_logged(fresh_node: Node, lineage: dict[str, str]) -> None:
    ex = fresh_node.ex
    patient = lineage["patient"]
    w = withdraw_consent(ex, lineage["child"], patient, column="patient_id")
    assert w.subject_hash == subject_hash(load_or_create_key(ex.settings.home), patient)
    with ex.session() as s:
        stored = s.scalars(select(ConsentWithdrawalRow)).one()
        entry = s.get(LogEntryRow, stored.log_index)
    assert entry is not None and entry.event == "consent.withdrawn"
    assert patient.encode() not in entry.entry
    assert stored.subject_hash == w.subject_hash
    # idempotent: the same subject again changes nothing
    before = snapshot(ex)
    again = withdraw_consent(ex, lineage["child"], patient, column="patient_id")
    assert not again.created and again.id == w.id
    assert snapshot(ex) == before
    # the root is not affected by a withdrawal recorded on its child
    with ex.session() as s:
        assert exclusion_predicate(ex, s, lineage["root"]) is None


def test_consumers_of_l3_contracts_on_derived_data_are_notified(
    fresh_node: Node, lineage: dict[str, str]
) -> None:
    ex = fresh_node.ex
    hospital = ex.get_party(lineage["owner"])
    insurer = add(fresh_node, "Insurer", kind="insurer", role="consumer")
    lab = add(fresh_node, "Lab", kind="ai_team", role="consumer")
    l3 = create_offer(
        ex,
        lineage["grandchild"],
        actor=hospital,
        tier="L3",
        purposes=["ai-training"],
        max_rows=1000,
        legal_basis="consent",
    )
    l1 = create_offer(ex, lineage["child"], actor=hospital, tier="L1", purposes=["research"], epsilon=1.0)
    c3 = request_contract(ex, l3.id, actor=insurer.party, purpose="ai-training")
    approve_contract(ex, c3.id, actor=hospital)
    c1 = request_contract(ex, l1.id, actor=lab.party, purpose="research")
    approve_contract(ex, c1.id, actor=hospital)
    w = withdraw_consent(ex, lineage["root"], lineage["patient"], column="patient_id", actor=hospital)
    assert w.notices == 1
    (notice,) = list_notices(ex, actor=insurer.party)
    assert notice.contract_id == c3.id and notice.kind == "delete_subject"
    assert lineage["patient"] not in notice.message
    assert list_notices(ex, actor=lab.party) == []  # L1 answers are aggregates: no rows to delete


def test_refusals_change_nothing(fresh_node: Node, lineage: dict[str, str]) -> None:
    ex = fresh_node.ex
    stranger = add(fresh_node, "Stranger")
    before = snapshot(ex)
    with pytest.raises(Forbidden):
        withdraw_consent(ex, lineage["root"], lineage["patient"], column="patient_id", actor=stranger.party)
    assert_only_denials(ex, before)
    before = snapshot(ex)
    with pytest.raises(InvalidInput, match="privacy unit"):
        withdraw_consent(ex, lineage["root"], lineage["patient"])
    with pytest.raises(InvalidInput, match="no column"):
        withdraw_consent(ex, lineage["root"], lineage["patient"], column="ssn")
    with pytest.raises(InvalidInput, match="subject"):
        withdraw_consent(ex, lineage["root"], "  ", column="patient_id")
    assert snapshot(ex) == before
    with ex.session() as s:
        assert s.scalars(select(NoticeRow)).first() is None


def test_dp_answers_leave_out_withdrawn_subjects(sqlite_node: Node, tmp_path: Path) -> None:
    from dataex.privacy.dp import mechanisms
    from dataex.privacy.dp.service import query
    from tests.privacy.dp import dp_market, small_visits

    dm = dp_market(sqlite_node, small_visits(tmp_path / "visits.csv", units=30, per_unit=2))
    ex, sql = dm.m.ex, "SELECT COUNT(DISTINCT patient_id) AS patients, COUNT(*) AS n FROM visits"
    with mechanisms.exact_mode():
        before = query(ex, dm.contract.id, sql, epsilon=0.5, actor=dm.m.insurer.party).rows[0]
        w = withdraw_consent(ex, dm.m.dataset_id, "P0007", actor=dm.m.hospital.party)  # the DP privacy unit
        after = query(ex, dm.contract.id, sql, epsilon=0.4, actor=dm.m.insurer.party).rows[0]
    assert w.column == "patient_id"
    assert (before["patients"], before["n"]) == (30, 60)
    assert (after["patients"], after["n"]) == (29, 58)
