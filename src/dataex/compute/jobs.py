"""Compute jobs: persistent records, their one transition function, charging, restart recovery.

States: ``queued → running → succeeded | failed | killed`` (:data:`TRANSITIONS`); every
transition commits with its log entry (``compute.job.<state>``). :func:`submit` authorizes
``compute`` on the contract's dataset, checks the recipe against the dataset (refusals logged as
``compute.refused``, nothing charged) and, under the node's concurrency caps (per consumer and per
node, :mod:`dataex.compute.settings`), queues the job. :func:`run_job` charges the contract **before
the worker starts** — one query, plus the ε of a DP model — with ``budget.authorize_and_charge``
(which re-decides ``compute`` under the contract's lock), then runs the job in a worker process
(:mod:`dataex.compute.runner`). A job that then succeeds, fails or is killed at its limits has paid
what it touched: nothing is refunded, so a job killed at its limits cannot be repeated for free. A
non-DP model whose measured membership-inference advantage exceeds the node's threshold is not
released (``failed``, outputs deleted). :func:`recover` marks jobs whose supervising process is gone
``failed``.
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
from dataex.compute.settings import ComputeSettings, compute_settings
from dataex.contracts import budget, odrl
from dataex.contracts.consent import consented_source
from dataex.db.models import (
    ClassificationRow,
    ComputeJobRow,
    ContractRow,
    DatasetRow,
    DpSettingsRow,
    NodeRow,
    OrderRow,
)
from dataex.engines.sql import quote_ident
from dataex.errors import (
    DataexError,
    IntegrityError,
    InvalidTransition,
    JobLimitReached,
    JobNotFound,
    RecipeRefused,
)
from dataex.identity.parties import Party, get_party, new_id
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
    """Authorizes and checks a recipe, then queues the job under the caps; see the module docstring."""
    recover(node)
    decision = authorize(node, party, "compute", None, {"contract_id": contract_id}).raise_if_denied()
    dataset_id = str(decision.object_id)  # the contract's dataset
    settings = compute_settings()
    try:
        recipe = recipes.parse(recipe_source)
        _check(node, recipe, contract_id, dataset_id, settings)
        return _queue(node, party, contract_id, dataset_id, recipe, settings)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "compute.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise


def _queue(
    node: Node, party: Party, contract_id: str, dataset_id: str, recipe: recipes.Recipe,
    settings: ComputeSettings,
) -> Job:  # fmt: skip
    """Stores the job ``queued`` unless a cap is reached; the count and the insert share one lock."""
    eps_nano = 0 if recipe.epsilon is None else budget.to_units(recipe.epsilon, odrl.EPSILON_SCALE, "epsilon")
    with node.transaction() as s:
        s.scalars(select(NodeRow).with_for_update()).first()  # serializes submits (PostgreSQL)
        active = list(
            s.scalars(select(ComputeJobRow.consumer_id).where(ComputeJobRow.state.in_(("queued", "running"))))
        )
        mine = sum(1 for c in active if c == party.id)
        if mine >= settings.max_jobs_per_party:
            raise JobLimitReached(
                f"you have {mine} unfinished compute jobs; the node runs at most "
                f"{settings.max_jobs_per_party} per consumer at once: wait for one to end",
                limit=settings.max_jobs_per_party,
                scope="party",
            )
        if len(active) >= settings.max_jobs_per_node:
            raise JobLimitReached(
                f"the node runs at most {settings.max_jobs_per_node} compute jobs at once; try again later",
                limit=settings.max_jobs_per_node,
                scope="node",
            )
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


def _facts(node: Node, dataset_id: str) -> tuple[recipes.DatasetFacts, str, DpSettingsRow | None]:
    """The dataset's facts for :func:`recipes.check`, its file and its privacy declaration."""
    with node.session() as s:
        dataset = s.get(DatasetRow, dataset_id)
        assert dataset is not None
        classification = s.get(ClassificationRow, dataset_id)
        fields = classification.fields if classification else []
        settings = s.get(DpSettingsRow, dataset_id)
        if settings is not None:
            s.expunge(settings)
        facts = recipes.DatasetFacts(
            dataset_id,
            {str(c["name"]): str(c["type"]) for c in dataset.columns},
            {str(f["name"]): str(f.get("type")) for f in fields},
            {str(f["name"]): str(f.get("category")) for f in fields} if classification else None,
            {str(k): [str(v) for v in vs] for k, vs in dict(settings.domains).items()} if settings else {},
        )
        return facts, node.store.url(dataset.file_sha256), settings


def _check(
    node: Node, recipe: recipes.Recipe, contract_id: str, dataset_id: str, settings: ComputeSettings
) -> None:
    facts, path, privacy = _facts(node, dataset_id)
    with node.session() as s:
        contract = s.get(ContractRow, contract_id)
        assert contract is not None
        left = contract.remaining_epsilon_nano
    if recipe.dp:
        bounded = set(privacy.bounds) if privacy else set()
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
    if (
        recipe.task == "classification"
        and recipe.target in facts.types
        and recipes.target_domain(facts, recipe.target) is None
    ):
        import duckdb

        cap = settings.max_classes + 1  # count no further than one past the cap
        with duckdb.connect() as con:
            got = con.execute(
                f"SELECT COUNT(*) FROM (SELECT DISTINCT {quote_ident(recipe.target)} FROM read_parquet(?) "
                f"LIMIT {cap})",
                [path],
            ).fetchone()
        classes = int(got[0]) if got else 0
    recipes.check(recipe, facts, target_classes=classes, settings=settings)
    if recipe.dp:
        need = budget.to_units(recipe.epsilon or 0, odrl.EPSILON_SCALE, "epsilon")
        if left is None:
            raise RecipeRefused(
                f"contract {contract_id} carries no ε budget: a DP model's ε is charged to the contract, "
                "so it needs an offer with an ε budget (`dataex offer create … --tier L2 --epsilon E`)",
                field="epsilon",
            )
        if left < need:
            raise RecipeRefused(
                f"contract {contract_id} has {left / odrl.EPSILON_SCALE:g} ε left; "
                f"the DP model needs {recipe.epsilon:g}",
                field="epsilon",
            )


def run_job(node: Node, job_id: str) -> Job:
    """Charges, then runs a queued job to its end in a worker process (blocking); its final record."""
    with node.session() as s:
        queued = s.get(ComputeJobRow, job_id)
        if queued is None:
            raise JobNotFound(job_id)
        contract_id, consumer_id, eps_nano = queued.contract_id, queued.consumer_id, queued.epsilon_nano
        consumer = get_party(s, consumer_id)
    epsilon = eps_nano / odrl.EPSILON_SCALE
    try:  # decided again and charged under the contract's lock, before any row is read
        charge = budget.authorize_and_charge(
            node, consumer, "compute", contract_id, epsilon=f"{epsilon:.9f}", queries=1
        )
    except DataexError as e:
        return _end(node, job_id, "failed", f"not started, nothing charged: {e.message}", {})
    charged = {"epsilon": charge.epsilon, "queries": 1}
    settings = compute_settings()
    with node.transaction() as s:
        row = _row(s, job_id)
        transition(s, node, row, "running", actor="node", data={"limits": row.limits, "charged": charged})
        row.supervisor, row.heartbeat_at, row.usage = supervisor_id(), utc_now(), dict(charged)
        limits, recipe, dataset_id = dict(row.limits), dict(row.recipe), row.dataset_id
        dataset = s.get(DatasetRow, dataset_id)
        assert dataset is not None
        privacy = s.get(DpSettingsRow, dataset_id)
        classification = s.get(ClassificationRow, dataset_id)
        categories = [str(f.get("category")) for f in classification.fields] if classification else None
        spec = {
            "job_id": job_id,
            "recipe": recipe,
            "data_path": consented_source(node, dataset.id).path,
            "bounds": dict(privacy.bounds) if privacy else {},
            "domains": dict(privacy.domains) if privacy else {},
            "personal": categories is None or any(c != "non_personal" for c in categories),
            "unit": privacy.unit if privacy else "row",
            "max_contributions": int(privacy.max_contributions) if privacy else 1,
            "floors": {"min_samples_leaf": settings.min_samples_leaf, "max_depth": settings.max_depth},
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
    usage = charged | {
        "wall_seconds": round(outcome.wall_seconds, 3),
        "cpu_seconds": round(outcome.cpu_seconds, 3),
    }
    if outcome.state == "succeeded":
        blocked = _membership_blocked(recipe, outcome.result, settings)
        if blocked:
            shutil.rmtree(work / "out", ignore_errors=True)
            return _end(node, job_id, "failed", blocked, usage)
        return _succeed(node, job_id, contract_id, work, outcome.result, usage)
    return _end(node, job_id, outcome.state, outcome.reason, usage, contract_id=contract_id)


def _membership_blocked(recipe: dict[str, Any], result: dict[str, Any], settings: ComputeSettings) -> str:
    """Why a non-DP model is withheld: its measured membership advantage is over the node's threshold."""
    if recipe.get("model") in recipes.DP_MODELS:
        return ""
    advantage = result.get("mia_advantage")
    if advantage is None or float(advantage) <= settings.max_mia_advantage:
        return ""
    return (
        f"release blocked: the model's membership-inference advantage ({float(advantage):.2f}) exceeds the "
        f"node's threshold ({settings.max_mia_advantage:g}); outputs deleted (charged: the job ran)"
    )


def _succeed(
    node: Node, job_id: str, contract_id: str, work: Path, result: dict[str, Any], usage: dict[str, Any]
) -> Job:
    outputs = {}
    for name in OUTPUTS:
        data = (work / "out" / name).read_bytes()
        outputs[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
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


def _job_fee(s: Session, node: Node, contract_id: str) -> None:
    """MARKET HOOK: a per-job price. ``authorize_and_charge`` already settled one query (an offer
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
            row.reason = "interrupted: the node stopped while the job was unfinished" + (
                " (charged when it started; not refunded)" if row.state == "running" else " (not charged)"
            )
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
