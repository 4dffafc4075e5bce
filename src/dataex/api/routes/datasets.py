"""Datasets: list, show, register by upload, certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.models import CertificateOut, DatasetPublic, Registered
from dataex.catalog.datasets import Dataset
from dataex.errors import Forbidden, InvalidInput
from dataex.storage.importer import SUFFIXES

router = APIRouter(prefix="/datasets", tags=["datasets"])
CHUNK = 1 << 20


@router.get("", response_model=list[DatasetPublic])
def list_datasets(ex: ExchangeDep, _party: CurrentParty, owner: str | None = None) -> list[Dataset]:
    return ex.list_datasets(owner=owner)


@router.get("/{dataset_id}", response_model=DatasetPublic)
def show_dataset(dataset_id: str, ex: ExchangeDep, _party: CurrentParty) -> Dataset:
    return ex.get_dataset(dataset_id)


@router.get("/{dataset_id}/certificate", response_model=CertificateOut)
def certificate(dataset_id: str, ex: ExchangeDep) -> dict[str, str]:
    return {"id": dataset_id, "certificate": ex.get_dataset(dataset_id).certificate}


@router.post("", response_model=Registered, status_code=201)
def register(
    ex: ExchangeDep,
    party: CurrentParty,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()],
    license: Annotated[str, Form()],
    rights: Annotated[str, Form()] = "holding,processing_use,product_operation",
    derived_from: Annotated[str | None, Form()] = None,
    owner: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    if not party.is_operator and owner not in (None, party.id):
        raise Forbidden("a party registers data for itself only")
    name = Path(file.filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"unsupported file type {suffix or '(none)'}; upload one of {', '.join(sorted(SUFFIXES))}"
        )
    with ex.staging.work() as work:
        local = work.dir / f"upload{suffix}"
        with local.open("wb") as out:
            while chunk := file.file.read(CHUNK):
                out.write(chunk)
        reg = ex.register(
            local,
            owner=owner or party.id,
            title=title,
            license=license,
            rights=[r.strip() for r in rights.split(",") if r.strip()],
            derived_from=derived_from or None,
            actor=party.id,
            source_name=name,
        )
    d = reg.dataset
    return {
        "id": d.id,
        "digest": d.digest,
        "rows": d.rows,
        "created": reg.created,
        "log_index": d.log_index,
        "certificate": d.certificate,
    }
