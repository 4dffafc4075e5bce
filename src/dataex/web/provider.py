"""Provider pages: upload and register (in the background, with progress), describe, offers,
privacy unit, the requests inbox and the revenue statement. Each handler parses the form, calls
the service the API calls, and redirects or renders."""

from __future__ import annotations

import tempfile
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from dataex.catalog import datasets
from dataex.catalog import upload as uploads
from dataex.catalog.metadata import RAI_TERMS, describe, get_metadata
from dataex.contracts import budget, lifecycle
from dataex.contracts.offers import create_offer, list_offers
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.market import settlement
from dataex.policy import check
from dataex.privacy.dp import set_privacy
from dataex.web.deps import CSRF, ExchangeDep, Provider
from dataex.web.forms import lines, see_other, words, yuan
from dataex.web.render import render
from dataex.web.tasks import Report, Tasks

router = APIRouter(tags=["web"], include_in_schema=False)
RAI_FORM = ("data_collection", "use_cases", "limitations", "biases", "personal_sensitive_information")
"""The Croissant RAI properties the describe form offers (the API and CLI take every one)."""


@router.get("/provider")
def provider(request: Request, ex: ExchangeDep, party: Provider) -> Response:
    contracts = [c for c in lifecycle.list_contracts(ex, actor=party) if c.provider_id == party.id]
    mine = ex.list_datasets(owner=party.id)
    context = {
        "datasets": mine,
        "accounts": {d.id: budget.get_account(ex, d.id, viewer=party) for d in mine},
        "offers": list_offers(ex, viewer=party, provider_id=party.id),
        "inbox": [c for c in contracts if c.state == "requested"],
        "decided": [c for c in contracts if c.state != "requested"],
        "wallet": settlement.wallet_view(ex, party.id, actor=party),
        "statement": settlement.ledger_statement(ex, actor=party),
    }
    return render(request, "provider.html", context, party=party)


# -- upload and register, in the background ----------------------------------------------------
def tasks_of(request: Request) -> Tasks:
    registry: Tasks = request.app.state.web_tasks
    return registry


@router.post("/provider/datasets", dependencies=CSRF)
def upload(
    request: Request,
    ex: ExchangeDep,
    party: Provider,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form(min_length=1, max_length=500)],
    license: Annotated[str, Form(min_length=1, max_length=100)],
    visibility: Annotated[Literal["public", "private"], Form()] = "public",
) -> Response:
    """Checks the form, keeps a private copy of the file, and registers it in the background
    (``private``: never published; the public log carries commitments)."""
    name, _suffix = uploads.check_upload_name(file.filename)
    limit = ex.settings.max_upload_bytes
    ex.settings.staging_dir.mkdir(parents=True, exist_ok=True)
    copy = tempfile.TemporaryFile(dir=ex.settings.staging_dir)  # noqa: SIM115 - closed by the task
    try:
        uploads.copy_limited(file.file, copy, max_bytes=limit)
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    task = tasks_of(request).start(
        party.id, title, lambda report: _register(ex, party, copy, name, title, license, visibility, report)
    )
    return see_other(f"/provider/uploads/{task.id}")


def _register(
    ex: Exchange,
    party: Party,
    copy: IO[bytes],
    name: str,
    title: str,
    license: str,
    visibility: str,
    report: Report,
) -> str:
    with copy:
        done = uploads.register_upload(
            ex,
            copy,
            filename=name,
            actor=party,
            title=title,
            license=license,
            progress=report,
            visibility=visibility,
        )
    return done.dataset.id


@router.get("/provider/uploads/{task_id}")
def upload_page(request: Request, task_id: str, party: Provider) -> Response:
    task = tasks_of(request).get(task_id, party_id=party.id)
    return render(request, "upload.html", {"task": task}, party=party)


@router.get("/provider/uploads/{task_id}/progress")
def upload_progress(request: Request, task_id: str, party: Provider) -> Response:
    """The progress fragment htmx polls; when the dataset is ready, htmx goes to its page."""
    task = tasks_of(request).get(task_id, party_id=party.id)
    response = render(request, "_progress.html", {"task": task}, party=party)
    if task.dataset_id and request.headers.get("HX-Request"):
        response.headers["HX-Redirect"] = f"/dataset/{task.dataset_id}"
    return response


# -- describe ------------------------------------------------------------------------------------
@router.get("/provider/datasets/{dataset_id}/describe")
def describe_form(request: Request, dataset_id: str, ex: ExchangeDep, party: Provider) -> Response:
    dataset = datasets.get_dataset(ex, dataset_id, viewer=party)
    check(ex, party, "describe", dataset_id)
    context = {"d": dataset, "meta": get_metadata(ex, dataset_id, viewer=party), "rai_keys": RAI_FORM}
    return render(request, "describe.html", context, party=party)


@router.post("/provider/datasets/{dataset_id}/describe", dependencies=CSRF)
async def describe_dataset(request: Request, dataset_id: str, ex: ExchangeDep, party: Provider) -> Response:
    """Every field of the form is sent: an empty one clears that part of the metadata."""
    form = await request.form()
    text = {k: v for k, v in form.items() if isinstance(v, str)}
    changes: dict[str, Any] = {
        "description": text.get("description", ""),
        "keywords": words(text.get("keywords", "")),
        "temporal_coverage": text.get("temporal_coverage", ""),
        "spatial_coverage": text.get("spatial_coverage", ""),
        "languages": words(text.get("languages", "")),
        "visibility": text.get("visibility", "public"),
        "fields": {k[6:]: v for k, v in text.items() if k.startswith("field.")},
        "semantic_types": {k[5:]: v.strip() for k, v in text.items() if k.startswith("type.") and v.strip()},
        "rai": {key: _rai_value(key, text.get(f"rai.{key}", "")) for key in RAI_FORM},
    }
    await run_in_threadpool(lambda: describe(ex, dataset_id, actor=party, **changes))
    return see_other(f"/dataset/{dataset_id}")


def _rai_value(key: str, value: str) -> str | list[str] | None:
    if not value.strip():
        return None
    return lines(value) if RAI_TERMS[key].many else value.strip()


# -- offers, privacy, requests ---------------------------------------------------------------------
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
