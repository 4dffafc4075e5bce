"""Classification: read it (any party: it holds no values) and override a field (owner or operator)."""

from __future__ import annotations

from fastapi import APIRouter

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.privacy_models import ClassificationOut, OverrideIn
from dataex.privacy import classify as service
from dataex.privacy.classify import Classification

router = APIRouter(prefix="/datasets", tags=["privacy"])


@router.get("/{dataset_id}/classification", response_model=ClassificationOut)
def get_classification(dataset_id: str, ex: ExchangeDep, party: CurrentParty) -> Classification:
    return service.get_classification(ex, dataset_id, viewer=party)


@router.post("/{dataset_id}/classification/overrides", response_model=ClassificationOut)
def override_field(dataset_id: str, body: OverrideIn, ex: ExchangeDep, party: CurrentParty) -> Classification:
    return service.override(ex, dataset_id, body.field, body.type, reason=body.reason, actor=party.id)
