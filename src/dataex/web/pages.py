"""Sign-in, catalog, dataset and auditor pages: parse, call the same service the API calls, render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from dataex.api.deps import ExchangeDep
from dataex.catalog import demand as demands
from dataex.catalog.metadata import get_metadata
from dataex.catalog.search import search
from dataex.contracts.offers import list_offers
from dataex.errors import NotFound, Unauthorized
from dataex.privacy.classify import find_classification
from dataex.quality.service import get_report
from dataex.web import i18n, session
from dataex.web.deps import CSRF, Auditor, SignedIn
from dataex.web.render import render

router = APIRouter(tags=["web"], include_in_schema=False)
PAGE = 20


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": local_path(next), "failed": False})


@router.post("/login", dependencies=CSRF)
def login(
    request: Request, ex: ExchangeDep, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    try:
        party = ex.authenticate(token.strip())
    except Unauthorized:
        return render(request, "login.html", {"next": local_path(next), "failed": True}, status=401)
    session.replace(request, session.fresh(party.id))
    response = RedirectResponse(local_path(next), status_code=303)
    session.write_cookie(request, response)
    return response


@router.post("/logout", dependencies=CSRF)
def logout(request: Request) -> Response:
    session.replace(request, session.fresh())
    response = RedirectResponse("/login", status_code=303)
    session.write_cookie(request, response)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str = "/") -> Response:
    if locale not in i18n.LOCALES:
        raise NotFound(f"unknown language {locale!r}; use one of {', '.join(i18n.LOCALES)}")
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


@router.get("/")
@router.get("/catalog")
def catalog(request: Request, ex: ExchangeDep, party: SignedIn, q: str = "") -> Response:
    result = search(ex, q, actor=party) if q.strip() else None
    hits = result.hits if result else []
    context = {
        "q": q,
        "result": result,
        "rows": {h.dataset_id: ex.get_dataset(h.dataset_id).rows for h in hits},
        "owners": {h.owner_id: ex.get_party(h.owner_id).name for h in hits},
        "demands": demands.list_demands(ex),
    }
    return render(request, "catalog.html", context, party=party)


@router.get("/dataset/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, ex: ExchangeDep, party: SignedIn) -> Response:
    meta = get_metadata(ex, dataset_id, viewer=party)  # refuses a private dataset like the API
    try:
        quality = get_report(ex, dataset_id, viewer=party)
    except NotFound:
        quality = None
    classification = find_classification(ex, dataset_id)
    dataset = ex.get_dataset(dataset_id)
    context = {
        "d": dataset,
        "owner": ex.get_party(dataset.owner_id).name,
        "meta": meta,
        "sensitivity": {f["name"]: f for f in classification.fields} if classification else {},
        "quality": quality,
        "offers": list_offers(ex, dataset_id=dataset_id),
    }
    return render(request, "dataset.html", context, party=party)


@router.post("/dataset/{dataset_id}/verify", dependencies=CSRF)
def verify_certificate(request: Request, dataset_id: str, ex: ExchangeDep, party: SignedIn) -> Response:
    result = ex.verify_certificate(ex.get_dataset(dataset_id).certificate)
    return render(request, "_verify.html", {"result": result}, party=party)


@router.get("/auditor")
def auditor(
    request: Request, ex: ExchangeDep, party: Auditor, page: Annotated[int, Query(ge=0)] = 0
) -> Response:
    with ex.session() as s:  # the log service works inside a session its caller owns
        size = ex.log.size(s)
        entries = ex.log.entries(s, page * PAGE, PAGE)
    context = {
        "checkpoint": ex.latest_checkpoint(),
        "entries": entries,
        "page": page,
        "pages": max(1, -(-size // PAGE)),
        "size": size,
    }
    return render(request, "auditor.html", context, party=party)


@router.post("/auditor/entries/{index}/verify", dependencies=CSRF)
def verify_entry(request: Request, index: int, ex: ExchangeDep, party: Auditor) -> Response:
    return render(request, "_inclusion.html", {"proof": ex.prove_inclusion(index)}, party=party)
