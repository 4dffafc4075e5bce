"""Extracts over HTTP: an L3/L4 contract's consumer downloads its fingerprinted rows.

``POST /contracts/{id}/extract?format=parquet`` runs the delivery service
(:func:`dataex.delivery.extracts.extract`) exactly as ``dataex extract`` and ``dataex.open()`` do: it
authorizes (``authorize(extract)``, logged either way), embeds the contract's fingerprint, charges the
rows not charged before and logs ``extract.delivered``; then the file it wrote is streamed back from
a staging directory that is removed once sent. POST, not GET: every call creates a logged extract.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.delivery import extracts

router = APIRouter(tags=["delivery"])
Format = Literal["parquet", "csv", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADERS: dict[str, str] = {
    "X-Dataex-Extract-Id": "The extract's id (its `extract.delivered` log entry names it)",
    "X-Dataex-Rows": "Rows delivered",
    "X-Dataex-Rows-Charged": "Rows charged by this extract (rows delivered before are not charged again)",
    "X-Dataex-Sha256": "SHA-256 of the file, as logged",
    "X-Dataex-Log-Index": "Index of the `extract.delivered` log entry",
}
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The contract's fingerprinted rows, as a file",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()
        },
        "headers": {
            name: {"description": text, "schema": {"type": "string"}} for name, text in HEADERS.items()
        },
    }
}


@router.post(
    "/contracts/{contract_id}/extract", response_class=FileResponse, responses=DOCUMENTED, response_model=None
)
def extract(
    contract_id: str,
    ex: ExchangeDep,
    party: CurrentParty,
    format: Annotated[Format, Query(description="parquet, csv or xlsx")] = "parquet",
) -> FileResponse:
    cleanup = ExitStack()
    staged = cleanup.enter_context(ex.staging.work())
    try:
        r = extracts.extract(
            ex, contract_id, actor=party, out=staged.dir / f"extract.{format}", format=format
        )
    except BaseException:
        cleanup.close()
        raise
    values = (r.id, r.rows, r.rows_charged, r.sha256, r.log_index)
    return FileResponse(
        r.path,
        media_type=MEDIA_TYPES[format],
        filename=f"{r.contract_id}.{format}",
        headers={name: str(v) for name, v in zip(HEADERS, values, strict=True)},
        background=BackgroundTask(cleanup.close),
    )
