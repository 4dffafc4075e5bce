"""Compute jobs: persistent records, their one transition function, charging, restart recovery.

States: ``queued → running → succeeded | failed | killed`` (:data:`TRANSITIONS`); every
transition commits with its log entry (``compute.job.<state>``). :func:`submit` authorizes
``compute`` on the contract's dataset, checks the recipe against the dataset (refusals logged as
``compute.refused``, nothing charged) and queues the job; :func:`run_job` runs it in a worker
process (:mod:`dataex.compute.runner`) and, only when it succeeded, charges the contract — one
query, plus ε for a DP model — in ``budget.charge`` before the outputs become visible. A killed job
pays no ε and no query, only a per-job price if the offer has one; a failed job pays nothing.
:func:`recover` marks jobs whose supervising process is gone ``failed`` (not charged).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import select

from dataex.compute import recipes
from dataex.compute.runner import supervise
from dataex.contracts import budget, odrl
from dataex.contracts.consent import consented_source
from dataex.db.models import (
    ClassificationRow,
    ComputeJobRow,
    ContractRow,
    DatasetRow,
    DpSettingsRow,
    OrderRow,
)
from dataex.engines.sql import quote_ident
from dataex.errors import (
    DataexError,
    IntegrityError,
    InvalidTransition,
    JobNotFound,
    RecipeRefused,
)
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.market.settlement import charge_usage
from dataex.policy import authorize, check

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

JobState = Literal["queued", "running", "succeeded", "failed", "killed"]
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    "queued": ("running", "failed"),
    "running": ("succeeded", "failed", "killed"),
}
FINAL: Final = frozenset({"succeeded", "failed", "killed"})
STALE_AFTER: Final = timedelta(seconds=60)
OUTPUTS: Final = ("model.onnx", "metrics.json", "model_card.json")


@dataclass(frozen=True)
class Job:
    """A compute job as its consumer (and the dataset's owner, the operator, auditors) see it."""

    id: str
    contract_id: str
    dataset_id: str
    consumer_id: str
    state: str
    reason: str | None
    recipe: dict[str, Any]
    limits: dict[str, Any]
    metrics: dict[str, Any]
    outputs: dict[str, Any]
    usage: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, r: ComputeJobRow) -> Job:
        return cls(
            r.id, r.contract_id, r.dataset_id, r.consumer_id, r.state, r.reason, dict(r.recipe),
            dict(r.limits), dict(r.metrics), dict(r.outputs), dict(r.usage), r.created_at,
            r.started_at, r.finished_at,
        )  # fmt: skip


def supervisor_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_dir(node: Node, job_id: str) -> Path:
    return Path(node.settings.home, "jobs", job_id)


def transition(
    s: Session, node: Node, row: ComputeJobRow, to: str, *, actor: str, data: dict[str, Any] | None = None
) -> None:
    """Moves ``row`` to ``to`` and appends ``compute.job.<to>`` in the caller's transaction."""
    if to not in TRANSITIONS.get(row.state, ()):
        raise InvalidTransition(
            f"job {row.id} is {row.state}; it cannot become {to}",
            contract_id=row.contract_id,
            state=row.state,
            event=to,
        )
    row.state = to
    now = utc_now()
    if to == "running":
        row.started_at = now
    if to in FINAL:
        row.finished_at = now
    record = {"job_id": row.id, "contract_id": row.contract_id, "dataset_id": row.dataset_id, "state": to}
    node.log.append(s, f"compute.job.{to}", record | (data or {}), actor=actor)
    node.log.checkpoint(s)


def submit(node: Node, party: Party, contract_id: str, recipe_source: str | dict[str, Any]) -> Job:
    """Authorizes and checks a recipe, then queues the job; see the module docstring."""
    recover(node)
    decision = authorize(node, party, "compute", None, {"contract_id": contract_id}).raise_if_denied()
    dataset_id = str(decision.object_id)  # the contract's dataset
    try:
        recipe = recipes.parse(recipe_source)
        _check(node, recipe, contract_id, dataset_id)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "compute.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    eps_nano = 0 if recipe.epsilon is None else budget.to_units(recipe.epsilon, odrl.EPSILON_SCALE, "epsilon")
    with node.transaction() as s:
        row = ComputeJobRow(
            id=new_id("job"), contract_id=contract_id, dataset_id=dataset_id, consumer_id=party.id,
            recipe=recipe.to_dict(), limits=dict(recipe.limits), state="queued", reason=None,
            epsilon_nano=eps_nano, supervisor=supervisor_id(), heartbeat_at=utc_now(), metrics={},
            outputs={}, usage={}, created_at=utc_now(), started_at=None, finished_at=None,
        )  # fmt: skip
        s.add(row)
        s.flush()
        summary = {
            "model": recipe.model,
            "task": recipe.task,
            "features": recipe.features,
            "target": recipe.target,
        }
        node.log.append(
            s,
            "compute.job.queued",
            {"job_id": row.id, "contract_id": contract_id, "dataset_id": dataset_id, "state": "queued"}
            | {
                "recipe": summary,
                "recipe_sha256": hashlib.sha256(recipes.canonical_json(recipe).encode()).hexdigest(),
            },
            actor=party.id,
        )
        node.log.checkpoint(s)
        return Job.of(row)


def _check(node: Node, recipe: recipes.Recipe, contract_id: str, dataset_id: str) -> None:
    with node.session() as s:
        dataset = s.get(DatasetRow, dataset_id)
        contract = s.get(ContractRow, contract_id)
        assert dataset is not None and contract is not None
        classification = s.get(ClassificationRow, dataset_id)
        fields = classification.fields if classification else []
        facts = recipes.DatasetFacts(
            dataset_id,
            {str(c["name"]): str(c["type"]) for c in dataset.columns},
            {str(f["name"]): str(f.get("type")) for f in fields},
            {str(f["name"]): str(f.get("category")) for f in fields},
        )
        path = node.store.url(dataset.file_sha256)
        left = contract.remaining_epsilon_nano
        settings = s.get(DpSettingsRow, dataset_id)
        bounded = set(settings.bounds) if settings else set()
    if recipe.dp:
        unbounded = [
            f for f in recipe.features if recipes.numeric(facts.types.get(f, "")) and f not in bounded
        ]
        if unbounded:
            raise RecipeRefused(
                f"a DP model needs declared bounds for numeric features {unbounded} (the provider sets "
                "them with `dataex privacy set --bounds`)",
                field="features",
            )
    classes = None
    if recipe.task == "classification" and recipe.target in facts.types:
        import duckdb

        with duckdb.connect() as con:
            got = con.execute(
                f"SELECT COUNT(DISTINCT {quote_ident(recipe.target)}) FROM read_parquet(?)",
                [path],
            ).fetchone()
        classes = int(got[0]) if got else 0
    recipes.check(recipe, facts, target_classes=classes)
    if recipe.dp and left is not None:
        need = budget.to_units(recipe.epsilon or 0, odrl.EPSILON_SCALE, "epsilon")
        if left < need:
            raise RecipeRefused(
                f"contract {contract_id} has {left / odrl.EPSILON_SCALE:g} ε left; "
                f"the DP model needs {recipe.epsilon:g}",
                field="epsilon",
            )


def run_job(node: Node, job_id: str) -> Job:
    """Runs a queued job to its end in a worker process (blocking); returns its final record."""
    with node.transaction() as s:
        row = _row(s, job_id)
        transition(s, node, row, "running", actor="node", data={"limits": row.limits})
        row.supervisor, row.heartbeat_at = supervisor_id(), utc_now()
        limits, recipe, contract_id, dataset_id = (
            dict(row.limits),
            dict(row.recipe),
            row.contract_id,
            row.dataset_id,
        )
        dataset = s.get(DatasetRow, dataset_id)
        assert dataset is not None
        settings = s.get(DpSettingsRow, dataset_id)
        spec = {
            "job_id": job_id,
            "recipe": recipe,
            "data_path": consented_source(node, dataset.id).path,
            "bounds": dict(settings.bounds) if settings else {},
            "domains": dict(settings.domains) if settings else {},
            "dataset": {"id": dataset.id, "digest": dataset.digest, "rows": dataset.rows},
        }
    work = job_dir(node, job_id)
    shutil.rmtree(work, ignore_errors=True)
    (work / "out").mkdir(parents=True)
    spec["out_dir"] = str(work / "out")
    (work / "spec.json").write_text(json.dumps(spec))

    def beat(_pid: int) -> None:
        with node.transaction() as s:
            r = _row(s, job_id)
            r.heartbeat_at = utc_now()

    outcome = supervise(work, limits=limits, heartbeat=beat)
    usage = {"wall_seconds": round(outcome.wall_seconds, 3), "cpu_seconds": round(outcome.cpu_seconds, 3)}
    if outcome.state == "succeeded":
        return _succeed(node, job_id, contract_id, recipe, work, outcome.result, usage)
    return _end(node, job_id, outcome.state, outcome.reason, usage, contract_id=contract_id)


def _succeed(
    node: Node, job_id: str, contract_id: str, recipe: dict[str, Any], work: Path, result: dict[str, Any],
    usage: dict[str, Any],
) -> Job:  # fmt: skip
    outputs = {}
    for name in OUTPUTS:
        data = (work / "out" / name).read_bytes()
        outputs[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        charge = budget.charge(
            node, contract_id, epsilon=_epsilon_to_charge(node, contract_id, recipe), queries=1, actor="node"
        )
    except DataexError as e:
        shutil.rmtree(work / "out", ignore_errors=True)
        return _end(node, job_id, "failed", f"not charged, outputs discarded: {e.message}", usage)
    usage |= {"epsilon": charge.epsilon, "queries": 1}
    with node.transaction() as s:
        row = _row(s, job_id)
        row.metrics, row.outputs, row.usage = dict(result.get("metrics", {})), outputs, usage
        _job_fee(s, node, contract_id)
        mia = result.get("membership_inference", {})
        transition(
            s, node, row, "succeeded", actor="node",
            data={"outputs": outputs, "metrics": row.metrics, "usage": usage, "membership_inference": mia},
        )  # fmt: skip
        return Job.of(row)


def _epsilon_to_charge(node: Node, contract_id: str, recipe: dict[str, Any]) -> float:
    """The DP model's ε when the contract carries an ε budget; today only L1 offers do, and compute
    needs L2, so on an L2 contract the ε is recorded (log, model card) but there is no budget to charge."""
    with node.session() as s:
        contract = s.get(ContractRow, contract_id)
        has_budget = contract is not None and contract.remaining_epsilon_nano is not None
    return float(recipe.get("epsilon") or 0) if has_budget else 0.0


def _job_fee(s: Session, node: Node, contract_id: str) -> None:
    """MARKET HOOK: a per-job price. ``budget.charge`` above already settled one query (an offer
    priced per query prices each job that way); only a ``job``-unit price is posted here."""
    order = s.scalars(select(OrderRow).where(OrderRow.contract_id == contract_id)).first()
    if order is not None and dict(order.price).get("unit") == "job":
        charge_usage(s, contract_id, jobs=1, actor="node", log=node.log)


def _end(
    node: Node,
    job_id: str,
    state: str,
    reason: str | None,
    usage: dict[str, Any],
    *,
    contract_id: str | None = None,
) -> Job:
    with node.transaction() as s:
        row = _row(s, job_id)
        row.reason, row.usage = reason, usage
        if state == "killed" and contract_id is not None:
            _job_fee(s, node, contract_id)
        transition(s, node, row, state, actor="node", data={"reason": reason, "usage": usage})
        return Job.of(row)


def _row(s: Session, job_id: str) -> ComputeJobRow:
    row = s.scalars(select(ComputeJobRow).where(ComputeJobRow.id == job_id).with_for_update()).first()
    if row is None:
        raise JobNotFound(job_id)
    return row


def recover(node: Node, *, now: datetime | None = None) -> list[str]:
    """Marks ``failed`` (not charged) every unfinished job whose supervisor is gone; returns their ids.

    Gone: a process on this host that no longer exists, or no heartbeat for ``STALE_AFTER``.
    """
    now = now or utc_now()
    host = socket.gethostname()
    with node.session() as s:
        rows = list(s.scalars(select(ComputeJobRow).where(ComputeJobRow.state.in_(("queued", "running")))))
        dead = [r.id for r in rows if _gone(r, host, now)]
    for job_id in dead:
        with node.transaction() as s:
            row = _row(s, job_id)
            if row.state in FINAL:
                continue
            row.reason = "interrupted: the node stopped while the job was unfinished (not charged)"
            transition(s, node, row, "failed", actor="node", data={"reason": row.reason})
    return dead


def _gone(row: ComputeJobRow, host: str, now: datetime) -> bool:
    if row.heartbeat_at is None or now - row.heartbeat_at > STALE_AFTER:
        return True
    who, _, pid = (row.supervisor or "").rpartition(":")
    if who != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def get_job(node: Node, job_id: str, *, actor: Party) -> Job:
    """The job, for its consumer, the dataset's owner, the operator and auditors (else not found)."""
    recover(node)
    check(node, actor, "read_job", job_id)
    with node.session() as s:
        row = s.get(ComputeJobRow, job_id)
        if row is None:
            raise JobNotFound(job_id)
        return Job.of(row)


def output_path(node: Node, job_id: str, name: str, *, actor: Party) -> Path:
    """An output file of a succeeded job, for the job's consumer only."""
    check(node, actor, "read_job_output", job_id)
    job = get_job(node, job_id, actor=actor)
    if job.state != "succeeded" or name not in job.outputs:
        raise InvalidTransition(
            f"job {job_id} has no output {name!r} (state {job.state}; outputs: {sorted(job.outputs)})",
            contract_id=job.contract_id,
            state=job.state,
            event="download",
        )
    path = job_dir(node, job_id) / "out" / name
    if hashlib.sha256(path.read_bytes()).hexdigest() != job.outputs[name]["sha256"]:
        raise IntegrityError(f"output {name} of job {job_id} does not match its logged SHA-256")
    return path
