"""Issue 18, no 500 for bad input: out-of-range numbers and dates are refused at the edge with the
one error envelope (400), and nothing changes; the huge price is no longer accepted."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dataex.privacy.dp.settings_service import set_privacy
from tests.contracts import Market
from tests.privacy.dp import QUERY
from tests.security import bearer
from tests.state import snapshot

OFFER = {"tier": "L1", "purposes": ["research"], "epsilon": 1.0, "price": 100}
BAD_OFFERS: list[dict[str, Any]] = [
    {"price": 2**80},
    {"price": -1},
    {"price": "1e30/row"},
    {"price": {"amount_fen": 2**80, "unit": "flat"}},
    {"max_rows": 2**70},
    {"max_rows": -5},
    {"max_queries": 2**70},
    {"epsilon": 9.3e9},
    {"epsilon": 1e308},
    {"delta": 2.0},
    {"expires": "9999-12-31"},
    {"expires": "0001-01-01"},
    {"tier": "L4", "epsilon": None, "max_rows": 2**63},
]


@pytest.mark.parametrize("bad", BAD_OFFERS, ids=[next(iter(b)) + str(i) for i, b in enumerate(BAD_OFFERS)])
def test_out_of_range_offers_are_400_and_change_nothing(
    m: Market, client: TestClient, bad: dict[str, Any]
) -> None:
    before = snapshot(m.ex)
    body = OFFER | {"dataset_id": m.dataset_id} | bad
    r = client.post("/offers", json=body, headers=bearer(m.hospital.token))
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["ok"] is False and r.json()["code"] in {"invalid_input", "arbitrage_price"}
    after = snapshot(m.ex)
    assert (after.datasets, after.parties) == (before.datasets, before.parties)
    assert after.log_entries - before.log_entries <= 1  # at most the refusal, logged and bounded


@pytest.mark.parametrize("epsilon", [9.3e9, 1e308, -1.0, 0.0])
def test_out_of_range_epsilon_in_a_dp_query_is_400(m: Market, client: TestClient, epsilon: float) -> None:
    contract = m.contract("L1")
    set_privacy(
        m.ex,
        m.dataset_id,
        actor=m.hospital.party,
        unit="patient_id",
        max_contributions=2,
        bounds={"cost": (0.0, 250.0), "age": (0.0, 120.0)},
        domains={"diagnosis": ["A", "B", "C"]},
    )
    r = client.post(
        f"/contracts/{contract.id}/query",
        json={"sql": QUERY, "epsilon": epsilon},
        headers=bearer(m.insurer.token),
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["code"] in {"invalid_input", "query_refused"}


@pytest.mark.parametrize("contributions", [2**63, 2**31, 0, -1])
def test_out_of_range_max_contributions_is_400(m: Market, client: TestClient, contributions: int) -> None:
    before = snapshot(m.ex)
    r = client.put(
        f"/datasets/{m.dataset_id}/privacy",
        json={"unit": "patient_id", "max_contributions": contributions, "bounds": {}, "domains": {}},
        headers=bearer(m.hospital.token),
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert snapshot(m.ex).log_entries - before.log_entries <= 1


CLI_BAD_OFFERS: list[list[str]] = [
    ["--price", str(2**80)],
    ["--price", "1e30/row"],
    ["--max-queries", str(2**62)],
    ["--epsilon", "9.3e9"],
    ["--expires", "9999-12-31"],
]


@pytest.mark.parametrize("bad", CLI_BAD_OFFERS, ids=[b[0] for b in CLI_BAD_OFFERS])
def test_out_of_range_offers_through_the_cli_are_refused_and_change_nothing(
    m: Market, bad: list[str]
) -> None:
    """The same ranges hold in the service, so the CLI, the console and the SDK meet them too."""
    from typer.testing import CliRunner

    from dataex.cli.main import app

    before = snapshot(m.ex)
    base = ["offer", "create", m.dataset_id, "--tier", "L1", "--purpose", "research", "--epsilon", "1"]
    args = [*base, *bad, "--as", m.hospital.token, "--home", str(m.node.home), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output  # refused: the one error envelope, not a crash
    assert '"code": "invalid_input"' in result.stdout or '"code":"invalid_input"' in result.stdout
    assert snapshot(m.ex) == before


def test_out_of_range_max_contributions_through_the_cli_is_refused(m: Market) -> None:
    from typer.testing import CliRunner

    from dataex.cli.main import app

    before = snapshot(m.ex)
    args = ["privacy", "set", m.dataset_id, "--unit", "patient_id", "--max-contributions", str(2**63)]
    result = CliRunner().invoke(app, [*args, "--as", m.hospital.token, "--home", str(m.node.home), "--json"])
    assert result.exit_code == 3, result.output
    assert "invalid_input" in result.stdout
    assert snapshot(m.ex) == before
