"""DP SQL must not leak through engine errors (issue 17, item 2).

Threat: a consumer with an L1 contract writes WHERE predicates that make the engine fail depending on
the data (INT64 overflow, division by zero, casts). Before the fix, ``(age + C) * (age + C) > 0``
overflowed INT64 exactly when some row had ``age >= 3037000500 - C``; the failure came back without
noise after a 1e-9 ε charge, so a binary search over C recovered MAX(age) in a handful of queries, and
``patient_id = 'P…' AND (age - age + 3037000500) * (…) > 0`` told in one query whether a named patient
is in the data. The attacks run through the public shells (CLI and HTTP); a query's status must be the
same whatever the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dataex.api.app import create_app
from dataex.api.routes import contracts, dp
from dataex.cli.dp import register_commands
from tests.conftest import Node
from tests.privacy.dp import DpMarket, dp_market, small_visits

runner = CliRunner()
INT64_ROOT = 3037000500  # 3037000500² > 2⁶³ − 1 > 3037000499²


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """dataex (test)"""

    register_commands(app)
    return app


def cli_query(app: typer.Typer, dm: DpMarket, sql: str, epsilon: str = "1e-9") -> tuple[int, dict]:  # type: ignore[type-arg]
    home, token = str(dm.m.node.home), dm.m.insurer.token
    args = ["query", dm.contract.id, sql, "--epsilon", epsilon, "--home", home, "--json", "--as", token]
    result = runner.invoke(app, args)
    return result.exit_code, json.loads(result.stdout)


def test_max_age_cannot_be_read_from_overflow_errors_through_the_cli(
    app: typer.Typer, sqlite_node: Node, tmp_path: Path
) -> None:
    dm = dp_market(sqlite_node, small_visits(tmp_path / "visits.csv"))  # ages 40..99: MAX(age) = 99
    statuses: dict[int, tuple[int, str | None]] = {}
    lo, hi = 0, 128  # the attacker's binary search for MAX(age) in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        c = INT64_ROOT - mid  # overflows iff some age >= mid
        code, out = cli_query(
            app, dm, f"SELECT COUNT(*) AS n FROM visits WHERE (age + {c}) * (age + {c}) > 0"
        )
        statuses[mid] = (code, out.get("code"))
        if code != 0:
            lo = mid
        else:
            hi = mid
    # Every probe is answered alike (a noisy count): the search learns nothing and ends at 0.
    assert set(statuses.values()) == {(0, None)}, statuses
    assert lo == 0
    # Division by zero, huge constants and mixed arithmetic are answered alike too.
    for where in ("age / (age - 99) > 1", "age * 1e308 * 1e308 > 0", "-(age - 9223372036854775807 - 1) > 0"):
        code, out = cli_query(app, dm, f"SELECT COUNT(*) AS n FROM visits WHERE {where}")
        assert code == 0, (where, out)


def api_query(dm: DpMarket, sql: str) -> tuple[int, str | None]:
    app = create_app(dm.m.ex)
    app.include_router(contracts.router)
    app.include_router(dp.router)
    client = TestClient(app)
    r = client.post(
        f"/contracts/{dm.contract.id}/query",
        json={"sql": sql, "epsilon": 1e-9},
        headers={"Authorization": f"Bearer {dm.m.insurer.token}"},
    )
    return r.status_code, r.json().get("code")


def test_membership_of_a_named_patient_is_not_answered_by_an_error_over_http(tmp_path: Path) -> None:
    from dataex import Exchange

    sql = (
        "SELECT COUNT(*) AS n FROM visits WHERE patient_id = 'P0060' AND "
        f"(age - age + {INT64_ROOT}) * (age - age + {INT64_ROOT}) > 0"
    )
    statuses = []
    for present in (False, True):  # neighbouring datasets: P0060 absent / present
        home = tmp_path / f"node{int(present)}"
        ex, token = Exchange.init(home=home)
        try:
            (tmp_path / f"d{int(present)}").mkdir()
            csv = small_visits(tmp_path / f"d{int(present)}" / "visits.csv", extra_unit=present)
            dm = dp_market(Node(ex, home, token), csv)
            statuses.append(api_query(dm, sql))
        finally:
            ex.close()
    assert statuses[0] == statuses[1] == (200, None)


def test_psi_then_dp_membership_is_not_answered_by_an_error(tmp_path: Path) -> None:
    """The same attack on PSI-then-DP: the consumer's set holds the target; the predicate, planned by
    the DP SQL rewrite over ``matched``, overflowed iff the target's rows are in the provider's data."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from dataex import Exchange
    from dataex.demo.data import hospital_visits, insurer_policyholders
    from dataex.errors import DataexError
    from dataex.privacy.dp import set_privacy
    from dataex.privacy.psi.client import LocalTransport, run
    from tests.contracts import market

    visits = hospital_visits(300, seed=5)
    holders = insurer_policyholders(visits, 120, overlap=0.4, seed=6)
    target = sorted(
        {str(x) for x in visits.column("id_no").to_pylist()} & set(holders.column("id_no").to_pylist())
    )[0]
    holders_csv = tmp_path / "holders.csv"
    pacsv.write_csv(holders, holders_csv)
    sql = (
        f"SELECT COUNT(*) AS n FROM matched WHERE id_no = '{target}' AND "
        f"(age - age + {INT64_ROOT}) * (age - age + {INT64_ROOT}) > 0"
    )
    statuses = []
    for present in (False, True):  # neighbouring provider datasets: the target's rows absent / present
        data = visits if present else visits.filter(pc.not_equal(visits.column("id_no"), target))
        (tmp_path / f"p{int(present)}").mkdir()
        csv = tmp_path / f"p{int(present)}" / "visits.csv"
        pacsv.write_csv(data, csv)
        home = tmp_path / f"n{int(present)}"
        ex, token = Exchange.init(home=home)
        try:
            m = market(Node(ex, home, token), csv)
            set_privacy(ex, m.dataset_id, actor=m.hospital.party, unit="id_no", max_contributions=2)
            contract = m.contract("L1")
            try:
                result = run(LocalTransport(ex, m.insurer.party), contract.id, input=holders_csv,
                             column="id_no", then=sql, epsilon=1e-9)  # fmt: skip
                statuses.append(("ok", result.answer is not None))
            except DataexError as e:
                statuses.append((e.code, e.message))
        finally:
            ex.close()
    assert statuses == [("ok", True), ("ok", True)]
