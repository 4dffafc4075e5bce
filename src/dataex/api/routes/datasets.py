"""Datasets: list, show, register by upload, certificate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.api.models import CertificateOut, DatasetPublic, Registered
from dataex.api.routes.catalog import ViewerDep
from dataex.catalog import datasets
from dataex.catalog.datasets import Dataset
from dataex.catalog.upload import parse_rights, register_upload

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.get("", response_model=list[DatasetPublic])
def list_datasets(ex: ExchangeDep, party: CurrentParty, owner: str | None = None) -> list[Dataset]:
    """The datasets the party may see (another party's private ones are omitted)."""
    return datasets.list_datasets(ex, owner=owner, viewer=party)


@router.get("/{dataset_id}", response_model=DatasetPublic)
def show_dataset(dataset_id: str, ex: ExchangeDep, party: CurrentParty) -> Dataset:
    """One dataset; another party's private one answers 404 ``dataset_not_found``, as an unknown id."""
    return datasets.get_dataset(ex, dataset_id, viewer=party)


@router.get("/{dataset_id}/certificate", response_model=CertificateOut)
def certificate(dataset_id: str, ex: ExchangeDep, who: ViewerDep) -> dict[str, str]:
    """The registration certificate (no token needed for a public dataset)."""
    return {"id": dataset_id, "certificate": datasets.get_dataset(ex, dataset_id, viewer=who).certificate}


@router.post(
    "",
    response_model=Registered,
    status_code=201,
    responses={413: {"description": "The file is larger than the node's upload limit (`file_too_large`)"}},
)
def register(
    ex: ExchangeDep,
    party: CurrentParty,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()],
    license: Annotated[str, Form()],
    rights: Annotated[str, Form()] = "holding,processing_use,product_operation",
    derived_from: Annotated[str | None, Form()] = None,
    owner: Annotated[str | None, Form()] = None,
    visibility: Annotated[Literal["public", "private"], Form()] = "public",
) -> dict[str, Any]:
    """Registers the uploaded file (the service the web console's upload calls), then analyzes it."""
    done = register_upload(
        ex,
        file.file,
        filename=file.filename,
        actor=party,
        title=title,
        license=license,
        rights=parse_rights(rights),
        derived_from=derived_from,
        owner=owner,
        visibility=visibility,
    )
    d = done.dataset
    return {
        "id": d.id,
        "digest": d.digest,
        "rows": d.rows,
        "created": done.created,
        "log_index": d.log_index,
        "certificate": d.certificate,
    }
