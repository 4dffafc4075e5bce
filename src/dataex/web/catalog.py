"""Catalog (search, filters, demand board) and dataset pages: the services the API's search,
metadata, quality and offers routes call, with the signed-in party as the viewer."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dataex.catalog import datasets
from dataex.catalog import demand as demands
from dataex.catalog.metadata import get_metadata
from dataex.catalog.search import Filters, search
from dataex.contracts.odrl import TIERS
from dataex.contracts.offers import list_offers
from dataex.errors import NotFound
from dataex.privacy.classify import find_classification
from dataex.privacy.grading import GRADES as SENSITIVITY_GRADES
from dataex.quality.service import get_report
from dataex.web import charts, queries
from dataex.web.deps import CSRF, ExchangeDep, SignedIn
from dataex.web.forms import choice
from dataex.web.render import render, translator

router = APIRouter(tags=["web"], include_in_schema=False)
PAGE: Final = 20
QUALITY_GRADES: Final = ("A", "B", "C", "D")
DIMENSIONS: Final = ("normativity", "completeness", "accuracy", "consistency", "timeliness", "accessibility")
"""The GB/T 36344 dimensions, in the order the quality report and the charts use."""


@router.get("/")
@router.get("/catalog")
def catalog(
    request: Request,
    ex: ExchangeDep,
    party: SignedIn,
    q: str = "",
    license: str = "",
    tier: str = "",
    grade: str = "",
    sensitivity: str = "",
    page: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    filters = Filters(
        license=license.strip().lower() or None,
        tier=choice(tier, TIERS, "tier"),
        quality_grade=choice(grade, QUALITY_GRADES, "quality grade"),
        sensitivity=choice(sensitivity, SENSITIVITY_GRADES, "sensitivity grade"),
    )
    snippets: dict[str, str] = {}
    if q.strip():
        result = search(ex, q, limit=PAGE, offset=page * PAGE, actor=party, **_search_filters(filters))
        ids, total = [h.dataset_id for h in result.hits], result.total
        snippets = {h.dataset_id: h.snippet for h in result.hits}
    else:
        ids, total = queries.browse(ex, actor=party, filters=filters, limit=PAGE, offset=page * PAGE)
    found = queries.cards(ex, ids)
    context = {
        "q": q,
        "chosen": {
            "license": filters.license or "",
            "tier": tier,
            "grade": grade,
            "sensitivity": sensitivity,
        },
        "options": {
            "license": queries.licenses(ex),
            "tier": TIERS,
            "grade": QUALITY_GRADES,
            "sensitivity": SENSITIVITY_GRADES,
        },
        "cards": [found[i] for i in ids if i in found],
        "snippets": snippets,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "demands": demands.list_demands(ex),
    }
    return render(request, "catalog.html", context, party=party)


def _search_filters(filters: Filters) -> dict[str, Any]:
    return {
        "license": filters.license,
        "tier": filters.tier,
        "quality_grade": filters.quality_grade,
        "sensitivity": filters.sensitivity,
    }


@router.get("/dataset/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, ex: ExchangeDep, party: SignedIn) -> Response:
    dataset = datasets.get_dataset(ex, dataset_id, viewer=party)  # another's private one: 404, as the API
    meta = get_metadata(ex, dataset_id, viewer=party)
    try:
        quality = get_report(ex, dataset_id, viewer=party)
    except NotFound:
        quality = None
    classification = find_classification(ex, dataset_id, viewer=party)
    line = queries.lineage(ex, dataset_id, viewer=party)
    context = {
        "d": dataset,
        "owner": ex.get_party(dataset.owner_id).name,
        "meta": meta,
        "sensitivity": {f["name"]: f for f in classification.fields} if classification else {},
        "quality": quality,
        "lineage": line,
        "offers": list_offers(ex, viewer=party, dataset_id=dataset_id),
        **_charts(request, dataset, quality, line),
    }
    return render(request, "dataset.html", context, party=party)


def _charts(
    request: Request, dataset: Any, quality: dict[str, Any] | None, line: queries.Lineage
) -> dict[str, Any]:
    """The quality radar, the per-dimension and per-field bars and the lineage graph, as SVG."""
    _ = translator(request).gettext
    out: dict[str, Any] = {"radar": None, "dimension_bars": None, "field_bars": None, "lineage_svg": None}
    if quality is not None:
        scores = [(_(d.capitalize()), float(quality["dimensions"].get(d, 0))) for d in DIMENSIONS]
        out["radar"] = charts.radar(scores, title=_("Quality dimensions (GB/T 36344)"))
        out["dimension_bars"] = charts.bars(scores, title=_("Score per dimension"))
        rows = int(quality.get("rows") or 0)
        columns = quality.get("columns") or []
        if rows and columns and all("nulls" in c for c in columns):
            filled = [
                (str(c["name"]), round(100 * (1 - (c["nulls"] + c.get("empties", 0)) / rows), 1))
                for c in columns
            ]
            out["field_bars"] = charts.bars(filled, title=_("Filled values per field (%)"))
    if line.ancestors or line.derived:
        out["lineage_svg"] = charts.lineage(
            line.ancestors, (dataset.id, dataset.title), line.derived, title=_("Lineage")
        )
    return out


@router.post("/dataset/{dataset_id}/verify", dependencies=CSRF)
def verify_certificate(request: Request, dataset_id: str, ex: ExchangeDep, party: SignedIn) -> Response:
    result = ex.verify_certificate(datasets.get_dataset(ex, dataset_id, viewer=party).certificate)
    return render(request, "_verify.html", {"result": result}, party=party)
