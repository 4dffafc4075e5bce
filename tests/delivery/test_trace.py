"""Tracing survives what leakers do; unrelated and unfingerprinted files give "no match"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dataex.contracts.lifecycle import approve_contract, request_contract
from dataex.contracts.offers import create_offer
from dataex.db.models import FingerprintRow
from dataex.delivery import tardos
from dataex.delivery.extracts import extract
from dataex.delivery.fingerprint import LEGACY_SCHEME, embed, load_or_create_secret
from dataex.delivery.tolerances import find_tolerances, set_tolerances
from dataex.delivery.trace import ACCUSE_AT, trace
from dataex.errors import UnsupportedFormat
from dataex.exchange import Exchange
from tests.conftest import Node, add
from tests.delivery import delivery

RNG = np.random.default_rng(2025)  # noqa: TID251 - seeded test data, not privacy noise


@dataclass
class Leaks:
    ex: Exchange
    copies: dict[str, pd.DataFrame]  # contract id -> its fingerprinted extract
    contracts: list[str]
    original: pd.DataFrame
    tmp: Path


@pytest.fixture(scope="module")
def leaks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leaks]:
    tmp = tmp_path_factory.mktemp("trace")
    ex, token = Exchange.init(home=tmp / "node")
    d = delivery(Node(ex, tmp / "node", token), tmp, rows=20_000)
    copies: dict[str, pd.DataFrame] = {}
    contracts = []
    for consumer in d.consumers:
        c = d.contract(consumer)
        out = extract(ex, c.id, actor=consumer.party, out=tmp / f"{c.id}.parquet")
        copies[c.id] = pd.read_parquet(out.path)
        contracts.append(c.id)
    original = pd.read_parquet(ex.store.url(ex.get_dataset(d.dataset_id).file_sha256))
    yield Leaks(ex, copies, contracts, original, tmp)
    ex.close()


def traced(leaks: Leaks, frame: pd.DataFrame, name: str, *, csv: bool = False) -> list[str]:
    path = leaks.tmp / name
    if csv:
        frame.to_csv(path, index=False, float_format="%.6g")
    else:
        frame.to_parquet(path, index=False)
    result = trace(leaks.ex, path)
    assert all(m.false_accusation_bound <= ACCUSE_AT for m in result.matches)
    return [m.contract_id for m in result.matches]


def test_a_10_percent_subset_is_traced(leaks: Leaks) -> None:
    a = leaks.contracts[0]
    assert traced(leaks, leaks.copies[a].sample(frac=0.1, random_state=1), "subset.parquet") == [a]


def test_shuffled_rows_are_traced(leaks: Leaks) -> None:
    a = leaks.contracts[1]
    assert traced(leaks, leaks.copies[a].sample(frac=1.0, random_state=2), "shuffled.parquet") == [a]


def test_reordered_and_renamed_columns_are_traced(leaks: Leaks) -> None:
    a = leaks.contracts[0]
    frame = leaks.copies[a].sample(frac=0.3, random_state=3)
    frame = frame[list(reversed(frame.columns))]
    frame.columns = [f"col{i}" for i in range(len(frame.columns))]
    assert traced(leaks, frame, "renamed.parquet") == [a]


def test_a_csv_round_trip_with_reformatted_numbers_is_traced(leaks: Leaks) -> None:
    a = leaks.contracts[2]
    assert traced(leaks, leaks.copies[a].sample(frac=0.2, random_state=4), "leak.csv", csv=True) == [a]


def test_ten_percent_of_marked_cells_altered_is_traced(leaks: Leaks) -> None:
    a = leaks.contracts[1]
    frame = leaks.copies[a].copy()
    marked = np.flatnonzero(frame["cost"].to_numpy() != leaks.original["cost"].to_numpy())
    hit = RNG.choice(marked, size=len(marked) // 10, replace=False)
    frame.loc[hit, "cost"] = (frame.loc[hit, "cost"] + RNG.integers(1, 50, len(hit)) / 100).round(2)
    frame = frame.sample(frac=0.5, random_state=5)
    assert traced(leaks, frame, "altered.parquet") == [a]


def test_two_colluders_merging_their_copies_are_caught(leaks: Leaks) -> None:
    a, b, innocent = leaks.contracts
    take_a = RNG.random(len(leaks.original)) < 0.5
    merged = pd.concat([leaks.copies[a][take_a], leaks.copies[b][~take_a]])
    found = traced(leaks, merged.sample(frac=0.5, random_state=6), "merged.parquet")
    assert found and set(found) <= {a, b}
    assert innocent not in found


def test_false_accusation_bound_for_a_10000_row_leak(leaks: Leaks) -> None:
    a = leaks.contracts[0]
    path = leaks.tmp / "ten-thousand.parquet"
    leaks.copies[a].sample(n=10_000, random_state=7).to_parquet(path, index=False)
    result = trace(leaks.ex, path)
    assert result.status == "match" and result.rows_matched == 10_000
    assert [m.contract_id for m in result.matches] == [a]
    assert result.matches[0].false_accusation_bound <= 1e-6
    innocents = [s for s in result.scores if s.contract_id != a]
    assert all(s.false_accusation_bound > 1e-6 for s in innocents)


def test_the_p_value_is_valid_for_innocent_codewords() -> None:
    secret = b"s" * 32
    p = tardos.biases(secret)
    x = tardos.codeword(secret, "ctr_guilty", p)
    positions = RNG.integers(0, tardos.CODE_LENGTH, 3000)
    obs = tardos.Observation.of(positions, x[positions].astype(np.int64), tardos.CODE_LENGTH)
    values = [
        tardos.p_value(obs, tardos.score(obs, tardos.codeword(secret, f"ctr_{i}", p), p), p)
        for i in range(500)
    ]
    assert sum(v <= 1e-2 for v in values) <= 15  # a valid p-value: P(p <= α) <= α, expected <= 5
    assert min(values) > 1e-6
    assert tardos.p_value(obs, tardos.score(obs, x, p), p) < 1e-50


def test_unfingerprinted_and_unrelated_files_give_no_match(leaks: Leaks, tmp_path: Path) -> None:
    assert traced(leaks, leaks.original.sample(frac=0.5, random_state=8), "original.parquet") == []
    unrelated = pd.DataFrame({"x": RNG.integers(0, 1000, 5000), "y": RNG.random(5000).round(2)})
    path = tmp_path / "unrelated.csv"
    unrelated.to_csv(path, index=False)
    result = trace(leaks.ex, path)
    assert result.status == "no_match" and "no column" in result.reason


def test_a_file_in_an_unknown_format_is_refused(leaks: Leaks, tmp_path: Path) -> None:
    path = tmp_path / "leak.bin"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(UnsupportedFormat):
        trace(leaks.ex, path)


def test_a_copy_delivered_under_dx_fp_1_stays_traceable(sqlite_node: Node, tmp_path: Path) -> None:
    """A node upgraded from dx-fp-1: its old copies (parity marks, read blind) are still named."""
    d = delivery(sqlite_node, tmp_path, rows=4000, consumers=2)
    old, other = (d.contract(c) for c in d.consumers)
    for c, consumer in ((old, d.consumers[0]), (other, d.consumers[1])):
        extract(sqlite_node.ex, c.id, actor=consumer.party, out=tmp_path / f"{c.id}.parquet")
    with sqlite_node.ex.transaction() as s:  # as the upgraded node recorded it before dx-fp-2
        row = s.get(FingerprintRow, old.id)
        assert row is not None
        row.scheme = {"scheme": LEGACY_SCHEME, "code_length": tardos.LEGACY_CODE_LENGTH}
    source = pq.read_table(sqlite_node.ex.store.url(sqlite_node.ex.get_dataset(d.dataset_id).file_sha256))
    secret = load_or_create_secret(sqlite_node.home)
    with sqlite_node.ex.session() as s:
        tolerances = find_tolerances(s, d.dataset_id)
    codeword = tardos.codeword(secret, old.id, tardos.biases(secret, tardos.LEGACY_CODE_LENGTH))
    copy = embed(source, secret=secret, tolerances=tolerances, codeword=codeword, scheme=LEGACY_SCHEME)
    leak = tmp_path / "old-copy.csv"
    copy.table.to_pandas().sample(frac=0.6, random_state=11).to_csv(leak, index=False)
    result = trace(sqlite_node.ex, leak)
    assert [(m.contract_id, m.scheme) for m in result.matches] == [(old.id, LEGACY_SCHEME)]
    assert result.candidates == 3  # both contracts under dx-fp-2, the old one under dx-fp-1 too


def test_a_csv_extract_with_neutralized_text_is_traced(sqlite_node: Node, tmp_path: Path) -> None:
    """Text that a CSV extract prefixes with ``'`` (formula neutralization) still joins its source."""
    hospital = add(sqlite_node, "Clinic")
    insurer = add(sqlite_node, "Insurer", kind="insurer", role="consumer")
    n = 3000
    source = pd.DataFrame(
        {
            "ref": [f"-R{i:05d}" if i % 2 else f"=R{i:05d}" for i in range(n)],
            "ward": [["A", "B", "C"][i % 3] for i in range(n)],
            "cost": (RNG.integers(1_000, 90_000, n) / 100).round(2),
        }
    )
    csv = tmp_path / "refs.csv"
    source.to_csv(csv, index=False)
    ex = sqlite_node.ex
    reg = ex.register(csv, owner=hospital.party.id, title="Refs", license="proprietary", analyze=False)
    set_tolerances(ex, reg.dataset.id, {"cost": 1}, actor=hospital.party)
    offer = create_offer(
        ex,
        reg.dataset.id,
        actor=hospital.party,
        tier="L4",
        purposes=["research"],
        price=0,
        legal_basis="consent",
    )
    c = request_contract(ex, offer.id, actor=insurer.party, purpose="research")
    approve_contract(ex, c.id, actor=hospital.party)
    out = extract(ex, c.id, actor=insurer.party, out=tmp_path / "refs-extract.csv", format="csv")
    assert "'=R00000" in out.path.read_text()  # the extract neutralized the text
    leak = tmp_path / "refs-leak.csv"
    leak.write_text("".join(out.path.read_text().splitlines(keepends=True)[:1001]))
    result = trace(ex, leak)
    assert result.columns["ref"] == "ref" and result.rows_matched == 1000
    assert [m.contract_id for m in result.matches] == [c.id]
