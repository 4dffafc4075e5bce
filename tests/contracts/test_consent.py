"""Consent withdrawal: recorded as a keyed hash, followed through a two-level lineage, consumers notified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from dataex.contracts.consent import exclusion_predicate, list_notices, subject_hash, withdraw_consent
from dataex.contracts.lifecycle import approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.db.models import ConsentLineageRow, ConsentWithdrawalRow, LogEntryRow, NoticeRow
from dataex.demo.data import hospital_visits
from dataex.errors import Forbidden, InvalidInput
from dataex.privacy.deid import load_or_create_key
from tests.conftest import Actor, Node, add
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


# -- issue 17, item 5: consent reaches every derivation and every cache (attacks through the CLI) ----

VISITS = 40  # patients, two visits each; cost = 1000 + 10·row identifies a row (fingerprints move ±1)


def _cli(node: Node, *args: str, token: str, code: int = 0) -> Any:
    from typer.testing import CliRunner

    from dataex.cli.main import app

    result = CliRunner().invoke(
        app,
        [*args, "--home", str(node.home), "--json"],
        env={"DATAEX_TOKEN": token},  # the acting party, for every command (--as)
        catch_exceptions=False,
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@dataclass
class Clinic:
    node: Node
    hospital: Actor
    insurer: Actor
    source: str


@pytest.fixture
def clinic(fresh_node: Node, tmp_path: Path) -> Clinic:
    """A hospital's visits (patient_id, age, sex, diagnosis, cost) with patient_id as its DP unit."""
    rows = [
        {
            "patient_id": f"P{u:04d}",
            "age": 30 + (u % 20),
            "sex": "F" if u % 2 else "M",
            "diagnosis": "ABC"[(u + j) % 3],
            "cost": float(1000 + 10 * (2 * u + j)),
            "email": f"p{u:04d}.{j}@example.com",
        }
        for u in range(VISITS)
        for j in range(2)
    ]
    path = tmp_path / "visits.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    hospital = add(fresh_node, "Ruijin Hospital")
    insurer = add(fresh_node, "Ping An Insurance", kind="insurer", role="consumer")
    ds = fresh_node.ex.register(path, owner=hospital.party.id, title="Visits", license="proprietary")
    _cli(fresh_node, "privacy", "set", ds.dataset.id, "--unit", "patient_id", "--max-contributions", "2",
         "--bounds", "cost=0:2000", "--epsilon-cap", "1000", token=hospital.token)  # fmt: skip
    return Clinic(fresh_node, hospital, insurer, ds.dataset.id)


def _visit_numbers(costs: list[float]) -> set[int]:
    """The row numbers behind (possibly fingerprinted) costs."""
    return {round((c - 1000) / 10) for c in costs}


PATIENT_7 = {14, 15}  # the rows of P0007


def _anonymize(c: Clinic, tmp_path: Path, drop: str = "patient_id,email") -> dict[str, Any]:
    out = tmp_path / f"release-{len(list(tmp_path.glob('release-*')))}.csv"
    body = _cli(c.node, "anonymize", c.source, "--qi", "age,sex", "--k", "2", "--drop", drop,
                "--out", str(out), token=c.hospital.token)  # fmt: skip
    body["out"] = out
    return dict(body)


def _contract(c: Clinic, dataset_id: str, tier: str, **options: str) -> str:
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    offer = _cli(c.node, "offer", "create", dataset_id, "--tier", tier, "--purpose", "research", *args,
                 "--approval", "auto", token=c.hospital.token)  # fmt: skip
    contract = _cli(
        c.node, "contract", "request", offer["id"], "--purpose", "research", token=c.insurer.token
    )
    assert contract["state"] == "active", contract
    return str(contract["id"])


def test_a_withdrawn_subject_is_absent_from_a_new_release(clinic: Clinic, tmp_path: Path) -> None:
    """Attack (i): withdraw, then anonymize — the anonymizer read the raw file and released the rows."""
    c = clinic
    w = _cli(c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0007",
             token=c.hospital.token)  # fmt: skip
    assert w["created"] and w["column"] == "patient_id"
    body = _anonymize(c, tmp_path)
    released = pacsv.read_csv(body["out"])
    assert body["rows"] == released.num_rows == 2 * VISITS - 2
    assert _visit_numbers(released.column("cost").to_pylist()) == set(range(2 * VISITS)) - PATIENT_7
    stored = c.node.ex.get_dataset(body["id"])
    table = pq.read_table(c.node.ex.store.url(stored.file_sha256))
    assert _visit_numbers(table.column("cost").to_pylist()).isdisjoint(PATIENT_7)
    # the check measures the consented data too
    check = _cli(c.node, "anonymize", c.source, "--qi", "age,sex", "--k", "2", "--check",
                 token=c.hospital.token)  # fmt: skip
    assert check["risk"]["records"] == 2 * VISITS - 2
    assert check["risk"]["population"] == "sample"  # journalist = prosecutor, labelled as such


def test_a_later_withdrawal_reaches_a_release_through_its_hidden_lineage(
    clinic: Clinic, tmp_path: Path
) -> None:
    """Attack (ii): anonymize, then withdraw on the source — the release kept serving the rows."""
    from dataex.contracts.consent import dataset_version
    from dataex.privacy.dp import mechanisms

    c = clinic
    release = _anonymize(c, tmp_path)["id"]
    _cli(c.node, "fingerprint", "set", release, "--tolerate", "cost=1", token=c.hospital.token)
    _cli(
        c.node, "privacy", "set", release, "--unit", "row", "--bounds", "cost=0:2000", token=c.hospital.token
    )
    l3 = _contract(c, release, "L3", max_rows="1000", legal_basis="consent")
    l1 = _contract(c, release, "L1", epsilon="10")
    sql = f"SELECT COUNT(*) AS n, SUM(cost) AS total FROM {release}"

    def extract(name: str) -> set[int]:
        out = tmp_path / name
        _cli(c.node, "extract", l3, "--out", str(out), token=c.insurer.token)
        return _visit_numbers(pq.read_table(out).column("cost").to_pylist())

    before = extract("before.parquet")
    assert before >= PATIENT_7 and len(before) == 2 * VISITS
    with mechanisms.exact_mode():
        dp_before = _cli(c.node, "query", l1, sql, "--epsilon", "1", token=c.insurer.token)["rows"][0]
    version = dataset_version(c.node.ex, release)
    w = _cli(c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0007",
             token=c.hospital.token)  # fmt: skip
    assert release in w["datasets"] and w["notices"] == 1  # the L3 consumer must delete the rows
    after = extract("after.parquet")
    assert after == before - PATIENT_7
    with mechanisms.exact_mode():
        dp_after = _cli(c.node, "query", l1, sql, "--epsilon", "1", token=c.insurer.token)["rows"][0]
    assert (dp_before["n"], dp_before["total"]) == (80, sum(1000 + 10 * i for i in range(80)))
    assert (dp_after["n"], dp_after["total"]) == (78, dp_before["total"] - 1140 - 1150)  # rows 14 and 15
    assert dataset_version(c.node.ex, release) != version  # PSI setups and bounded copies rebuild
    # the subject key never reaches a consumer: not in the release's schema, file or extract
    shown = _cli(c.node, "datasets", "show", release, token=c.insurer.token)
    names = [col["name"] for col in shown["columns"]]
    assert names == ["age", "sex", "diagnosis", "cost"]
    assert pq.read_schema(tmp_path / "after.parquet").names == names
    raw = (tmp_path / "after.parquet").read_bytes() + json.dumps(shown).encode()
    assert w["subject_hash"].encode() not in raw and b"P0007" not in raw


def test_a_dp_answer_cached_before_a_withdrawal_is_not_served_after_it(clinic: Clinic) -> None:
    """Attack (iii): the cache answered the same query after the withdrawal, from the old data."""
    c = clinic
    l1 = _contract(c, c.source, "L1", epsilon="300")
    sql = f"SELECT COUNT(*) AS n FROM {c.source}"
    first = _cli(c.node, "query", l1, sql, "--epsilon", "100", token=c.insurer.token)
    again = _cli(c.node, "query", l1, sql, "--epsilon", "100", token=c.insurer.token)
    assert (first["cached"], again["cached"], again["epsilon_charged"]) == (False, True, 0.0)
    assert again["rows"] == first["rows"] and abs(first["rows"][0]["n"] - 80) < 1
    _cli(
        c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0007", token=c.hospital.token
    )
    after = _cli(c.node, "query", l1, sql, "--epsilon", "100", token=c.insurer.token)
    assert after["cached"] is False and after["epsilon_charged"] == 100.0  # a new answer, charged
    assert after["epsilon_remaining"] == pytest.approx(100.0)  # 300 - 100 - 100
    assert abs(after["rows"][0]["n"] - 78) < 1  # the noise scale is 2/100: the consented count
    repeat = _cli(c.node, "query", l1, sql, "--epsilon", "100", token=c.insurer.token)
    assert repeat["cached"] is True and repeat["rows"] == after["rows"]


def test_a_release_of_a_release_inherits_the_lineage_renumbered(clinic: Clinic, tmp_path: Path) -> None:
    """Source → R1 (no subject column) → R2 read after a first withdrawal shifted R1's rows."""
    from dataex.contracts.consent import consented_source, lineage_digest, subject_hash

    c = clinic
    ex = c.node.ex
    r1 = _anonymize(c, tmp_path)["id"]
    _cli(c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0003",
         token=c.hospital.token)  # fmt: skip
    r2 = _cli(c.node, "anonymize", r1, "--qi", "diagnosis", "--k", "2", token=c.hospital.token)["id"]
    r2_file = pq.read_table(ex.store.url(ex.get_dataset(r2).file_sha256))
    assert r2_file.num_rows == 78 and r2_file.column("cost").to_pylist()[12:14] == [1140, 1150]
    key = load_or_create_key(ex.settings.home)
    with ex.session() as s:
        stored = {
            (r.column, r.subject_hash): r.rows
            for r in s.scalars(select(ConsentLineageRow).where(ConsentLineageRow.dataset_id == r2))
        }
        entries = [
            json.loads(e.entry) for e in s.scalars(select(LogEntryRow)) if e.event == "dataset.anonymized"
        ]
    assert stored[("patient_id", subject_hash(key, "P0007"))] == [12, 13]  # R1's rows 14, 15
    assert ("patient_id", subject_hash(key, "P0003")) not in stored  # never read into R2
    logged = [e["data"]["subject_lineage"] for e in entries if e["data"]["dataset_id"] == r2]
    assert logged == [{"columns": ["email", "patient_id"], "sha256": lineage_digest(stored)}]
    _cli(c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0007",
         token=c.hospital.token)  # fmt: skip
    served = pq.read_table(consented_source(ex, r2).path)
    assert served.num_rows == 76
    assert _visit_numbers(served.column("cost").to_pylist()) == set(range(80)) - PATIENT_7 - {6, 7}


def test_psi_on_a_release_leaves_out_a_subject_withdrawn_later(clinic: Clinic, tmp_path: Path) -> None:
    """Attack (ii) through PSI: the release keeps a per-visit e-mail; its provider set was built before."""
    c = clinic
    release = _anonymize(c, tmp_path, drop="patient_id")["id"]
    contract = _contract(c, release, "L4", max_rows="1000", legal_basis="consent")
    mine = tmp_path / "mine.csv"
    emails = [f"p{u:04d}.{j}@example.com" for u in range(VISITS) for j in range(2)]
    pacsv.write_csv(pa.table({"email": emails}), mine)

    def members() -> set[str]:
        body = _cli(c.node, "psi", contract, "--input", str(mine), "--column", "email", "--reveal", "members",
                    token=c.insurer.token)  # fmt: skip
        return set(body["members"])

    before = members()
    assert before == set(emails)
    _cli(
        c.node, "consent", "withdraw", "--dataset", c.source, "--subject-key", "P0007", token=c.hospital.token
    )
    assert members() == before - {"p0007.0@example.com", "p0007.1@example.com"}


def test_classified_identifiers_keep_a_lineage_and_unreachable_releases_are_named(
    fresh_node: Node, tmp_path: Path
) -> None:
    """Without a DP unit, a release still keeps lineage for classified keys (a mobile number); a
    withdrawal keyed on a column it has no lineage for names the release as unreached."""
    from dataex.contracts.consent import consented_source

    ex = fresh_node.ex
    hospital = add(fresh_node, "Hospital")
    visits = hospital_visits(300, seed=9)
    pq.write_table(visits, tmp_path / "visits.parquet")
    source = ex.register(
        tmp_path / "visits.parquet", owner=hospital.party.id, title="v", license="x"
    ).dataset.id
    release = _cli(fresh_node, "anonymize", source, "--qi", "age,sex", "--k", "2", "--max-suppression", "0.1",
                   "--drop", "patient_id,name,mobile,id_no", token=hospital.token)["id"]  # fmt: skip
    mobile, patient = visits.column("mobile")[0].as_py(), visits.column("patient_id")[5].as_py()
    rows = visits.to_pylist()
    of_mobile = {r["visit_id"] for r in rows if r["mobile"] == mobile}
    served = set(pq.read_table(consented_source(ex, release).path).column("visit_id").to_pylist())
    assert of_mobile & served
    w = _cli(fresh_node, "consent", "withdraw", "--dataset", source, "--subject-key", mobile, "--column",
             "mobile", token=hospital.token)  # fmt: skip
    assert w["datasets"] == [source, release] and w["unreached"] == []
    after = set(pq.read_table(consented_source(ex, release).path).column("visit_id").to_pylist())
    assert after == served - of_mobile
    w = _cli(fresh_node, "consent", "withdraw", "--dataset", source, "--subject-key", patient, "--column",
             "patient_id", token=hospital.token)  # fmt: skip
    assert w["unreached"] == [release]  # said, not silently claimed


def test_http_withdrawal_reaches_the_release_and_bounds_its_input(clinic: Clinic, tmp_path: Path) -> None:
    """``POST /datasets/{id}/consent-withdrawals``: over-long input is refused and changes nothing."""
    from fastapi.testclient import TestClient

    from dataex.api.app import create_app
    from dataex.contracts.consent import consented_source

    c = clinic
    release = _anonymize(c, tmp_path)["id"]
    client = TestClient(create_app(c.node.ex))
    auth = {"Authorization": f"Bearer {c.hospital.token}"}
    url = f"/datasets/{c.source}/consent-withdrawals"
    before = snapshot(c.node.ex)
    for body in ({"subject_key": "P" * 501}, {"subject_key": "P0007", "column": "c" * 201}):
        r = client.post(url, json=body, headers=auth)
        assert r.status_code in (400, 422) and r.json()["ok"] is False, r.text
    assert snapshot(c.node.ex) == before
    r = client.post(url, json={"subject_key": "P0007"}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["datasets"] == [c.source, release] and r.json()["unreached"] == []
    served = pq.read_table(consented_source(c.node.ex, release).path)
    assert _visit_numbers(served.column("cost").to_pylist()) == set(range(2 * VISITS)) - PATIENT_7
