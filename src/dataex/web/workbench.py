"""Provider and consumer pages: parse the form, call the service the API calls, redirect or render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from dataex.api.deps import ExchangeDep
from dataex.api.routes.datasets import register as register_upload
from dataex.contracts import lifecycle
from dataex.contracts.offers import create_offer, list_offers
from dataex.identity.parties import Party
from dataex.privacy.dp import query, set_privacy
from dataex.privacy.dp.service import Answer
from dataex.web.deps import CSRF, Consumer, Provider, SignedIn
from dataex.web.render import render

router = APIRouter(tags=["web"], include_in_schema=False)


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def yuan(text: str) -> str:
    """A price typed in yuan (``20``, ``0.02/row``) as the offers service reads yuan: with a point."""
    number, slash, unit = text.strip().partition("/")
    number = number.strip()
    if number and "." not in number:
        number += ".0"
    return f"{number}{slash}{unit.strip()}"


def words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("，", ",").split(",") if w.strip()]


# -- provider ----------------------------------------------------------------------------------
@router.get("/provider")
def provider(request: Request, ex: ExchangeDep, party: Provider) -> Response:
    contracts = [c for c in lifecycle.list_contracts(ex, actor=party) if c.provider_id == party.id]
    context = {
        "datasets": ex.list_datasets(owner=party.id),
        "offers": list_offers(ex, provider_id=party.id),
        "inbox": [c for c in contracts if c.state == "requested"],
        "decided": [c for c in contracts if c.state != "requested"],
    }
    return render(request, "provider.html", context, party=party)


@router.post("/provider/datasets", dependencies=CSRF)
def upload(
    ex: ExchangeDep,
    party: Provider,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()],
    license: Annotated[str, Form()],
) -> Response:
    registered = register_upload(ex, party, file, title, license)  # the API's upload path, same checks
    return see_other(f"/dataset/{registered['id']}")


@router.post("/provider/offers", dependencies=CSRF)
def new_offer(
    ex: ExchangeDep,
    party: Provider,
    dataset_id: Annotated[str, Form()],
    tier: Annotated[str, Form()],
    purposes: Annotated[str, Form()],
    price: Annotated[str, Form()] = "0",
    epsilon: Annotated[str, Form()] = "",
    approval: Annotated[str, Form()] = "manual",
) -> Response:
    options: dict[str, Any] = {"epsilon": epsilon.strip()} if epsilon.strip() else {}
    create_offer(
        ex,
        dataset_id,
        actor=party,
        tier=tier,
        purposes=words(purposes),
        price=yuan(price),
        approval=approval,
        **options,
    )
    return see_other("/provider")


@router.post("/provider/privacy", dependencies=CSRF)
def privacy_settings(
    ex: ExchangeDep,
    party: Provider,
    dataset_id: Annotated[str, Form()],
    unit: Annotated[str, Form()],
    max_contributions: Annotated[int, Form(ge=1)] = 1,
) -> Response:
    set_privacy(ex, dataset_id, actor=party, unit=unit.strip(), max_contributions=max_contributions)
    return see_other("/provider")


@router.post("/provider/contracts/{contract_id}/{decision}", dependencies=CSRF)
def decide(
    contract_id: str,
    decision: str,
    ex: ExchangeDep,
    party: Provider,
    reason: Annotated[str, Form()] = "",
) -> Response:
    act = {"approve": lifecycle.approve_contract, "reject": lifecycle.reject_contract}.get(decision)
    if act is None:
        return see_other("/provider")
    act(ex, contract_id, actor=party, reason=reason.strip() or None)
    return see_other("/provider")


# -- consumer ----------------------------------------------------------------------------------
@router.post("/offers/{offer_id}/request", dependencies=CSRF)
def request_contract(
    offer_id: str,
    ex: ExchangeDep,
    party: SignedIn,
    purpose: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    lifecycle.request_contract(ex, offer_id, actor=party, purpose=purpose.strip(), note=note.strip())
    return see_other("/consumer")


def consumer_page(
    request: Request, ex: ExchangeDep, party: Party, answer: Answer | None = None, sql: str = ""
) -> Response:
    mine = [c for c in lifecycle.list_contracts(ex, actor=party) if c.consumer_id == party.id]
    context = {
        "contracts": mine,
        "offers": {o.id: o for o in list_offers(ex)},
        "live": [c for c in mine if c.state == "active"],
        "answer": answer,
        "answer_sql": sql,
    }
    return render(request, "consumer.html", context, party=party)


@router.get("/consumer")
def consumer(request: Request, ex: ExchangeDep, party: Consumer) -> Response:
    return consumer_page(request, ex, party)


@router.post("/consumer/query", dependencies=CSRF)
def dp_query(
    request: Request,
    ex: ExchangeDep,
    party: Consumer,
    contract_id: Annotated[str, Form()],
    sql: Annotated[str, Form()],
    epsilon: Annotated[float, Form(gt=0)],
) -> Response:
    answer = query(ex, contract_id, sql, epsilon=epsilon, actor=party)
    return consumer_page(request, ex, party, answer, sql)
