"""Every route of the node is public by design, operator-only, or checked by its service; and no
route tells a party about another party's private dataset.

Declared (``test_every_route_is_classified``): routers are discovered from ``dataex.api.routes``
(every module with a ``router``), so a router added by anyone is checked too. To classify a new
route, either
* guard it: depend on ``dataex.api.deps.Operator`` (operator only), or
* for the Delta Sharing protocol (``dataex.api.routes.sharing``): depend on its ``share_token``
  (a contract's share token; the sharing service authenticates it and runs ``authorize()``) or on
  its ``presigned`` (a pre-signed file URL; the service verifies the HMAC and expiry, then runs
  ``authorize()``), or
* list it below: in PUBLIC (no token) or PARTY_SCOPED (a token, and a service that checks the party
  against the object and logs refusals), with the reason.

Observed (``test_a_private_dataset_answers_strangers_as_an_unknown_id``): every route the server
serves is called by strangers, with the ids of a private dataset and of its offer, contract, job
and product, and again with unknown ids; the answers must be alike and never show the dataset.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

import dataex.api.routes
from dataex.api import deps
from dataex.catalog.demand import post_demand
from dataex.catalog.metadata import describe
from dataex.compute import jobs
from dataex.contracts import lifecycle
from dataex.contracts.offers import create_offer
from dataex.delivery.sharing import SCHEMA as SHARING_SCHEMA
from dataex.exchange import Exchange
from dataex.market.products import create_product
from dataex.server import create_app
from dataex.web import deps as web_deps
from dataex.web import session as web_session
from dataex.web.queries import checkpoint_sizes
from tests.conftest import Node

LOG = "the transparency log is public: auditors verify it without trusting the operator"
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/.well-known/dataex/node-key"): "the node's public key verifies certificates and checkpoints",
    ("GET", "/log/checkpoint"): LOG,
    ("GET", "/log/checkpoint.txt"): LOG,
    ("POST", "/witness/add-checkpoint"): "c2sp.org/tlog-witness: authenticates the checkpoint's "
    "signature by a pinned log key, not the caller",
    ("GET", "/log/proof/{index}"): LOG,
    ("GET", "/log/consistency"): LOG,
    ("GET", "/datasets/{dataset_id}/certificate"): "a registration certificate is a public proof of rights",
    # L0 catalog views with an optional token; their services give anonymous callers the public view
    (
        "GET",
        "/datasets/{dataset_id}/croissant",
    ): "L0 Croissant metadata, public view without a token",
    ("GET", "/datasets/{dataset_id}/metadata"): "L0 catalog metadata, public view without a token",
    ("GET", "/catalog/dcat"): "the DCAT catalog of public metadata (L0)",
    ("GET", "/version"): "the API version, for clients to check compatibility",
    ("GET", "/datasets/{dataset_id}/quality"): "L0 quality report, public summary without a token",
    ("GET", "/datasets/{dataset_id}/quality.html"): "L0 quality report page, public summary without a token",
}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
SCOPED = "authenticated; the contracts service checks the party against the offer/contract and logs refusals"
PARTY_SCOPED: dict[tuple[str, str], str] = {
    ("GET", "/parties/me"): "a party reads its own record",
    ("GET", "/log/openings/{index}"): "the audit service shows a sealed field only to its audience",
    ("GET", "/datasets"): "catalog listing (L0 metadata) for any authenticated party",
    ("GET", "/datasets/{dataset_id}"): "catalog metadata (L0) for any authenticated party",
    ("POST", "/datasets"): "registration: the service makes the acting party the owner",
    ("PUT", "/datasets/{dataset_id}/metadata"): "the catalog service lets only the owner edit metadata",
    ("GET", "/datasets/{dataset_id}/classification"): "the privacy service shows it to the owner",
    ("POST", "/datasets/{dataset_id}/classification/overrides"): "the privacy service lets only the owner",
    ("POST", "/datasets/{dataset_id}/quality"): "the quality service lets only the owner compute it",
    (
        "POST",
        "/datasets/{dataset_id}/anonymize",
    ): "the anonymize service lets only the owner (or operator) derive",
    ("GET", "/search"): "catalog search over L0 metadata",
    ("POST", "/demands"): "a consumer posts its own demand",
    ("GET", "/demands"): "the demand board",
    ("GET", "/demands/{demand_id}"): "the demand board",
    ("POST", "/demands/{demand_id}/close"): "the search service lets only the demand's owner close it",
    ("GET", "/demands/{demand_id}/matches"): "L0 metadata of datasets matching a demand",
    ("GET", "/datasets/{dataset_id}/demands"): "demands matching a dataset (no data)",
    ("POST", "/offers"): "only the dataset's owner may offer it (" + SCOPED + ")",
    ("GET", "/offers"): "offers are catalog information (L0)",
    ("POST", "/offers/{offer_id}/contracts"): SCOPED,
    ("GET", "/contracts"): "a party's own contracts; every contract for auditors and the operator",
    ("GET", "/contracts/{contract_id}"): SCOPED,
    ("POST", "/contracts/{contract_id}/approve"): SCOPED,
    ("POST", "/contracts/{contract_id}/reject"): SCOPED,
    ("POST", "/contracts/{contract_id}/revoke"): SCOPED,
    ("GET", "/contracts/{contract_id}/odrl"): SCOPED,
    (
        "POST",
        "/datasets/{dataset_id}/consent-withdrawals",
    ): "the consent service lets only the owner record it",
    ("GET", "/notices"): "a party's own notices",
    (
        "GET",
        "/wallets/{party_id}",
    ): "the market service shows a wallet to its party, the operator and auditors",
    ("POST", "/products"): "the market service checks ownership and the product-operation right",
    ("GET", "/products"): "products are catalog information (members, split; no data)",
    ("GET", "/products/{product_id}"): "products are catalog information (members, split; no data)",
    ("POST", "/products/{product_id}/purchases"): "the acting party pays from its own wallet",
    ("POST", "/valuations"): "the market service lets owners, the product's creator and the operator value; "
    "per-row values go to their owner only",
    ("GET", "/ledger"): "a party reads its own statement; the operator and auditors read any",
    ("GET", "/ledger/verify"): "the market service lets only the operator and auditors verify",
    ("POST", "/contracts/{contract_id}/query"): "the DP service runs authorize(dp_query) on the contract's "
    "dataset (logged either way) and charges its ε budget; raw rows never leave",
    ("PUT", "/datasets/{dataset_id}/privacy"): "the DP settings service lets only the owner set it",
    ("POST", "/contracts/{contract_id}/psi"): "the PSI service runs authorize(psi) on the contract's dataset "
    "(logged either way), applies the mode's tier rule and charges before it answers",
    (
        "POST",
        "/contracts/{contract_id}/psi/then",
    ): "the PSI service runs authorize(psi) and checks the ε budget",
    ("POST", "/psi/sessions/{session_id}/finish"): "only the party that started the session may finish it; "
    "the DP answer is charged to the contract's ε budget",
    ("POST", "/contracts/{contract_id}/compute"): "the compute service runs authorize(compute) on the "
    "contract's dataset (logged either way); only models and metrics ever leave",
    ("POST", "/contracts/{contract_id}/extract"): "the delivery service runs authorize(extract) on the "
    "contract's dataset (logged either way), lets only the contract's consumer extract, fingerprints and "
    "charges the rows (dataex.delivery.extracts)",
    ("GET", "/jobs/{job_id}"): "the job's consumer, the dataset's owner, the operator and auditors",
    ("GET", "/jobs/{job_id}/outputs/{name}"): "a succeeded job's outputs, for its consumer only",
}


# -- WEB: the console's pages (dataex.web), mounted on the API's app by ``dataex.server`` ---------
# Web pages call the same services with the signed-in party, so authorization is identical to the
# API's; SIGNED_IN pages must depend on ``dataex.web.deps.signed_in`` (a session cookie), and every
# POST on ``dataex.web.session.check_csrf``.
WEB_REASON = "web pages call the same services with the signed-in party"
WEB_PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "sign-in: exchanges a party token for a session cookie",
    ("POST", "/logout"): "sign-out: ends the session (CSRF-checked)",
    ("GET", "/lang/{locale}"): "the language switch: sets a preference cookie only",
}
WEB_SIGNED_IN: dict[tuple[str, str], str] = {
    ("GET", "/"): WEB_REASON + " (catalog.search, demand board)",
    ("GET", "/catalog"): WEB_REASON + " (catalog.search, demand board)",
    ("GET", "/dataset/{dataset_id}"): WEB_REASON + " (metadata, quality, offers: the L0 views)",
    ("POST", "/dataset/{dataset_id}/verify"): WEB_REASON + " (certificate check: public)",
    ("GET", "/auditor"): WEB_REASON + " (auditors only; the log is public)",
    ("POST", "/auditor/entries/{index}/verify"): WEB_REASON + " (inclusion proof: public)",
    ("GET", "/provider"): WEB_REASON + " (providers only)",
    ("POST", "/provider/datasets"): WEB_REASON + " (the API's registration path, owner = party)",
    ("POST", "/provider/offers"): WEB_REASON + " (contracts.offers.create_offer checks ownership)",
    ("POST", "/provider/privacy"): WEB_REASON + " (dp.set_privacy lets only the owner)",
    ("POST", "/provider/contracts/{contract_id}/{decision}"): WEB_REASON + " (contracts.lifecycle)",
    ("POST", "/offers/{offer_id}/request"): WEB_REASON + " (contracts.lifecycle.request_contract)",
    ("GET", "/consumer"): WEB_REASON + " (consumers only; a party's own contracts)",
    ("POST", "/consumer/query"): WEB_REASON + " (dp.query runs authorize(dp_query))",
    ("GET", "/provider/uploads/{task_id}"): WEB_REASON + " (the uploading party's own task only)",
    ("GET", "/provider/uploads/{task_id}/progress"): WEB_REASON + " (the uploading party's own task)",
    ("GET", "/provider/datasets/{dataset_id}/describe"): WEB_REASON + " (owner only: metadata.describe)",
    ("POST", "/provider/datasets/{dataset_id}/describe"): WEB_REASON + " (describe: owner only)",
    ("POST", "/consumer/contracts/{contract_id}/extract"): WEB_REASON + " (delivery.extract: authorize)",
    ("POST", "/consumer/contracts/{contract_id}/profile"): WEB_REASON + " (sharing profile: the consumer)",
    ("POST", "/consumer/contracts/{contract_id}/compute"): WEB_REASON + " (compute.submit: authorize)",
    ("GET", "/consumer/jobs/{job_id}"): WEB_REASON + " (the job's consumer only)",
    ("GET", "/auditor/consistency"): WEB_REASON + " (consistency proofs: public log data)",
}
WEB_MOUNTS = {"/static"}  # the console's CSS and vendored htmx


def flat_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """Routes with their full paths; FastAPI >= 0.165 keeps included routers as lazy branches."""
    try:
        from fastapi.routing import _iter_included_route_candidates
    except ImportError:  # older FastAPI copies the routes of an included router into app.routes
        return list(routes)
    return list(_iter_included_route_candidates(routes))


def full_app(ex: Exchange) -> FastAPI:
    """The server's app (``dataex.server.create_app``: the API and the web console) plus every router
    under ``dataex.api.routes`` it does not include yet."""
    app = create_app(ex)
    for info in pkgutil.iter_modules(dataex.api.routes.__path__):
        module = importlib.import_module(f"dataex.api.routes.{info.name}")
        router = getattr(module, "router", None)
        if router is None:
            continue
        present = {(r.path, frozenset(r.methods)) for r in flat_routes(app.routes) if isinstance(r, APIRoute)}
        mine = [r for r in flat_routes(router.routes) if isinstance(r, APIRoute)]
        if any((r.path, frozenset(r.methods)) not in present for r in mine):
            app.include_router(router)
    return app


def calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from calls(sub)


def guard(route: APIRoute) -> str | None:
    for call in calls(route.dependant):
        if call is deps.operator:
            return "operator"
        if getattr(call, "__dataex_share_token__", None):
            return "share_token"
        if getattr(call, "__dataex_presigned__", None):
            return "presigned"
    return None


def web_problems(route: APIRoute, key: tuple[str, str]) -> list[str]:
    method, path = key
    used = set(calls(route.dependant))
    out = []
    if key in WEB_SIGNED_IN and web_deps.signed_in not in used:
        out.append(f"{method} {path} is WEB_SIGNED_IN but does not depend on dataex.web.deps.signed_in")
    if method == "POST" and web_session.check_csrf not in used:
        out.append(f"{method} {path} is a web form without dataex.web.session.check_csrf")
    return out


def test_every_route_is_classified(sqlite_node: Node) -> None:
    app = full_app(sqlite_node.ex)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute):
            path = getattr(route, "path", "?")
            if path not in DOCS | WEB_MOUNTS:
                problems.append(
                    f"{path}: a non-API route; add it to DOCS in {__name__} if it is documentation"
                )
            continue
        authenticated = deps.current_party in set(calls(route.dependant))
        for method in sorted(route.methods):
            key = (method, route.path)
            seen.add(key)
            if key in WEB_PUBLIC or key in WEB_SIGNED_IN:
                problems += web_problems(route, key)
                continue
            how = guard(route)
            if how is not None:
                continue
            if key in PUBLIC:
                continue
            if key in PARTY_SCOPED:
                if not authenticated:
                    problems.append(f"{method} {route.path} is PARTY_SCOPED but does not require a token")
                continue
            problems.append(
                f"{method} {route.path} is unclassified: depend on deps.Operator, "
                f"or list it in PUBLIC / PARTY_SCOPED in {__name__} with the reason"
            )
    stale = sorted((set(PUBLIC) | set(PARTY_SCOPED) | set(WEB_PUBLIC) | set(WEB_SIGNED_IN)) - seen)
    problems += [f"{m} {p} is listed but no longer exists: remove it from the allow-list" for m, p in stale]
    assert problems == []


def test_the_delta_sharing_routes_use_the_share_mechanisms(sqlite_node: Node) -> None:
    app = full_app(sqlite_node.ex)
    kinds = {
        route.path: guard(route)
        for route in flat_routes(app.routes)
        if isinstance(route, APIRoute) and route.path.startswith("/delta-sharing")
    }
    assert kinds["/delta-sharing/files/{contract_id}/{name}"] == "presigned"
    assert {k for p, k in kinds.items() if "/files/" not in p} == {"share_token"}
    assert len(kinds) == 9


# -- OBSERVED: a private dataset answers every stranger, on every route, as an unknown id -----------
# A scene (built once per module, copied for each test): the hospital owns a public and a PRIVATE
# dataset; the private one has an offer, a contract with a partner consumer, a queued compute job
# and a joint product, all made while it was public. Strangers (a rival provider and a consumer
# without any contract) call each route with the private objects' ids, then with unknown ids of the
# same form: the two answers must match in status and shape (error messages equal once the ids are
# masked), and no answer may show the private dataset's title, or its id where the request did not
# name it.
TITLE = "Zephyrine ward sensors 4471"
WORD = "Zephyrine"  # a word of the private title: searched for
STRANGERS = ("provider", "consumer")
POLICY_POINT = "closed by the policy point"
BOTH = frozenset(STRANGERS)
LEAKS: dict[tuple[str, str], frozenset[str]] = {
    # (method, path) → the strangers it leaks to, each an xfail(strict=True) POLICY_POINT: none left;
    # a route that answers a stranger differently for a private id than for an unknown one goes here
    # only with an issue that will close it.
}
PUBLIC_LOG = "the public log shows what a private dataset's entries seal (docs/log.md)"
PUBLIC_LOG_IDS: frozenset[tuple[str, str]] = frozenset({("GET", "/log/proof/{index}")})
"""Routes that serve public log entries: a private dataset's entries keep its id in the clear (the
random id links the entries; docs/log.md decides so) and seal everything else, so the title check
still applies to them."""
LOG_LEAKS: dict[tuple[str, str], frozenset[str]] = {
    # (method, path) → the strangers the public log leaks to: none since issue 19 sealed the
    # registration of a dataset registered private (its entries carry commitments only)
}
RECIPE = """
task: classification
features: [x1, x2, grp]
target: label
model: {name: logistic_regression}
split: {test_size: 0.25, seed: 3}
"""
CSV_HEADER = "x1,x2,grp,label\n"


def sensor_csv(path: Path, seed: int, rows: int = 120) -> Path:
    """Non-personal sensor rows (classified non_personal): offerable at L4, usable for compute."""
    lines = [
        f"{(i * 7 + seed) % 13}.5,{(i * 37 + seed) % 101 / 10},{'abc'[i % 3]},"
        f"{'yes' if (i * 7 + seed) % 13 > 5 else 'no'}\n"
        for i in range(rows)
    ]
    path.write_text(CSV_HEADER + "".join(lines), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Ids:
    """The ids a stranger might name: the private dataset's and its objects', or unknown ones."""

    dataset: str
    offer: str
    contract: str
    job: str
    product: str

    def masked(self, text: str) -> str:
        for field in fields(self):
            text = text.replace(getattr(self, field.name), f"<{field.name}>")
        return text

    def named_in(self, text: str) -> bool:
        return any(getattr(self, field.name) in text for field in fields(self))

    def unknown(self) -> Ids:
        """Ids of the same form that name nothing: ``ds_`` followed by zeros, and so on."""

        def zeros(value: str) -> str:
            prefix, _, rest = value.partition("_")
            return f"{prefix}_{'0' * len(rest)}"

        return Ids(*(zeros(getattr(self, field.name)) for field in fields(self)))


@dataclass(frozen=True)
class Scene:
    home: Path
    private: Ids
    public_dataset: str
    owner: str
    demand: str
    log_index: int
    checkpoints: tuple[int, int]  # the sizes of two signed checkpoints
    tokens: dict[str, str]  # the strangers' API tokens


@dataclass(frozen=True)
class Call:
    """One request to a route (``path_values`` fills its path): a query, a JSON body, a form."""

    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


Recipe = Callable[[Scene, Ids], list[Call]]


def csv_file(name: str = "rows.csv") -> dict[str, Any]:
    return {"file": (name, CSV_HEADER + "1.5,2.0,a,yes\n2.5,3.0,b,no\n", "text/csv")}


# Requests for routes that take a query, a body or a form; every other route is called bare. A route
# whose call fails FastAPI's validation (an API 400 "invalid request at …", the console's bad-form
# page) makes the test fail: give it a recipe here, so that its service is reached.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("POST", "/parties"): lambda s, i: [Call(json={"name": "x", "kind": "hospital", "role": "provider"})],
    ("GET", "/datasets"): lambda s, i: [Call(), Call(params={"owner": s.owner})],
    ("POST", "/datasets"): lambda s, i: [
        Call(data={"title": "derived", "license": "CC-BY-4.0", "derived_from": i.dataset}, files=csv_file())
    ],
    ("PUT", "/datasets/{dataset_id}/metadata"): lambda s, i: [Call(json={"description": "mine now"})],
    ("GET", "/search"): lambda s, i: [Call(params={"q": WORD}), Call(params={"q": WORD, "owner": s.owner})],
    ("POST", "/demands"): lambda s, i: [Call(json={"title": "t", "fields": ["x1"], "purpose": "research"})],
    ("POST", "/datasets/{dataset_id}/classification/overrides"): lambda s, i: [
        Call(json={"field": "x1", "type": "cn_mobile", "reason": "probe"})
    ],
    ("POST", "/datasets/{dataset_id}/quality"): lambda s, i: [Call(json={})],
    ("POST", "/datasets/{dataset_id}/anonymize"): lambda s, i: [
        Call(json={"qi": ["grp"], "sensitive": ["label"], "k": 2, "check": True})
    ],
    ("POST", "/offers"): lambda s, i: [
        Call(json={"dataset_id": i.dataset, "tier": "L4", "purposes": ["research"], "price": 0})
    ],
    ("GET", "/offers"): lambda s, i: [Call(), Call(params={"dataset": i.dataset})],
    ("POST", "/offers/{offer_id}/contracts"): lambda s, i: [Call(json={"purpose": "research"})],
    ("GET", "/contracts"): lambda s, i: [Call(), Call(params={"dataset": i.dataset})],
    ("POST", "/contracts/{contract_id}/approve"): lambda s, i: [Call(json={})],
    ("POST", "/contracts/{contract_id}/reject"): lambda s, i: [Call(json={})],
    ("POST", "/contracts/{contract_id}/revoke"): lambda s, i: [Call(json={})],
    ("POST", "/datasets/{dataset_id}/consent-withdrawals"): lambda s, i: [Call(json={"subject_key": "1.5"})],
    ("GET", "/delta-sharing/files/{contract_id}/{name}"): lambda s, i: [
        Call(params={"exp": "9999999999", "sig": "AAAA"})
    ],
    ("HEAD", "/delta-sharing/files/{contract_id}/{name}"): lambda s, i: [
        Call(params={"exp": "9999999999", "sig": "AAAA"})
    ],
    ("POST", "/contracts/{contract_id}/psi"): lambda s, i: [
        Call(json={"mode": "count", "id_type": "cn_mobile", "column": "x1", "request": "AAAA"})
    ],
    ("POST", "/contracts/{contract_id}/psi/then"): lambda s, i: [
        Call(json={"id_type": "cn_mobile", "column": "x1", "sql": "SELECT COUNT(*) FROM t", "epsilon": 0.5})
    ],
    ("POST", "/psi/sessions/{session_id}/finish"): lambda s, i: [
        Call(json={"setup": "AAAA", "response": "AAAA", "consumer_items": 1, "ticket": "AAAA"})
    ],
    ("POST", "/contracts/{contract_id}/compute"): lambda s, i: [Call(json={"recipe": RECIPE})],
    ("POST", "/wallets/{party_id}/deposits"): lambda s, i: [Call(json={"amount_fen": 100})],
    ("POST", "/products"): lambda s, i: [
        Call(json={"title": "mine", "dataset_ids": [s.public_dataset, i.dataset], "split": "rows"})
    ],
    ("POST", "/valuations"): lambda s, i: [
        Call(data={"target_id": i.dataset, "target": "label"}, files={"validation": csv_file()["file"]})
    ],
    ("GET", "/ledger"): lambda s, i: [Call(), Call(params={"party_id": s.owner})],
    ("POST", "/contracts/{contract_id}/query"): lambda s, i: [
        Call(json={"sql": "SELECT COUNT(*) AS n FROM data", "epsilon": 0.5})
    ],
    ("PUT", "/datasets/{dataset_id}/privacy"): lambda s, i: [Call(json={"unit": "row"})],
    ("GET", "/log/consistency"): lambda s, i: [
        Call(params={"old": s.checkpoints[0], "new": s.checkpoints[1]})
    ],
    # the console
    ("POST", "/login"): lambda s, i: [Call(data={"token": "dxt_unknown"})],
    ("GET", "/"): lambda s, i: [Call(), Call(params={"q": WORD})],
    ("GET", "/catalog"): lambda s, i: [Call(), Call(params={"q": WORD})],
    ("GET", "/auditor/consistency"): lambda s, i: [
        Call(params={"old": s.checkpoints[0], "new": s.checkpoints[1]})
    ],
    ("POST", "/provider/datasets"): lambda s, i: [
        Call(data={"title": "x", "license": "CC-BY-4.0"}, files=csv_file("rows.exe"))  # refused at once
    ],
    ("POST", "/provider/datasets/{dataset_id}/describe"): lambda s, i: [
        Call(data={"description": "mine now", "visibility": "public"})
    ],
    ("POST", "/provider/offers"): lambda s, i: [
        Call(data={"dataset_id": i.dataset, "tier": "L4", "purposes": "research"})
    ],
    ("POST", "/provider/privacy"): lambda s, i: [Call(data={"dataset_id": i.dataset, "unit": "row"})],
    ("POST", "/offers/{offer_id}/request"): lambda s, i: [Call(data={"purpose": "research"})],
    ("POST", "/consumer/query"): lambda s, i: [
        Call(data={"contract_id": i.contract, "sql": "SELECT COUNT(*) AS n FROM data", "epsilon": "0.5"})
    ],
    ("POST", "/consumer/contracts/{contract_id}/compute"): lambda s, i: [Call(data={"recipe": RECIPE})],
}


def path_values(scene: Scene, ids: Ids) -> dict[str, str]:
    """What fills each path parameter: the private objects' ids (or unknown ones), else a fixed value."""
    return {
        "dataset_id": ids.dataset,
        "table": ids.dataset,
        "offer_id": ids.offer,
        "contract_id": ids.contract,
        "share": ids.contract,
        "job_id": ids.job,
        "product_id": ids.product,
        "demand_id": scene.demand,  # a demand the private dataset matches
        "party_id": scene.owner,
        "index": str(scene.log_index),  # the private dataset's registration entry
        "schema": SHARING_SCHEMA,
        "name": "model.onnx",
        "session_id": "psi_" + "0" * 16,
        "task_id": "upl_" + "0" * 16,
        "locale": "en",
        "decision": "approve",
    }


def served_routes() -> list[tuple[str, str, bool]]:
    """``(method, path, is_web)`` of every route the server serves, read off a throwaway node's app."""
    with tempfile.TemporaryDirectory(prefix="dataex-routes-") as tmp:
        ex, _operator = Exchange.init(home=Path(tmp) / "node")
        try:
            return sorted(
                (method, route.path, "web" in route.tags)
                for route in flat_routes(full_app(ex).routes)
                if isinstance(route, APIRoute)
                for method in route.methods
            )
        finally:
            ex.close()


def route_params() -> list[Any]:
    out = []
    for method, path, web in served_routes():
        for who in STRANGERS:
            marks = [
                pytest.mark.xfail(strict=True, reason=reason)
                for reason, leaks in ((POLICY_POINT, LEAKS), (PUBLIC_LOG, LOG_LEAKS))
                if who in leaks.get((method, path), frozenset())
            ]
            out.append(pytest.param(method, path, web, who, id=f"{method} {path} as {who}", marks=marks))
    return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """The node the strangers probe, built once; each test works on its own copy (``probed``)."""
    root = tmp_path_factory.mktemp("private-scene")
    home = root / "node"
    ex, _operator = Exchange.init(home=home)
    with ex:
        hospital, _ = ex.create_party("Ruijin Hospital", kind="hospital", role="provider")
        partner, _ = ex.create_party("Ping An Health", kind="insurer", role="consumer")
        tokens = {
            "provider": ex.create_party("Rival Hospital", kind="hospital", role="provider")[1],
            "consumer": ex.create_party("Stranger Insurer", kind="insurer", role="consumer")[1],
        }
        public = ex.register(
            sensor_csv(root / "public.csv", 1), owner=hospital.id, title="plant", license="CC-BY-4.0"
        )
        private = ex.register(
            sensor_csv(root / "private.csv", 2),
            owner=hospital.id,
            title=TITLE,
            license="CC-BY-4.0",
            visibility="private",  # its registration entry publishes commitments only (docs/log.md)
        )
        dataset_id = private.dataset.id
        describe(ex, dataset_id, actor=hospital, visibility="public")
        # offered, contracted and joined while public, then made private again: the objects stay
        offer = create_offer(ex, dataset_id, actor=hospital, tier="L4", purposes=["research"], price=0)
        contract = lifecycle.request_contract(ex, offer.id, actor=partner, purpose="research")
        lifecycle.approve_contract(ex, contract.id, actor=hospital)
        job = jobs.submit(ex, partner, contract.id, RECIPE)  # left queued
        product = create_product(
            ex,
            title="plant and ward",
            dataset_ids=[public.dataset.id, dataset_id],
            split="rows",
            actor=hospital,
        )
        demand = post_demand(
            ex, actor=partner, title="sensor rows", fields=["x1", "x2", "label"], purpose="research"
        )
        describe(ex, dataset_id, actor=hospital, visibility="private", description=f"{WORD} readings")
        sizes = checkpoint_sizes(ex)
        return Scene(
            home=home,
            private=Ids(dataset_id, offer.id, contract.id, job.id, product.id),
            public_dataset=public.dataset.id,
            owner=hospital.id,
            demand=demand.id,
            log_index=private.dataset.log_index,
            checkpoints=(sizes[0], sizes[-1]),
            tokens=tokens,
        )


@pytest.fixture
def probed(scene: Scene, tmp_path: Path) -> Iterator[Exchange]:
    """A copy of the scene's node: what one stranger's calls change stays in this test."""
    home = tmp_path / "node"
    shutil.copytree(scene.home, home)
    with Exchange.open(home=home) as ex:
        yield ex


@dataclass
class Answer:
    status: int
    media: str
    body: Any
    text: str


ENVELOPE_KEYS = frozenset({"ok", "code", "status", "error", "errorCode", "message"})


def shape(value: Any) -> Any:
    """The structure of a JSON body: keys and types; the error envelope's fields with their values."""
    if isinstance(value, dict):
        return {k: v if k in ENVELOPE_KEYS else shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def answer(response: Any, ids: Ids) -> Answer:
    text = ids.masked(response.text)
    media = response.headers.get("content-type", "").split(";")[0].strip()
    body: Any = text
    if media in ("application/json", "application/ld+json") and text:  # HEAD: headers only
        body = shape(json.loads(text))
    return Answer(response.status_code, media, body, response.text)


def difference(got: Answer, want: Answer) -> str:
    """Where two answers part: the status and media type, else the first line of the body that differs."""
    if (got.status, got.media) != (want.status, want.media):
        return f"{got.status} {got.media} {got.body!s:.400} | unknown: {want.status} {want.body!s:.400}"
    mine, other = (
        json.dumps(a.body, indent=1).splitlines() if a.media.endswith("json") else str(a.body).splitlines()
        for a in (got, want)
    )
    for n, (a, b) in enumerate(zip(mine, other, strict=False)):
        if a != b:
            return f"{got.status}, line {n}: {a.strip()!r} | unknown: {b.strip()!r}"
    return f"{got.status}: {len(mine)} lines | unknown: {len(other)} lines"


def validation_failed(a: Answer, web: bool) -> bool:
    if web:
        return a.status in (400, 403) and (
            "The form is missing a field or has a bad value." in a.text or "The form expired" in a.text
        )
    return (
        a.status == 400
        and isinstance(a.body, dict)
        and str(a.body.get("error", "")).startswith("invalid request at")
    )


def call(client: TestClient, method: str, path: str, c: Call, *, web: bool, token: str, csrf: str) -> Any:
    headers = {"Accept": "text/html"} if web else {"Authorization": f"Bearer {token}"}
    data = c.data
    if web and method == "POST":
        data = {**(data or {}), "csrf": csrf}
    return client.request(
        method,
        path,
        params=c.params,
        json=c.json,
        data=data,
        files=c.files,
        headers=headers,
        follow_redirects=False,
    )


def signed_in(client: TestClient, token: str) -> str:
    """Signs ``client`` in to the console with ``token``; returns the session's CSRF token."""
    first = client.get("/login", headers={"Accept": "text/html"})
    r = client.post(
        "/login",
        data={"token": token, "csrf": csrf_of(first.text)},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/login", headers={"Accept": "text/html"}).text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def fill(path: str, values: dict[str, str]) -> str:
    missing = [name for name in re.findall(r"{(\w+)}", path) if name not in values]
    assert not missing, f"{path}: no value for {missing}; add it to path_values() in {__name__}"
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def test_the_scene_hides_the_private_dataset_from_strangers_only(scene: Scene, probed: Exchange) -> None:
    """The control: the owner sees the private dataset, the strangers see the public one, not it."""
    owner = probed.get_party(scene.owner)
    assert probed.get_dataset(scene.private.dataset, viewer=owner).title == TITLE
    with TestClient(create_app(probed)) as client:
        for token in scene.tokens.values():
            auth = {"Authorization": f"Bearer {token}"}
            assert client.get(f"/datasets/{scene.public_dataset}", headers=auth).status_code == 200
            hidden = client.get(f"/datasets/{scene.private.dataset}", headers=auth)
            assert (hidden.status_code, hidden.json()["code"]) == (404, "dataset_not_found")


@pytest.mark.parametrize(("method", "path", "web", "who"), route_params())
def test_a_private_dataset_answers_strangers_as_an_unknown_id(
    scene: Scene, probed: Exchange, method: str, path: str, web: bool, who: str
) -> None:
    private, unknown = scene.private, scene.private.unknown()
    token = scene.tokens[who]
    recipe = RECIPES.get((method, path), lambda s, i: [Call()])
    problems: list[str] = []
    with TestClient(create_app(probed)) as client:
        csrf = signed_in(client, token) if web else ""
        for n, (mine, other) in enumerate(zip(recipe(scene, private), recipe(scene, unknown), strict=True)):
            url = fill(path, path_values(scene, private))
            got = answer(call(client, method, url, mine, web=web, token=token, csrf=csrf), private)
            where = f"{method} {url} (call {n}) as the {who}"
            if validation_failed(got, web):
                problems.append(f"{where}: the request fails validation; give it a recipe in RECIPES")
            if TITLE in got.text:
                problems.append(f"{where} shows the private dataset's title")
            if not private.named_in(f"{url} {mine}"):  # nothing private asked: nothing private told
                if private.dataset in got.text and (method, path) not in PUBLIC_LOG_IDS:
                    problems.append(f"{where} shows the private dataset's id")
                continue
            unknown_url = fill(path, path_values(scene, unknown))
            want = answer(call(client, method, unknown_url, other, web=web, token=token, csrf=csrf), unknown)
            if (got.status, got.media, got.body) != (want.status, want.media, want.body):
                problems.append(f"{where} does not answer as for unknown ids: {difference(got, want)}")
    assert not problems, "\n".join(problems)
