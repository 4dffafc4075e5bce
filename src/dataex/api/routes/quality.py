"""Quality reports: read (public view unless owner/operator), HTML, and (re)evaluate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.quality_models import QualityReportOut, QualityRequest
from dataex.catalog.metadata import ANONYMOUS, Viewer
from dataex.quality import evaluate, get_report, get_report_html

router = APIRouter(prefix="/datasets", tags=["quality"])
_optional_bearer = HTTPBearer(auto_error=False, description="A party's API token (optional)")


def viewer(
    ex: ExchangeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]
) -> Viewer:
    """The authenticated party, or ``"anonymous"`` without a token (public view)."""
    return ex.authenticate(credentials.credentials) if credentials else ANONYMOUS


ViewerDep = Annotated[Viewer, Depends(viewer)]


@router.get("/{dataset_id}/quality", response_model=QualityReportOut)
def show_quality(dataset_id: str, ex: ExchangeDep, who: ViewerDep) -> dict[str, Any]:
    return get_report(ex, dataset_id, viewer=who)


@router.get("/{dataset_id}/quality.html", response_class=HTMLResponse)
def show_quality_html(dataset_id: str, ex: ExchangeDep, who: ViewerDep) -> HTMLResponse:
    return HTMLResponse(get_report_html(ex, dataset_id, viewer=who))


@router.post("/{dataset_id}/quality", response_model=QualityReportOut)
def evaluate_quality(
    dataset_id: str, body: QualityRequest, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    evaluate(ex, dataset_id, rules_text=body.rules, target=body.target, actor=party)
    return get_report(ex, dataset_id, viewer=party)
