"""Auditor pages: the signed checkpoint, the log in pages, inclusion and consistency proofs, and
the statistics of refused accesses. Auditors (and the operator) only; the log is read through the
same ``Exchange`` methods as the API's ``/log`` routes."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dataex.web import queries
from dataex.web.deps import CSRF, Auditor, ExchangeDep
from dataex.web.render import render

router = APIRouter(tags=["web"], include_in_schema=False)
PAGE: Final = 20


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
        "checkpoints": queries.checkpoint_sizes(ex),
        "denials": queries.denial_statistics(ex, auditor=party),
    }
    return render(request, "auditor.html", context, party=party)


@router.post("/auditor/entries/{index}/verify", dependencies=CSRF)
def verify_entry(request: Request, index: int, ex: ExchangeDep, party: Auditor) -> Response:
    return render(request, "_inclusion.html", {"proof": ex.prove_inclusion(index)}, party=party)


@router.get("/auditor/consistency")
def consistency(
    request: Request,
    ex: ExchangeDep,
    party: Auditor,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> Response:
    """The consistency proof between the checkpoints of sizes ``old`` and ``new``, checked."""
    proof = ex.prove_consistency(old, new)
    template = "_consistency.html" if request.headers.get("HX-Request") else "consistency.html"
    return render(request, template, {"proof": proof}, party=party)
