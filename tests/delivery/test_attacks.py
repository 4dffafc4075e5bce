"""Fingerprints survive an adversary (issue 17, item 6): each attack is made on extracts delivered by
``dataex extract`` and traced by ``dataex trace`` on the command line.

Threat model (docs/delivery.md, "Threat model"): one to three consumers of the same dataset, each
with its own fingerprinted copy, alter and combine their copies within (and beyond) the declared
tolerance, then leak the result. Tracing must name only contracts whose copies went into the leak;
innocent consumers (two here, with copies of their own) are never accused, and the reported
false-accusation bound is calibrated on innocent codewords.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from typer.testing import CliRunner

from dataex.cli.main import app
from dataex.delivery import tardos
from dataex.delivery.fingerprint import SCHEME, load_or_create_secret
from dataex.delivery.trace import ACCUSE_AT, Reading, read, read_leak
from dataex.exchange import Exchange
from tests.conftest import Node
from tests.delivery import delivery

RNG = np.random.default_rng(17)  # noqa: TID251 - seeded attacks in a test, not privacy noise
ROWS = 20_000
CONSUMERS = 5  # three who collude at most, two innocents


@dataclass
class Copies:
    ex: Exchange
    home: Path
    tmp: Path
    contracts: list[str]
    copies: dict[str, pd.DataFrame]  # contract id -> its fingerprinted extract, as delivered
    original: pd.DataFrame


def cli(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copies]:
    tmp = tmp_path_factory.mktemp("attacks")
    home = tmp / "node"
    ex, token = Exchange.init(home=home)
    d = delivery(Node(ex, home, token), tmp, rows=ROWS, consumers=CONSUMERS, tolerate=False)
    where = ["--home", str(home)]
    cli("fingerprint", "set", d.dataset_id, "--tolerate", "cost=1", "--as", d.hospital.token, *where)
    contracts, frames = [], {}
    for i, consumer in enumerate(d.consumers):
        c = d.contract(consumer)
        fmt = "csv" if i % 2 else "parquet"
        out = tmp / f"{c.id}.{fmt}"
        body = cli("extract", c.id, "--as", consumer.token, "--out", str(out), "--format", fmt, *where)
        assert body["rows"] == ROWS
        frame = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
        frames[c.id] = frame.astype({"visit_date": str})  # one type for copies of either format
        contracts.append(c.id)
    original = pd.read_parquet(ex.store.url(ex.get_dataset(d.dataset_id).file_sha256))
    yield Copies(ex, home, tmp, contracts, frames, original)
    ex.close()


def traced(copies: Copies, frame: pd.DataFrame, name: str) -> set[str]:
    """Writes the leak (by its suffix), runs ``dataex trace --json`` and returns the accused."""
    path = copies.tmp / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    body = cli("trace", str(path), "--home", str(copies.home))
    matches = body["matches"]
    assert isinstance(matches, list)
    assert all(m["false_accusation_bound"] <= ACCUSE_AT for m in matches)
    return {m["contract_id"] for m in matches}


def cost_units(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    return np.asarray(np.rint(frame["cost"].to_numpy(dtype=np.float64) * 100), dtype=np.int64)


def test_every_tolerable_cell_moves_by_exactly_the_tolerance(copies: Copies) -> None:
    """dx-fp-2 moves every cost (>= 0.01) by exactly one cent; every other column is untouched."""
    for frame in copies.copies.values():
        moved = cost_units(frame) - cost_units(copies.original)
        assert set(np.unique(moved)) == {-1, 1}
        rest = [c for c in copies.original.columns if c != "cost"]
        assert (frame[rest].astype(str).to_numpy() == copies.original[rest].astype(str).to_numpy()).all()


def noisy(frame: pd.DataFrame, low: int = -1, high: int = 1) -> pd.DataFrame:
    """Every cost moved by a random whole number of cents in ``[low, high]`` (inside the tolerance)."""
    out = frame.copy()
    out["cost"] = ((cost_units(out) + RNG.integers(low, high + 1, len(out))) / 100).round(2)
    return out


def test_random_plus_minus_one_unit_noise_on_every_cell(copies: Copies) -> None:
    a = copies.contracts[0]
    assert traced(copies, noisy(copies.copies[a]), "noise-pm1.csv") == {a}


def test_zero_or_plus_one_unit_noise_on_every_cell(copies: Copies) -> None:
    """The attack that erased dx-fp-1: every parity re-randomized."""
    a = copies.contracts[1]
    assert traced(copies, noisy(copies.copies[a], 0, 1), "noise-01.parquet") == {a}


def test_rounding_one_digit_coarser(copies: Copies) -> None:
    a = copies.contracts[2]
    frame = copies.copies[a].copy()
    frame["cost"] = frame["cost"].round(1)
    assert traced(copies, frame, "rounded.csv") == {a}


# dx-fp-1 already survived subsets, shuffles, renamed columns, a dropped key and plain collusion;
# below, each is combined with the in-tolerance noise or rounding that erased it.
def test_a_10_percent_subset_with_noise(copies: Copies) -> None:
    a = copies.contracts[3]
    frame = noisy(copies.copies[a].sample(frac=0.1, random_state=1), 0, 1)
    assert traced(copies, frame, "subset.csv") == {a}


def test_shuffled_rows_with_noise(copies: Copies) -> None:
    a = copies.contracts[4]
    frame = noisy(copies.copies[a].sample(frac=1.0, random_state=2))
    assert traced(copies, frame, "shuffled.parquet") == {a}


def test_renamed_and_reordered_columns_rounded(copies: Copies) -> None:
    a = copies.contracts[0]
    frame = copies.copies[a].sample(frac=0.5, random_state=3)
    frame["cost"] = frame["cost"].round(1)
    frame = frame[list(reversed(frame.columns))]
    frame.columns = [f"c{i}" for i in range(len(frame.columns))]
    assert traced(copies, frame, "renamed.csv") == {a}


def test_the_key_column_and_direct_identifiers_dropped_with_noise(copies: Copies) -> None:
    """Only quasi-identifiers and cost are left; rows that share them are joined by cost."""
    a = copies.contracts[1]
    frame = copies.copies[a].drop(columns=["visit_id", "patient_id", "name", "id_no", "mobile"])
    qi = ["sex", "age", "visit_date", "department", "diagnosis", "insured"]
    assert frame.duplicated(qi, keep=False).sum() > 100  # the quasi-identifiers alone are ambiguous
    frame = noisy(frame.sample(frac=0.5, random_state=4), 0, 1)
    assert traced(copies, frame, "no-key.csv") == {a}


def test_the_key_column_dropped_with_noise(copies: Copies) -> None:
    a = copies.contracts[2]
    frame = noisy(copies.copies[a].drop(columns=["visit_id"]).sample(frac=0.3, random_state=5))
    assert traced(copies, frame, "no-key-noise.parquet") == {a}


def mixed(copies: Copies, guilty: list[str]) -> pd.DataFrame:
    """Each row from a randomly chosen colluder."""
    who = RNG.integers(0, len(guilty), ROWS)
    parts = [copies.copies[c][who == i] for i, c in enumerate(guilty)]
    out: pd.DataFrame = pd.concat(parts).sample(frac=1.0, random_state=6)
    return out


def averaged(copies: Copies, guilty: list[str], *, rounded: bool) -> pd.DataFrame:
    """Every cost the colluders' mean (optionally rounded back to cents: their majority)."""
    frame = copies.copies[guilty[0]].copy()
    frame["cost"] = np.mean([copies.copies[c]["cost"].to_numpy() for c in guilty], axis=0)
    if rounded:
        frame["cost"] = frame["cost"].round(2)
    return frame


def test_two_colluders_mixing_rows_with_noise(copies: Copies) -> None:
    guilty = copies.contracts[:2]
    assert traced(copies, noisy(mixed(copies, guilty)), "mix2.csv") == set(guilty)


def test_three_colluders_mixing_rows_with_noise(copies: Copies) -> None:
    guilty = copies.contracts[1:4]
    assert traced(copies, noisy(mixed(copies, guilty), 0, 1), "mix3.parquet") == set(guilty)


def test_two_colluders_averaging_with_noise(copies: Copies) -> None:
    """Where the two marks differ the mean is the original: those cells carry nothing."""
    guilty = copies.contracts[2:4]
    frame = noisy(averaged(copies, guilty, rounded=True))
    assert traced(copies, frame, "avg2.parquet") == set(guilty)


def test_three_colluders_averaging(copies: Copies) -> None:
    guilty = [copies.contracts[0], copies.contracts[2], copies.contracts[4]]
    assert traced(copies, averaged(copies, guilty, rounded=False), "avg3.csv") == set(guilty)
    frame = noisy(averaged(copies, guilty, rounded=True), 0, 1)
    assert traced(copies, frame, "avg3-noise.csv") == set(guilty)


def test_three_colluders_averaging_a_subset_with_noise(copies: Copies) -> None:
    guilty = copies.contracts[:3]
    frame = noisy(averaged(copies, guilty, rounded=True).sample(frac=0.25, random_state=7))
    found = traced(copies, frame, "avg3-subset.parquet")
    assert found and found <= set(guilty)


def test_the_original_and_an_unrelated_file_give_no_match(copies: Copies) -> None:
    assert traced(copies, copies.original.sample(frac=0.5, random_state=8), "original.csv") == set()
    unrelated = pd.DataFrame({"x": RNG.integers(0, 1000, 5000), "cost": RNG.random(5000).round(2)})
    assert traced(copies, unrelated, "unrelated.csv") == set()


def reading_of(copies: Copies, frame: pd.DataFrame, name: str) -> Reading:
    path = copies.tmp / name
    frame.to_parquet(path, index=False)
    reading = read(copies.ex, read_leak(path))
    assert isinstance(reading, Reading)
    return reading


@pytest.mark.parametrize("attack", ["noise", "rounded", "mix3", "avg3"])
def test_the_false_accusation_bound_holds_for_innocent_codewords(copies: Copies, attack: str) -> None:
    """Codewords of 200 contracts that were never delivered, scored against real attacked leaks.

    A valid p-value has P(p <= α) <= α: at most a few below 1 %, none near the accusation level.
    """
    a = copies.contracts[0]
    frame = {
        "noise": lambda: noisy(copies.copies[a]),
        "rounded": lambda: copies.copies[a].assign(cost=copies.copies[a]["cost"].round(1)),
        "mix3": lambda: noisy(mixed(copies, copies.contracts[:3])),
        "avg3": lambda: averaged(copies, copies.contracts[:3], rounded=True),
    }[attack]()
    obs = reading_of(copies, frame, f"calibrate-{attack}.parquet").observations[SCHEME]
    assert len(obs.positions) > 2000
    secret = load_or_create_secret(copies.home)
    p = tardos.biases(secret)
    values = np.array(
        [
            tardos.p_value(obs, tardos.score(obs, tardos.codeword(secret, f"ctr_innocent_{i}", p), p), p)
            for i in range(200)
        ]
    )
    assert np.sum(values <= 0.01) <= 8  # expected <= 2 for a valid p-value; 8 is far in the tail
    assert np.sum(values <= 0.1) <= 34  # expected <= 20
    assert values.min() > 1e-5  # the accusation level is 1e-6 / candidates
    guilty = tardos.p_value(obs, tardos.score(obs, tardos.codeword(secret, a, p), p), p)
    assert guilty < 1e-12
