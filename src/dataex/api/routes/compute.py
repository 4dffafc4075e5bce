"""PSI and compute-to-data routes: each handler parses, calls one service, returns.

The contract names the dataset: the PSI and compute services run ``authorize(psi)`` /
``authorize(compute)`` on the contract's dataset themselves (logged either way). Jobs are readable
by their consumer, the dataset's owner, the operator and auditors; outputs are downloadable by the
consumer only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import FileResponse

from dataex.api.compute_models import (
    ComputeRequest,
    JobPublic,
    PsiSessionPublic,
    PsiSessionRequest,
    PsiThenAnswer,
    PsiThenFinish,
    PsiThenStart,
    PsiThenStarted,
)
from dataex.api.deps import CurrentParty, ExchangeDep
from dataex.compute import jobs
from dataex.compute.jobs import Job
from dataex.privacy.psi.client import LocalTransport

router = APIRouter(tags=["psi and compute"])


@router.post("/contracts/{contract_id}/psi", response_model=PsiSessionPublic)
def psi_session(
    contract_id: str, body: PsiSessionRequest, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    reply = LocalTransport(ex, party).session(contract_id, body.model_dump())
    return reply | {"contract_id": contract_id, "mode": body.mode, "id_type": body.id_type}


@router.post("/contracts/{contract_id}/psi/then", response_model=PsiThenStarted)
def psi_then_start(
    contract_id: str, body: PsiThenStart, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    return LocalTransport(ex, party).then_start(contract_id, body.model_dump())


@router.post("/psi/sessions/{session_id}/finish", response_model=PsiThenAnswer)
def psi_then_finish(
    session_id: str, body: PsiThenFinish, ex: ExchangeDep, party: CurrentParty
) -> dict[str, Any]:
    return LocalTransport(ex, party).then_finish(session_id, body.model_dump())


@router.post("/contracts/{contract_id}/compute", response_model=JobPublic, status_code=202)
def compute(
    contract_id: str, body: ComputeRequest, tasks: BackgroundTasks, ex: ExchangeDep, party: CurrentParty
) -> Job:
    job = jobs.submit(ex, party, contract_id, body.recipe)
    tasks.add_task(jobs.run_job, ex, job.id)
    return job


@router.get("/jobs/{job_id}", response_model=JobPublic)
def job(job_id: str, ex: ExchangeDep, party: CurrentParty) -> Job:
    return jobs.get_job(ex, job_id, actor=party)


@router.get(
    "/jobs/{job_id}/outputs/{name}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def job_output(job_id: str, name: str, ex: ExchangeDep, party: CurrentParty) -> FileResponse:
    return FileResponse(jobs.output_path(ex, job_id, name, actor=party), filename=name)
