"""The policy's rules: every action decided in one module, every rule documented, a private dataset
answering exactly as an unknown id, management denials logged, and the two leaks the policy closed
(another party's private classification, private dataset ids in the offers listing)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import dataex.policy
from dataex.api.app import create_app
from dataex.errors import DataexError
from dataex.identity.parties import Party
from dataex.policy import ACTIONS, DATA_ACTIONS, OBJECT_KIND, authorize, decide, error_of
from tests.conftest import Node, add
from tests.contracts import Market, log_events, log_size, market
from tests.policy import make_private

UNKNOWN = "ds_" + "0" * 16


@pytest.fixture
def m(sqlite_node: Node, visits_csv: Path) -> Market:
    return market(sqlite_node, visits_csv)


def rules_in_code() -> tuple[set[str], set[tuple[str, ...]]]:
    """Every rule name the module can decide with (the literals given to ``Decision``), and the
    fixed parts of the computed ones (``f"contract.{row.state}"`` → ``("contract.",)``)."""
    tree = ast.parse(inspect.getsource(dataex.policy))
    names: set[str] = set()
    patterns: set[tuple[str, ...]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Decision":
            for a in node.args[1:2]:
                if isinstance(a, ast.Constant):
                    names.add(str(a.value))
                elif isinstance(a, ast.JoinedStr):
                    patterns.add(tuple(str(v.value) for v in a.values if isinstance(v, ast.Constant)))
        targets = [
            t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)
        ]
        if "rule" in targets or "_NODE_RULES" in targets:  # rules chosen in a variable or a table
            value = getattr(node, "value", None)
            for c in ast.walk(value) if value is not None else ():
                if (
                    isinstance(c, ast.Constant)
                    and isinstance(c.value, str)
                    and re.fullmatch(r"[a-z_]+\.[a-z_]+", c.value)
                ):
                    names.add(c.value)
    return names, patterns


def test_the_docstring_lists_every_rule() -> None:
    doc = dataex.policy.__doc__ or ""
    documented = set(re.findall(r"``([^`]+)``", doc))
    wildcards = [d.removesuffix("*") for d in documented if d.endswith(".*")]
    names, patterns = rules_in_code()
    assert {"manage.owner", "manage.owner_or_operator", "contract.unknown", "auditor.no_data"} <= names
    missing = [
        n for n in sorted(names) if n not in documented and not any(n.startswith(w) for w in wildcards)
    ]
    assert missing == []
    assert [p for p in sorted(patterns) if not all(part in doc for part in p)] == []


def test_every_action_has_an_object_kind_and_a_rule(m: Market) -> None:
    assert set(OBJECT_KIND) == set(ACTIONS)
    contract = m.contract("L1")
    ids = {
        "dataset": m.dataset_id,
        "contract": contract.id,
        "offer": contract.offer_id,
        "party": m.insurer.party.id,
        "node": None,
    }
    with m.ex.session() as s:
        for action in ACTIONS:
            kind = OBJECT_KIND[action]
            if kind not in ids:
                continue  # demands, jobs and products: their own tests
            for party in (m.hospital.party, m.insurer.party, m.auditor.party, None):
                if party is None and action in DATA_ACTIONS:
                    continue
                d = decide(s, party, action, ids[kind], {})
                assert d.rule and d.action == action
                assert d.allow or error_of(d).status in (403, 404)


@pytest.mark.parametrize("action", sorted(a for a, k in OBJECT_KIND.items() if k == "dataset"))
def test_a_private_dataset_answers_as_an_unknown_id(m: Market, action: str) -> None:
    """No existence oracle: for a party without the right to know it exists, every action on a
    private dataset fails with the error an id never registered gets (status, code, message)."""
    make_private(m)
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    for party in (stranger.party, m.auditor.party, m.insurer.party):
        private = authorize(m.ex, party, action, m.dataset_id)
        unknown = authorize(m.ex, party, action, UNKNOWN)
        assert (private.allow, private.rule) == (unknown.allow, unknown.rule) == (False, "dataset.unknown")
        a, b = error_of(private), error_of(unknown)
        assert (type(a), a.status, a.code) == (type(b), b.status, b.code)
        assert a.message.replace(m.dataset_id, UNKNOWN) == b.message


def test_management_denials_are_logged_and_allowed_changes_are_not_doubled(m: Market) -> None:
    size = log_size(m.ex)
    d = authorize(m.ex, m.insurer.party, "set_privacy", m.dataset_id)
    assert (d.allow, d.rule) == (False, "manage.owner")
    with pytest.raises(DataexError, match="only the owner"):
        d.raise_if_denied()
    assert log_events(m.ex, size) == ["access.denied"]
    with m.ex.session() as s:
        body = m.ex.log.get_entry(s, d.log_index).body["data"]
    assert body == {
        "party": m.insurer.party.id,
        "role": "consumer",
        "action": "set_privacy",
        "dataset_id": m.dataset_id,
        "rule": "manage.owner",
    }
    size = log_size(m.ex)
    assert authorize(m.ex, m.hospital.party, "set_privacy", m.dataset_id).allow
    assert authorize(m.ex, m.auditor.party, "read_metadata", m.dataset_id).allow
    assert log_size(m.ex) == size  # the change itself logs its own entry, naming the actor


def test_the_operator_runs_the_node_but_never_consumes(m: Market) -> None:
    operator = m.ex.list_parties()[0]
    assert operator.is_operator
    for action in ("describe", "classify", "anonymize", "record_consent", "revoke"):
        obj = m.contract("L1").id if action == "revoke" else m.dataset_id
        assert authorize(m.ex, operator, action, obj).allow, action
    for action in ("set_privacy", "create_offer"):  # the owner's own terms
        assert not authorize(m.ex, operator, action, m.dataset_id).allow
    for action in sorted(DATA_ACTIONS):
        assert authorize(m.ex, operator, action, m.dataset_id).rule == "operator.no_data"


def test_roles_on_the_node(m: Market) -> None:
    operator = m.ex.list_parties()[0]
    cases: list[tuple[Party, str, bool]] = [
        (m.insurer.party, "post_demand", True),
        (m.hospital.party, "post_demand", False),
        (operator, "deposit", True),
        (m.hospital.party, "deposit", False),
        (m.auditor.party, "verify_ledger", True),
        (m.insurer.party, "verify_ledger", False),
        (m.hospital.party, "create_product", True),
        (m.insurer.party, "create_product", False),
    ]
    for party, action, allowed in cases:
        assert authorize(m.ex, party, action).allow is allowed, (party.name, action)


# -- the leaks, through HTTP, as an attacker would try them ------------------------------------------
@pytest.fixture
def client(m: Market) -> TestClient:
    return TestClient(create_app(m.ex))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_another_partys_private_classification_answers_404_as_an_unknown_id(
    m: Market, client: TestClient
) -> None:
    """Before the policy, any party read the field names and PII types of a private dataset."""
    make_private(m)
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    r = client.get(f"/datasets/{m.dataset_id}/classification", headers=auth(stranger.token))
    u = client.get(f"/datasets/{UNKNOWN}/classification", headers=auth(stranger.token))
    assert (
        (r.status_code, r.json()["code"]) == (u.status_code, u.json()["code"]) == (404, "dataset_not_found")
    )
    assert r.json()["error"].replace(m.dataset_id, UNKNOWN) == u.json()["error"]
    assert "patient" not in r.text and "fields" not in r.json()
    mine = client.get(f"/datasets/{m.dataset_id}/classification", headers=auth(m.hospital.token))
    assert mine.status_code == 200 and mine.json()["fields"]


def test_the_offers_listing_hides_private_datasets(m: Market, client: TestClient) -> None:
    """Before the policy, ``GET /offers`` listed every offer, private datasets' ids included."""
    offer = m.offer("L1")
    make_private(m)
    stranger = add(m.node, "Stranger AI", kind="ai_team", role="consumer")
    r = client.get("/offers", headers=auth(stranger.token))
    assert r.status_code == 200
    assert m.dataset_id not in r.text and offer.id not in r.text
    r = client.get(f"/offers?dataset={m.dataset_id}", headers=auth(stranger.token))
    assert r.status_code == 200 and r.json() == []
    request = client.post(
        f"/offers/{offer.id}/contracts", json={"purpose": "research"}, headers=auth(stranger.token)
    )
    unknown = client.post(
        "/offers/off_0000/contracts", json={"purpose": "research"}, headers=auth(stranger.token)
    )
    assert (request.status_code, request.json()["code"]) == (unknown.status_code, unknown.json()["code"])
    assert request.status_code == 404
    mine = client.get("/offers", headers=auth(m.hospital.token))
    assert [o["id"] for o in mine.json()] == [offer.id]
