"""Every route of the HTTP API is public by design, operator-only, or passes through authorize().

Routers are discovered from ``dataex.api.routes`` (every module with a ``router``), so a router
added by anyone is checked too. To classify a new route, either
* guard it: depend on ``dataex.api.deps.Operator`` (operator only) or on
  ``dataex.api.deps.authorized(action)`` (runs ``authorize()``; data routes), or
* for the Delta Sharing protocol (``dataex.api.routes.sharing``): depend on its ``share_token``
  (a contract's share token; the sharing service authenticates it and runs ``authorize()``) or on
  its ``presigned`` (a pre-signed file URL; the service verifies the HMAC and expiry, then runs
  ``authorize()``), or
* list it below: in PUBLIC (no token) or PARTY_SCOPED (a token, and a service that checks the party
  against the object and logs refusals), with the reason.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

import dataex.api.routes
from dataex.api import deps
from dataex.api.app import create_app
from dataex.web import deps as web_deps
from dataex.web import mount_web
from dataex.web import session as web_session
from tests.conftest import Node

LOG = "the transparency log is public: auditors verify it without trusting the operator"
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/.well-known/dataex/node-key"): "the node's public key verifies certificates and checkpoints",
    ("GET", "/log/checkpoint"): LOG,
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


# -- WEB: the console's pages (dataex.web), mounted on the same app by ``mount_web`` ---------------
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


def full_app(node: Node) -> FastAPI:
    """``create_app`` plus every router under ``dataex.api.routes`` it does not include yet, and the
    web console if ``create_app`` does not mount it yet."""
    app = create_app(node.ex)
    if not any(getattr(r, "path", None) == "/login" for r in app.routes):
        mount_web(app, node.ex)
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
        if getattr(call, "__dataex_authorize__", None):
            return "authorize"
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
    app = full_app(sqlite_node)
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
                f"{method} {route.path} is unclassified: depend on deps.Operator or on "
                "api.deps.authorized(action) (data access goes through authorize()), "
                f"or list it in PUBLIC / PARTY_SCOPED in {__name__} with the reason"
            )
    stale = sorted((set(PUBLIC) | set(PARTY_SCOPED) | set(WEB_PUBLIC) | set(WEB_SIGNED_IN)) - seen)
    problems += [f"{m} {p} is listed but no longer exists: remove it from the allow-list" for m, p in stale]
    assert problems == []


def test_the_authorize_guard_is_recognized_and_denies(sqlite_node: Node) -> None:
    from fastapi import Depends
    from fastapi.testclient import TestClient

    from dataex.api.deps import authorized
    from dataex.contracts.authorize import Decision

    app = create_app(sqlite_node.ex)

    @app.get("/datasets/{dataset_id}/probe")
    def probe(decision: Decision = Depends(authorized("extract"))) -> dict[str, str]:
        return {"rule": decision.rule}

    route = next(r for r in flat_routes(app.routes) if isinstance(r, APIRoute) and r.path.endswith("/probe"))
    assert guard(route) == "authorize"
    client = TestClient(app)
    auditor, token = sqlite_node.ex.create_party("Auditor", kind="government", role="auditor")
    r = client.get("/datasets/ds_x/probe", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["code"] == "access_denied"
    assert r.json()["details"]["rule"] == "dataset.unknown"
    assert auditor.role == "auditor"


def test_the_delta_sharing_routes_use_the_share_mechanisms(sqlite_node: Node) -> None:
    app = full_app(sqlite_node)
    kinds = {
        route.path: guard(route)
        for route in flat_routes(app.routes)
        if isinstance(route, APIRoute) and route.path.startswith("/delta-sharing")
    }
    assert kinds["/delta-sharing/files/{contract_id}/{name}"] == "presigned"
    assert {k for p, k in kinds.items() if "/files/" not in p} == {"share_token"}
    assert len(kinds) == 9
