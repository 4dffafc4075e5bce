"""ODRL 2.2 policies: written, parsed back to the same policy, malformed ones refused by name."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dataex.contracts import odrl
from dataex.errors import InvalidInput

EXPIRES = datetime(2027, 7, 1, tzinfo=UTC)
OFFER = odrl.Policy(
    kind="Offer",
    uid="off_1",
    target="ds_1",
    assigner="pty_h",
    tier="L1",
    purposes=("research", "ai-training"),
    expires=EXPIRES,
    max_queries=100,
    epsilon_nano=3 * odrl.EPSILON_SCALE,
    delta_atto=10**12,  # 1e-6
    prohibitions=("redistribution", "reidentification", "linking"),
    duties=("attribution",),
)
AGREEMENT = odrl.Policy(
    kind="Agreement",
    uid="ctr_1",
    target="ds_1",
    assigner="pty_h",
    assignee="pty_i",
    tier="L4",
    purposes=("ai-training",),
    expires=EXPIRES,
    max_rows=100000,
    prohibitions=("redistribution",),
    duties=("attribution", "delete_on_expiry"),
    legal_basis="consent",
)


@pytest.mark.parametrize("policy", [OFFER, AGREEMENT, odrl.Policy("Offer", "o", "d", "p", "L0", ("x",))])
def test_round_trip(policy: odrl.Policy) -> None:
    doc = odrl.to_jsonld(policy)
    assert odrl.parse(json.loads(json.dumps(doc))) == policy


def test_offer_document_uses_the_odrl_vocabulary() -> None:
    doc = odrl.to_jsonld(OFFER)
    assert doc["@context"][0] == "http://www.w3.org/ns/odrl.jsonld"
    assert doc["@type"] == "Offer"
    perm = doc["permission"][0]
    assert perm["assigner"] == "urn:dataex:party:pty_h"
    assert "assignee" not in perm
    ops = {c["leftOperand"]: (c["operator"], c["rightOperand"]) for c in perm["constraint"]}
    assert ops["purpose"] == ("isAnyOf", ["research", "ai-training"])
    assert ops["dateTime"] == ("lt", {"@value": "2027-07-01T00:00:00Z", "@type": "xsd:dateTime"})
    assert ops["count"] == ("lteq", 100)
    assert ops["dx:epsilon"] == ("lteq", {"@value": "3", "@type": "xsd:decimal"})
    assert ops["dx:delta"] == ("lteq", {"@value": "0.000001", "@type": "xsd:decimal"})
    assert [p["action"] for p in doc["prohibition"]] == ["distribute", "dx:reidentify", "dx:link"]


def test_agreement_names_both_parties_and_the_delete_duty() -> None:
    doc = odrl.to_jsonld(AGREEMENT)
    perm = doc["permission"][0]
    assert (perm["assigner"], perm["assignee"]) == ("urn:dataex:party:pty_h", "urn:dataex:party:pty_i")
    assert perm["action"] == "reproduce"
    assert perm["constraint"][0] == {
        "leftOperand": "purpose",
        "operator": "isA",
        "rightOperand": "ai-training",
    }
    assert [d["action"] for d in perm["duty"]] == ["attribute", "delete"]


def test_prefixed_and_full_iris_are_accepted() -> None:
    doc = odrl.to_jsonld(OFFER)
    doc["@type"] = "odrl:Offer"
    doc["permission"][0]["constraint"][0]["operator"] = "http://www.w3.org/ns/odrl/2/isAnyOf"
    doc["permission"][0]["constraint"][0]["leftOperand"] = "odrl:purpose"
    doc["prohibition"][1]["action"] = "https://dataex.dev/ns/odrl/reidentify"
    assert odrl.parse(doc) == OFFER


def _mutated(path: list[Any], value: Any, base: odrl.Policy = OFFER) -> dict[str, Any]:
    doc = copy.deepcopy(odrl.to_jsonld(base))
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()
C0 = ["permission", 0, "constraint", 0]
MALFORMED = [
    (_mutated(["permission", 0, "action"], "play"), "play"),
    (_mutated(["permission", 0, "action"], "dx:dpQuerry"), "dx:dpQuerry"),
    (_mutated([*C0, "operator"], "isSomeOf"), "isSomeOf"),
    (_mutated([*C0, "operator"], "eq"), "'eq' is not supported"),
    (_mutated([*C0, "leftOperand"], "spatial"), "spatial"),
    (_mutated([*C0, "leftOperand"], "dx:colour"), "dx:colour"),
    (_mutated([*C0, "rightOperand"], []), "purpose"),
    (_mutated(["permission", 0, "constraint", 1, "rightOperand"], "tomorrow"), "dateTime"),
    (_mutated(["permission", 0, "constraint", 2, "rightOperand"], -1), "count"),
    (_mutated(["permission", 0, "constraint", 3, "rightOperand", "@value"], "three"), "dx:epsilon"),
    (_mutated(["prohibition", 0, "action"], "sell"), "sell"),
    (_mutated(["permission", 0, "duty", 0, "action"], "compensate"), "compensate"),
    (_mutated(["permission", 0, "assignee"], "urn:dataex:party:x"), "assignee"),
    (_mutated(["permission", 0, "target"], "http://example.org/x"), "target"),
    (_mutated(["@type"], "Set"), "Set"),
    (_mutated(["@context"], "http://example.org/ctx"), "context"),
    (_mutated(["dx:tier"], "L9"), "L9"),
    (_mutated(["permission", 0, "foo"], 1), "foo"),
    (_mutated(["permission"], []), "exactly one permission"),
    (_mutated(["profile"], "x"), "profile"),
    (
        _mutated(["permission", 0, "constraint"], [odrl.to_jsonld(OFFER)["permission"][0]["constraint"][1]]),
        "purpose",
    ),
    (_mutated(["permission", 0, "assignee"], _DELETE, AGREEMENT), "assignee"),
]


@pytest.mark.parametrize(("doc", "named"), MALFORMED)
def test_malformed_policies_are_refused_by_name(doc: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=named.replace("(", r"\(")):
        odrl.parse(doc)


@pytest.mark.parametrize("doc", [None, [], "policy", 3])
def test_non_objects_are_refused(doc: Any) -> None:
    with pytest.raises(InvalidInput):
        odrl.parse(doc)


def test_a_constraint_twice_is_refused() -> None:
    doc = odrl.to_jsonld(OFFER)
    doc["permission"][0]["constraint"].append(doc["permission"][0]["constraint"][2])
    with pytest.raises(InvalidInput, match="twice"):
        odrl.parse(doc)
