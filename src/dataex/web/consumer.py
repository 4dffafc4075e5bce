"""Consumer pages: contracts with their meters, the DP query console (with its explain view),
extracts and Delta Sharing profiles, compute and PSI jobs, the wallet. Each handler parses the
form, calls the service the API (or CLI) calls with the signed-in party, and renders."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from dataex.compute import jobs
from dataex.contracts import lifecycle
from dataex.contracts.offers import list_offers
from dataex.delivery import extracts, sharing
from dataex.identity.parties import Party
from dataex.market import settlement
from dataex.privacy.dp import query
from dataex.privacy.dp.service import Answer
from dataex.web import queries
from dataex.web.deps import CSRF, Consumer, ExchangeDep, SignedIn
from dataex.web.forms import see_other
from dataex.web.render import render

router = APIRouter(tags=["web"], include_in_schema=False)
MEDIA = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv", "xlsx": "application/vnd.ms-excel"}


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
    request: Request,
    ex: ExchangeDep,
    party: Party,
    *,
    answer: Answer | None = None,
    sql: str = "",
    epsilon: float = 0.5,
) -> Response:
    mine = [c for c in lifecycle.list_contracts(ex, actor=party) if c.consumer_id == party.id]
    live = [c for c in mine if c.state == "active"]
    context = {
        "contracts": mine,
        "offers": {o.id: o for o in list_offers(ex, viewer=party)},
        "live": live,
        "dp_live": [c for c in live if c.remaining.get("epsilon") is not None],
        "extractable": [c for c in live if c.tier in ("L3", "L4")],
        "computable": [c for c in live if c.tier in ("L2", "L3", "L4")],
        "answer": answer,
        "answer_sql": sql,
        "epsilon": epsilon,
        "jobs": queries.consumer_jobs(ex, party.id),
        "psi": queries.consumer_psi(ex, party.id),
        "deliveries": queries.consumer_extracts(ex, party.id),
        "wallet": settlement.wallet_view(ex, party.id, actor=party),
        "formats": extracts.FORMATS,
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
    sql: Annotated[str, Form(min_length=1, max_length=20_000)],
    epsilon: Annotated[float, Form(gt=0)],
    explain: Annotated[str, Form()] = "",
) -> Response:
    """Runs the query (charging ε), or with ``explain`` shows its plan without charging."""
    answer = query(ex, contract_id, sql, epsilon=epsilon, actor=party, explain=bool(explain))
    return consumer_page(request, ex, party, answer=answer, sql=sql, epsilon=epsilon)


@router.post("/consumer/contracts/{contract_id}/extract", dependencies=CSRF)
def extract(
    contract_id: str, ex: ExchangeDep, party: Consumer, format: Annotated[str, Form()] = "parquet"
) -> Response:
    """A fingerprinted extract of the contract's rows, downloaded as a file (charged in rows)."""
    ex.settings.staging_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="web-extract-", dir=ex.settings.staging_dir))
    try:
        result = extracts.extract(
            ex, contract_id, actor=party, out=folder / f"{contract_id}.{format}", format=format
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        filename=result.path.name,
        media_type=MEDIA.get(format, "application/octet-stream"),
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.post("/consumer/contracts/{contract_id}/profile", dependencies=CSRF)
def sharing_profile(request: Request, contract_id: str, ex: ExchangeDep, party: Consumer) -> Response:
    """A Delta Sharing profile (a new bearer token; the previous one stops working), as a file."""
    endpoint = str(request.base_url).rstrip("/") + sharing.PREFIX
    profile = sharing.issue_profile(ex, contract_id, actor=party, endpoint=endpoint)
    return Response(
        json.dumps(profile, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{contract_id}.share"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/consumer/contracts/{contract_id}/compute", dependencies=CSRF)
def compute(
    contract_id: str,
    tasks: BackgroundTasks,
    ex: ExchangeDep,
    party: Consumer,
    recipe: Annotated[str, Form(min_length=1, max_length=20_000)],
) -> Response:
    """Submits a compute-to-data job (checked now) and runs it after the response, as the API does."""
    job = jobs.submit(ex, party, contract_id, recipe)
    tasks.add_task(jobs.run_job, ex, job.id)
    return see_other(f"/consumer/jobs/{job.id}")


@router.get("/consumer/jobs/{job_id}")
def job_page(request: Request, job_id: str, ex: ExchangeDep, party: Consumer) -> Response:
    job = jobs.get_job(ex, job_id, actor=party)
    template = "_job.html" if request.headers.get("HX-Request") else "job.html"
    return render(request, template, {"job": job, "final": job.state in jobs.FINAL}, party=party)
