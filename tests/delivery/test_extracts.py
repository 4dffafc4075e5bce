"""Extracts: tiers, row limits and charges, refusals logged and nothing delivered, formats, k-anonymity."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from dataex.contracts.consent import withdraw_consent
from dataex.db.models import ContractRow, LogEntryRow
from dataex.delivery.extracts import extract
from dataex.delivery.tolerances import set_tolerances
from dataex.errors import (
    AccessDenied,
    BudgetExhausted,
    ContractNotFound,
    ExtractRefused,
    FingerprintUnavailable,
    InvalidInput,
)
from dataex.storage.store import sha256_file
from tests.conftest import Node
from tests.contracts import log_events, log_size
from tests.delivery import delivery


def entries(node: Node, event: str) -> list[dict[str, object]]:
    with node.ex.session() as s:
        raws = s.scalars(
            select(LogEntryRow.entry).where(LogEntryRow.event == event).order_by(LogEntryRow.idx)
        )
        return [json.loads(r)["data"] for r in raws]


def test_an_l4_extract_is_fingerprinted_charged_and_logged(fresh_node: Node, tmp_path: Path) -> None:
    d = delivery(fresh_node, tmp_path, rows=600, consumers=1)
    insurer = d.consumers[0]
    c = d.contract(insurer, max_rows=1000)
    result = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "x.parquet")
    assert result.rows == result.rows_charged == 600 and result.marked_cells > 200
    assert sha256_file(tmp_path / "x.parquet") == result.sha256
    [delivered] = entries(fresh_node, "extract.delivered")
    assert delivered["sha256"] == result.sha256 and delivered["contract_id"] == c.id
    with d.ex.session() as s:
        assert s.get_one(ContractRow, c.id).remaining_rows == 400
    got = pd.read_parquet(tmp_path / "x.parquet")
    original = pd.read_parquet(d.ex.store.url(d.ex.get_dataset(d.dataset_id).file_sha256))
    assert list(got.columns) == list(original.columns)
    assert got.drop(columns="cost").equals(original.drop(columns="cost"))
    assert ((got["cost"] - original["cost"]).abs().round(2) <= 0.01).all()
    assert (got["cost"] != original["cost"]).any()
    again = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "again.csv", format="csv")
    assert again.rows_charged == 0  # the same rows are not charged twice


def test_extract_on_l1_or_l2_is_refused_and_logged(fresh_node: Node, tmp_path: Path) -> None:
    d = delivery(fresh_node, tmp_path, rows=200, consumers=1)
    insurer = d.consumers[0]
    for tier in ("L1", "L2"):
        c = d.contract(insurer, tier=tier)
        with pytest.raises(AccessDenied) as e:
            extract(d.ex, c.id, actor=insurer.party, out=tmp_path / f"{tier}.parquet")
        assert e.value.rule == "tier.too_low"
        assert not (tmp_path / f"{tier}.parquet").exists()
    assert [x["rule"] for x in entries(fresh_node, "access.denied")] == ["tier.too_low", "tier.too_low"]


def test_over_the_row_limit_nothing_is_delivered(fresh_node: Node, tmp_path: Path) -> None:
    d = delivery(fresh_node, tmp_path, rows=300, consumers=1)
    insurer = d.consumers[0]
    c = d.contract(insurer, max_rows=299)
    with pytest.raises(BudgetExhausted):
        extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "x.parquet")
    assert list(tmp_path.glob("*.parquet")) == []
    assert list(tmp_path.glob(".x.parquet*")) == []
    with d.ex.session() as s:
        assert s.get_one(ContractRow, c.id).remaining_rows == 299
    [refused] = entries(fresh_node, "extract.refused")
    assert refused["code"] == "budget_exhausted"
    assert entries(fresh_node, "extract.delivered") == []


def test_other_refusals(sqlite_node: Node, tmp_path: Path) -> None:
    d = delivery(sqlite_node, tmp_path, rows=200, consumers=2, tolerate=False)
    insurer, other = d.consumers
    c = d.contract(insurer)
    with pytest.raises(FingerprintUnavailable):
        extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "x.parquet")
    set_tolerances(d.ex, d.dataset_id, {"cost": 1}, actor=d.hospital.party)
    with pytest.raises(ContractNotFound):  # another consumer's contract does not exist for it
        extract(d.ex, c.id, actor=other.party, out=tmp_path / "x.parquet")
    with pytest.raises(InvalidInput):
        extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "x.json", format="json")
    l3 = d.contract(insurer, tier="L3", max_rows=1000)
    before = log_size(d.ex)
    with pytest.raises(ExtractRefused, match="not a de-identified release"):
        extract(d.ex, l3.id, actor=insurer.party, out=tmp_path / "x.parquet")
    assert log_events(d.ex, before) == ["access.allowed", "extract.refused"]
    assert not (tmp_path / "x.parquet").exists()
    x = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "x.xlsx", format="xlsx")
    assert pd.read_excel(x.path).shape == (200, 13)


def test_tolerances_are_checked(sqlite_node: Node, tmp_path: Path) -> None:
    d = delivery(sqlite_node, tmp_path, rows=100, consumers=1, tolerate=False)
    from dataex.errors import Forbidden, UnknownColumn

    with pytest.raises(Forbidden):
        set_tolerances(d.ex, d.dataset_id, {"cost": 1}, actor=d.consumers[0].party)
    with pytest.raises(UnknownColumn):
        set_tolerances(d.ex, d.dataset_id, {"nope": 1}, actor=d.hospital.party)
    with pytest.raises(InvalidInput, match="only integer, float and timestamp"):
        set_tolerances(d.ex, d.dataset_id, {"department": 1}, actor=d.hospital.party)


def test_an_l3_extract_stays_exactly_as_k_anonymous_as_its_source(sqlite_node: Node, tmp_path: Path) -> None:
    from dataex.privacy.anonymize.engine import Spec
    from dataex.privacy.anonymize.service import anonymize

    d = delivery(sqlite_node, tmp_path, rows=2000, consumers=1, tolerate=False)
    spec = Spec(
        qi=["age", "sex"],
        sensitive=[],
        k=5,
        max_suppression=0.05,
        drop=["visit_id", "patient_id", "name", "id_no", "mobile"],
    )
    release = anonymize(d.ex, d.dataset_id, spec, actor=d.hospital.party)
    released = release.dataset.id
    with pytest.raises(InvalidInput, match="quasi-identifier"):
        set_tolerances(d.ex, released, {"age": 1}, actor=d.hospital.party)
    set_tolerances(d.ex, released, {"cost": 1}, actor=d.hospital.party)
    d.dataset_id = released
    d.offers.clear()
    c = d.contract(d.consumers[0], tier="L3", max_rows=5000)
    x = extract(d.ex, c.id, actor=d.consumers[0].party, out=tmp_path / "l3.parquet")
    source = pq.read_table(d.ex.store.url(d.ex.get_dataset(released).file_sha256)).to_pandas()
    got = pd.read_parquet(x.path)
    qi = ["age", "sex"]
    assert got.groupby(qi, dropna=False).size().min() == source.groupby(qi, dropna=False).size().min() >= 5
    assert got[qi].equals(source[qi])
    assert (got["cost"] != source["cost"]).any()


def test_a_withdrawn_subjects_rows_leave_every_format_and_the_other_marks_stay(
    fresh_node: Node, tmp_path: Path
) -> None:
    d = delivery(fresh_node, tmp_path, rows=1000, consumers=1)
    insurer = d.consumers[0]
    c = d.contract(insurer)
    before = pd.read_parquet(extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "before.parquet").path)
    patient = str(before["patient_id"].iloc[0])
    withdraw_consent(d.ex, d.dataset_id, patient, column="patient_id", actor=d.hospital.party)
    kept = before[before["patient_id"] != patient].reset_index(drop=True)
    assert 0 < len(kept) < len(before)
    parquet = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "after.parquet")
    csv = extract(d.ex, c.id, actor=insurer.party, out=tmp_path / "after.csv", format="csv")
    assert parquet.rows == csv.rows == len(kept)
    # a row's marks depend on that row alone: the remaining rows carry exactly the same marks
    pd.testing.assert_frame_equal(pd.read_parquet(parquet.path), kept)
    from_csv = pd.read_csv(csv.path)
    assert from_csv["cost"].round(2).tolist() == kept["cost"].round(2).tolist()
    assert from_csv["patient_id"].astype(str).tolist() == kept["patient_id"].astype(str).tolist()
