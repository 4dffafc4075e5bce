"""The log is the truth: `audit verify` replays every entry and names each table edited behind its back.

Each test edits the database directly, as an operator with SQL access could, then runs
`dataex audit verify --json` through the CLI and requires exit 1 and a `state_mismatch` naming the
object and the field, on SQLite and PostgreSQL. The untouched node verifies clean first, so the
replay has no false alarms on real traffic (contracts, charges, deposits, consent, metadata).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dataex.catalog.metadata import describe
from dataex.cli.main import app as cli
from dataex.contracts.budget import charge
from dataex.contracts.consent import withdraw_consent
from dataex.contracts.lifecycle import revoke_contract
from dataex.db.models import AccountRow, ConsentWithdrawalRow, ContractRow, DatasetMetadataRow, PartyRow
from dataex.market.settlement import deposit
from tests.conftest import Node
from tests.contracts import Market, market

runner = CliRunner()


@pytest.fixture
def busy(fresh_node: Node, visits_csv: Path) -> tuple[Market, dict[str, str]]:
    m = market(fresh_node, visits_csv)
    operator = next(p for p in m.ex.list_parties() if p.is_operator)
    deposit(m.ex, m.insurer.party.id, 50_000, actor=operator)
    live = m.contract("L1", epsilon=3.0)
    charge(m.ex, live.id, epsilon=0.5, queries=1)
    charge(m.ex, live.id, epsilon=0.25, queries=1)
    revoked = m.contract("L1", epsilon=1.0)
    revoke_contract(m.ex, revoked.id, actor=m.hospital.party, reason="audit")
    patient = str(pd.read_csv(visits_csv)["patient_id"].iloc[0])
    withdraw_consent(m.ex, m.dataset_id, patient, column="patient_id", actor=m.hospital.party)
    describe(m.ex, m.dataset_id, actor=m.hospital.party, description="visits", visibility="public")
    return m, {"live": live.id, "revoked": revoked.id}


def _verify(m: Market) -> dict[str, object]:
    result = runner.invoke(cli, ["audit", "verify", "--json", "--home", str(m.node.home)])
    report: dict[str, object] = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1), result.output
    return report


def _mismatches(report: dict[str, object]) -> list[str]:
    return [p["message"] for p in report["problems"] if p["code"] == "state_mismatch"]  # type: ignore[attr-defined, index]


def _edit(m: Market, change: Callable[[Session], object]) -> None:
    with m.ex.transaction() as s:
        change(s)


def test_an_untouched_busy_node_replays_clean(busy: tuple[Market, dict[str, str]]) -> None:
    m, _ = busy
    report = _verify(m)
    assert report["ok"] is True, report["problems"]
    checked = report["checked"]
    assert checked["state:contracts"] == 2 and checked["state:consent"] == 1  # type: ignore[index]


def test_revoked_contract_turned_back_to_active(busy: tuple[Market, dict[str, str]]) -> None:
    m, ids = busy
    _edit(
        m,
        lambda s: s.execute(
            update(ContractRow).where(ContractRow.id == ids["revoked"]).values(state="active")
        ),
    )
    assert _mismatches(_verify(m)) == [
        f"contract {ids['revoked']} state: the log says revoked, the database says active"
    ]


def test_remaining_epsilon_multiplied(busy: tuple[Market, dict[str, str]]) -> None:
    m, ids = busy
    _edit(
        m,
        lambda s: s.execute(
            update(ContractRow)
            .where(ContractRow.id == ids["live"])
            .values(remaining_epsilon_nano=2_250_000_000_000)
        ),
    )
    assert _mismatches(_verify(m)) == [
        f"contract {ids['live']} remaining epsilon: the log says 2.25, the database says 2250"
    ]


def test_rows_budget_raised(busy: tuple[Market, dict[str, str]]) -> None:
    m, ids = busy
    _edit(
        m,
        lambda s: s.execute(
            update(ContractRow).where(ContractRow.id == ids["live"]).values(remaining_queries=10**6)
        ),
    )
    [message] = _mismatches(_verify(m))
    assert message.startswith(f"contract {ids['live']} remaining queries: the log says ")
    assert message.endswith("the database says 1000000")


def test_wallet_balance_changed(busy: tuple[Market, dict[str, str]]) -> None:
    m, _ = busy
    with m.ex.session() as s:
        wallet = next(
            a for a in s.query(AccountRow) if a.party_id == m.insurer.party.id and a.kind == "wallet"
        )
        account, balance = wallet.id, wallet.balance
    _edit(
        m,
        lambda s: s.execute(
            update(AccountRow).where(AccountRow.id == account).values(balance=balance + 10**8)
        ),
    )
    assert _mismatches(_verify(m)) == [
        f"account {account} balance: the log says {balance}, the database says {balance + 10**8}"
    ]


def test_party_role_changed(busy: tuple[Market, dict[str, str]]) -> None:
    m, _ = busy
    pid = m.insurer.party.id
    _edit(m, lambda s: s.execute(update(PartyRow).where(PartyRow.id == pid).values(role="auditor")))
    assert _mismatches(_verify(m)) == [f"party {pid} role: the log says consumer, the database says auditor"]


def test_consent_withdrawal_deleted(busy: tuple[Market, dict[str, str]]) -> None:
    m, _ = busy
    _edit(m, lambda s: s.execute(delete(ConsentWithdrawalRow)))
    [message] = _mismatches(_verify(m))
    assert message.startswith(f"dataset {m.dataset_id}: the log records a consent withdrawal")


def test_visibility_flipped(busy: tuple[Market, dict[str, str]]) -> None:
    m, _ = busy
    _edit(
        m,
        lambda s: s.execute(
            update(DatasetMetadataRow)
            .where(DatasetMetadataRow.dataset_id == m.dataset_id)
            .values(visibility="private")
        ),
    )
    assert _mismatches(_verify(m)) == [
        f"dataset {m.dataset_id} visibility: the log says public, the database says private"
    ]


def test_an_uncharged_budget_raised(busy: tuple[Market, dict[str, str]]) -> None:
    """A contract never charged is checked against the budget its request entry recorded."""
    m, ids = busy
    _edit(
        m,
        lambda s: s.execute(
            update(ContractRow).where(ContractRow.id == ids["revoked"]).values(remaining_epsilon_nano=10**12)
        ),
    )
    assert _mismatches(_verify(m)) == [
        f"contract {ids['revoked']} remaining epsilon: the log says 1, the database says 1000"
    ]


def test_lifetime_epsilon_account_reset(busy: tuple[Market, dict[str, str]]) -> None:
    """Zeroing a dataset's lifetime ε account (to buy more queries) is named, as is a party's spend."""
    from dataex.db.models import DatasetPrivacyAccountRow, DatasetPrivacySpendRow

    m, _ = busy
    _edit(m, lambda s: s.execute(update(DatasetPrivacyAccountRow).values(spent_epsilon_nano=0)))
    _edit(m, lambda s: s.execute(update(DatasetPrivacySpendRow).values(spent_epsilon_nano=0)))
    assert _mismatches(_verify(m)) == [
        f"dataset {m.dataset_id} lifetime ε spent: the log says 0.75, the database says 0",
        f"dataset {m.dataset_id} ε spent by party {m.insurer.party.id}: "
        "the log says 0.75, the database says 0",
    ]
