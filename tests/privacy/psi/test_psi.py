"""PSI: correctness against a plain set intersection, tier rules, bad input, nothing stored."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import inspect, select, text

from dataex.db.models import ContractRow, LogEntryRow, PsiPreparedSetRow
from dataex.demo.data import hospital_visits, insurer_policyholders
from dataex.errors import (
    AccessDenied,
    EmptyFile,
    InvalidIdentifiers,
    InvalidPsiMessage,
    TooFewIdentifiers,
    UnknownColumn,
)
from dataex.privacy.psi import protocol
from dataex.privacy.psi.client import LocalTransport, b64, run
from dataex.privacy.psi.normalize import canonical, normalize
from dataex.privacy.psi.service import run_session
from tests.conftest import Node
from tests.contracts import Market, log_events, market


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, pa.Table, pa.Table]:
    visits = hospital_visits(400, seed=5)
    holders = insurer_policyholders(visits, 150, overlap=0.4, seed=6)
    v, p = tmp_path / "visits.csv", tmp_path / "holders.csv"
    pacsv.write_csv(visits, v)
    pacsv.write_csv(holders, p)
    return v, p, visits, holders


@pytest.fixture
def mk(sqlite_node: Node, files: tuple[Path, Path, pa.Table, pa.Table]) -> Market:
    return market(sqlite_node, files[0])


def plain(visits: pa.Table, holders: pa.Table, column: str = "id_no") -> set[str]:
    return {str(x) for x in visits.column(column).to_pylist()} & {
        str(x) for x in holders.column(column).to_pylist()
    }


def test_members_and_count_equal_the_plain_intersection(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]
) -> None:
    _, holders_csv, visits, holders = files
    contract = mk.contract("L3", max_rows=1000)
    local = LocalTransport(mk.ex, mk.insurer.party)
    expected = plain(visits, holders)
    assert len(expected) == 60
    members = run(local, contract.id, input=holders_csv, column="id_no", reveal="members")
    assert set(members.members or []) == expected
    assert members.count == len(expected) and members.id_type == "cn_resident_id"
    count = run(local, contract.id, input=holders_csv, column="id_no", reveal="count")
    assert (count.count, count.members, count.consumer_items) == (len(expected), None, 150)
    by_mobile = run(local, contract.id, input=holders_csv, column="mobile", reveal="count")
    assert by_mobile.count == len(plain(visits, holders, "mobile"))
    assert log_events(mk.ex).count("psi.session") == 3


@pytest.mark.parametrize("tier", ["L1", "L2"])
def test_exact_modes_need_l3_and_a_count_below_is_dp(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table], tier: str
) -> None:
    from dataex.privacy.dp.mechanisms import exact_mode

    contract = mk.contract(tier, epsilon=1.0)
    local = LocalTransport(mk.ex, mk.insurer.party)
    for mode in ("members", "count"):
        with pytest.raises(AccessDenied) as denied:
            run(local, contract.id, input=files[1], column="id_no", reveal=mode)
        assert denied.value.rule == "psi.exact_needs_L3"
        assert log_events(mk.ex)[-1] == "access.denied"  # the policy's rule, logged by the policy
    with exact_mode():  # the noise switched off, to check the count under it
        dp = run(local, contract.id, input=files[1], column="id_no", reveal="count", epsilon=0.5)
    assert (dp.mode, dp.count, dp.members) == ("dp_count", 60, None)
    assert dp.answer is not None and dp.answer["epsilon_charged"] == 0.5
    assert log_events(mk.ex).count("psi.session") == 1


def test_psi_then_dp_runs_under_l1(mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    then_dp_equals_the_plain_aggregate(mk, files)


def then_dp_equals_the_plain_aggregate(mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    from dataex.privacy.dp import set_privacy
    from dataex.privacy.dp.mechanisms import exact_mode

    _, holders_csv, visits, holders = files
    departments = sorted({str(d) for d in visits.column("department").to_pylist()})
    set_privacy(
        mk.ex, mk.dataset_id, actor=mk.hospital.party, unit="row", max_contributions=1,
        domains={"department": departments},
    )  # fmt: skip
    contract = mk.contract("L1")
    shared = plain(visits, holders)
    want = dict.fromkeys(departments, 0)
    for row in visits.to_pylist():
        if row["id_no"] in shared:
            want[row["department"]] += 1
    with exact_mode():
        result = run(
            LocalTransport(mk.ex, mk.insurer.party), contract.id, input=holders_csv, column="id_no",
            then="SELECT department, COUNT(*) AS n FROM matched GROUP BY department", epsilon=0.5,
        )  # fmt: skip
    assert result.answer is not None
    assert {r["department"]: r["n"] for r in result.answer["rows"]} == want


def test_the_node_keeps_no_consumer_identifier(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table], sqlite_node: Node
) -> None:
    _, holders_csv, visits, holders = files
    contract = mk.contract("L3", max_rows=1000)
    local = LocalTransport(mk.ex, mk.insurer.party)
    run(local, contract.id, input=holders_csv, column="id_no", reveal="members")
    run(local, contract.id, input=holders_csv, column="mobile", reveal="count")
    theirs = {str(x) for c in ("id_no", "mobile") for x in holders.column(c).to_pylist()}
    ours = {str(x) for c in ("id_no", "mobile") for x in visits.column(c).to_pylist()}
    only_consumer = theirs - ours
    assert len(only_consumer) == 180
    dump: list[str] = []
    with mk.ex.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            dump += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    with mk.ex.session() as s:
        dump += [bytes(e).decode("utf-8", "replace") for e in s.scalars(select(LogEntryRow.entry))]
    for path in sqlite_node.home.rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm"):
            dump.append(path.read_bytes().decode("latin-1"))
    blob = "\n".join(dump)
    assert not [x for x in only_consumer if x in blob]


def test_the_prepared_list_is_private_keeps_no_key_and_rotates(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]
) -> None:
    contract = mk.contract("L3", max_rows=1000)
    local = LocalTransport(mk.ex, mk.insurer.party)
    first_run = run(local, contract.id, input=files[1], column="id_no", reveal="count")
    with mk.ex.session() as s:
        first = s.scalars(select(PsiPreparedSetRow)).one()
    listed = mk.node.home / first.setup_file
    assert first.key_file == "" and stat.S_IMODE(listed.stat().st_mode) == 0o600
    assert first.items == 160 and first_run.provider_items == 200  # exact for the owner, rounded out
    assert not [p for p in mk.node.home.rglob("*.key") if "psi" in p.parts]  # no PSI key is ever stored
    run(local, contract.id, input=files[1], column="id_no", reveal="count")  # reused, not rebuilt
    assert log_events(mk.ex).count("psi.set.prepared") == 1
    with mk.ex.transaction() as s:  # the dataset's file changed (e.g. a consent withdrawal rewrote it)
        s.scalars(select(PsiPreparedSetRow)).one().file_sha256 = "0" * 64
    assert run(local, contract.id, input=files[1], column="id_no", reveal="count").count == 60
    with mk.ex.session() as s:
        second = s.scalars(select(PsiPreparedSetRow)).one()
    assert second.setup_file != first.setup_file and not listed.exists()
    assert len((mk.node.home / second.setup_file).read_bytes().split(b"\n")) == 160


def test_bad_inputs_are_refused_and_not_charged(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table], tmp_path: Path
) -> None:
    contract = mk.contract("L3", max_rows=1000)
    local = LocalTransport(mk.ex, mk.insurer.party)
    with pytest.raises(UnknownColumn):
        run(local, contract.id, input=files[1], column="nope", reveal="count")
    empty = tmp_path / "empty.csv"
    empty.write_text("id_no\n\n")
    with pytest.raises(EmptyFile):
        run(local, contract.id, input=empty, column="id_no", reveal="count")
    with pytest.raises(InvalidIdentifiers) as wrong:
        run(local, contract.id, input=files[1], column="mobile", id_type="cn_resident_id", reveal="count")
    assert wrong.value.invalid_share == 1.0 and wrong.value.total == 150
    client = protocol.Client(reveal=False)
    request = client.request([f"cn_resident_id:11010119900307451{i}" for i in range(10)])
    import private_set_intersection.python as psi

    message = psi.Request()
    message.ParseFromString(request)
    message.encrypted_elements[0] = b"\x02" + b"\xff" * 32  # not a point on P-256
    with pytest.raises(InvalidPsiMessage):
        run_session(
            mk.ex, mk.insurer.party, contract.id, request=message.SerializeToString(), mode="count",
            id_type="cn_resident_id",
        )  # fmt: skip
    with pytest.raises(InvalidPsiMessage):
        LocalTransport(mk.ex, mk.insurer.party).session(
            contract.id, {"mode": "count", "id_type": "cn_resident_id", "request": b64(b"\xff\x00garbage")}
        )
    with pytest.raises(TooFewIdentifiers) as few:  # nine items: under the minimum set size
        run_session(
            mk.ex, mk.insurer.party, contract.id, request=client.request(["a:1"] * 9), mode="count",
            id_type="cn_resident_id",
        )  # fmt: skip
    assert (few.value.items, few.value.minimum) == (9, 10)
    events = log_events(mk.ex)
    assert events.count("psi.refused") == 3 and events[-1] == "psi.refused"
    with mk.ex.session() as s:
        row = s.get(ContractRow, contract.id)
        assert row is not None and (row.remaining_queries, row.remaining_rows) == (None, 1000)
    assert "budget.charged" not in log_events(mk.ex)


def test_normalization_rules() -> None:
    assert canonical("cn_resident_id", " 11010119900307451x ") == "11010119900307451X"
    from dataex.demo.data import resident_id_check_digit

    upgraded = canonical("cn_resident_id", "110101900307451")  # 15 → 18: 19YY, check character computed
    assert upgraded == "11010119900307451" + resident_id_check_digit("11010119900307451")
    assert canonical("cn_mobile", "+86 138-0013-8000") == "13800138000"
    assert canonical("cn_mobile", "0086 (138) 0013 8000") == "13800138000"
    assert canonical("email", " Li.Lei@Example.COM ") == "li.lei@example.com"
    n = normalize(["13800138000", "+86 13800138000", None, " ", "12345"], "cn_mobile", max_invalid_share=0.5)
    assert (n.items, n.empty, n.invalid, n.duplicates) == (["cn_mobile:13800138000"], 2, 1, 1)


def test_psi_over_http(mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    from fastapi.testclient import TestClient

    from dataex.api.app import create_app
    from dataex.api.routes import compute
    from dataex.privacy.psi.client import HttpTransport

    app = create_app(mk.ex)
    app.include_router(compute.router)
    contract = mk.contract("L3", max_rows=1000)
    with TestClient(app) as http:
        transport = HttpTransport("http://testserver", mk.insurer.token, client=http)
        result = run(transport, contract.id, input=files[1], column="id_no", reveal="members")
        assert set(result.members or []) == plain(files[2], files[3])
        with pytest.raises(AccessDenied):
            run(HttpTransport("http://testserver", mk.insurer.token, client=http), mk.contract("L2").id,
                input=files[1], column="id_no", reveal="members")  # fmt: skip


def test_the_owner_prepares_a_set_ahead_and_sessions_reuse_it(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table]
) -> None:
    from dataex.errors import DatasetNotFound, Forbidden
    from dataex.privacy.psi.service import prepare

    with pytest.raises(Forbidden):
        prepare(mk.ex, mk.dataset_id, column="id_no", id_type="cn_resident_id", actor=mk.insurer.party)
    with pytest.raises(UnknownColumn):
        prepare(mk.ex, mk.dataset_id, column="nope", id_type="cn_resident_id", actor=mk.hospital.party)
    with pytest.raises(DatasetNotFound):
        prepare(mk.ex, "ds_0000000000000000", column="id_no", id_type="cn_resident_id", actor=None)
    assert log_events(mk.ex).count("psi.set.prepared") == 0  # refusals prepared nothing
    done = prepare(mk.ex, mk.dataset_id, column="id_no", id_type="cn_resident_id", actor=mk.hospital.party)
    again = prepare(mk.ex, mk.dataset_id, column="id_no", id_type="cn_resident_id", actor=mk.hospital.party)
    assert done.built and not again.built and again.setup_sha256 == done.setup_sha256
    assert done.items == len({str(x) for x in files[2].column("id_no").to_pylist()})
    contract = mk.contract("L3", max_rows=1000)
    result = run(LocalTransport(mk.ex, mk.insurer.party), contract.id, input=files[1], column="id_no")
    assert result.count == len(plain(files[2], files[3]))
    assert log_events(mk.ex).count("psi.set.prepared") == 1  # the session used the prepared set


def test_psi_then_dp_keeps_no_session_state_and_its_ticket_cannot_be_forged(
    mk: Market, files: tuple[Path, Path, pa.Table, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process of the node (a second Exchange on the same home) finishes a session this one
    started; a tampered, foreign or expired ticket finds no session and charges nothing."""
    import base64
    import json

    from dataex import Exchange
    from dataex.errors import NotFound
    from dataex.privacy.dp import set_privacy
    from dataex.privacy.dp.mechanisms import exact_mode
    from dataex.privacy.psi import thendp
    from dataex.privacy.psi.normalize import normalize

    _, _, visits, holders = files
    set_privacy(mk.ex, mk.dataset_id, actor=mk.hospital.party, unit="row", max_contributions=1)
    contract = mk.contract("L1")
    mine = normalize([str(v) for v in holders.column("id_no").to_pylist()], "cn_resident_id")

    def begin() -> thendp.Started:
        return thendp.start(
            mk.ex, mk.insurer.party, contract.id, sql="SELECT COUNT(*) AS n FROM matched", epsilon=0.5,
            id_type="cn_resident_id", column="id_no",
        )  # fmt: skip

    def finish(ex: Exchange, party: Any, started: thendp.Started, ticket: str) -> dict[str, Any]:
        key = protocol.new_key()
        setup = protocol.server_setup(mine.items, key=key, max_client_items=started.provider_items)
        response = protocol.server_answer(started.request, key=key, reveal=True)
        return thendp.finish(
            ex, party, started.session_id, setup=setup.setup, response=response,
            consumer_items=len(mine.items), ticket=ticket,
        )  # fmt: skip

    started = begin()
    body, _, mac = started.ticket.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claims | {"epsilon": 0.001}).encode()).decode()
    before = log_events(mk.ex).count("budget.charged")
    for bad in (forged.rstrip("=") + "." + mac, started.ticket[:-2] + "AA", "junk"):
        with pytest.raises(NotFound):
            finish(mk.ex, mk.insurer.party, started, bad)
    with pytest.raises(NotFound):  # someone else's session
        finish(mk.ex, mk.hospital.party, started, started.ticket)
    assert log_events(mk.ex).count("budget.charged") == before
    other = Exchange.open(home=mk.node.home)  # as another worker process of `dataex serve`
    try:
        with exact_mode():
            answer = finish(other, mk.insurer.party, started, started.ticket)
    finally:
        other.close()
    shared = plain(visits, holders)
    assert answer["rows"] == [{"n": sum(1 for v in visits.column("id_no").to_pylist() if v in shared)}]
    assert stat.S_IMODE((mk.node.home / thendp.SESSION_KEYS_FILE).stat().st_mode) == 0o600
    monkeypatch.setattr(thendp, "TTL_SECONDS", -1.0)
    stale = begin()
    with pytest.raises(NotFound):
        finish(mk.ex, mk.insurer.party, stale, stale.ticket)


def test_derived_session_keys_are_valid_scalars() -> None:
    keys = {protocol.derive_key(b"k" * 32, f"psi-then-dp|psi_{i}") for i in range(50)}
    assert len(keys) == 50
    assert all(1 <= int.from_bytes(k, "big") < protocol.P256_ORDER for k in keys)
    assert protocol.derive_key(b"k" * 32, "x") == protocol.derive_key(b"k" * 32, "x")
    assert protocol.derive_key(b"k" * 32, "x") != protocol.derive_key(b"j" * 32, "x")
