"""DP SQL under an L1 contract: authorize → parse → rewrite → charge → execute → noise → cache.

``query(node, contract_id, sql, epsilon=…, actor=…)`` is the only entry point. The contract's ε (and δ
when keys pass a noisy threshold) is charged atomically by :func:`dataex.contracts.budget.charge`
**before** anything is computed or released; a repeated identical query (same contract, same
normalized query, same ε) returns the cached answer and charges nothing, so the noise cannot be
averaged away. ``explain=True`` returns the plan (rewritten SQL, sensitivities, ε split, noise
scales) and charges nothing. Refusals after ``authorize`` allowed the access (bad SQL, ε <= 0,
over budget, missing privacy metadata, unknown column) are logged as ``dp.query.refused``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from dataex.contracts import budget, odrl
from dataex.contracts.consent import dataset_version
from dataex.db.models import ContractRow, DatasetRow, DpAnswerRow, DpSettingsRow
from dataex.engines import Engine, get_engine
from dataex.errors import (
    DataexError,
    InvalidInput,
    QueryRefused,
)
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now
from dataex.policy import authorize
from dataex.privacy.dp import mechanisms
from dataex.privacy.dp.bounding import bounded_source
from dataex.privacy.dp.parse import ParsedQuery, parse
from dataex.privacy.dp.rewrite import VIEW, Plan, plan_query
from dataex.privacy.dp.settings import ROW_UNIT, PrivacySettings, column_types

if TYPE_CHECKING:
    from dataex.node import Node


@dataclass(frozen=True)
class Answer:
    """A released DP answer: one noisy value and one 95% interval per output of every group."""

    contract_id: str
    dataset_id: str
    columns: list[str]
    rows: list[dict[str, Any]]
    intervals: list[dict[str, list[float] | None]]
    epsilon_charged: float
    delta_charged: float
    epsilon_remaining: float | None
    cached: bool
    engine: str
    query_hash: str
    explain: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def query(
    node: Node,
    contract_id: str,
    sql: str,
    *,
    epsilon: float,
    actor: Party,
    engine: str | Engine | None = None,
    explain: bool = False,
) -> Answer:
    """Answers ``sql`` with differential privacy under ``contract_id``; see the module docstring."""
    decision = authorize(node, actor, "dp_query", None, {"contract_id": contract_id}).raise_if_denied()
    dataset_id = str(decision.object_id)  # the contract's dataset
    runner = get_engine(engine)
    try:
        eps_nano = _epsilon_units(epsilon)
        parsed, plan, dataset, settings = _plan(node, dataset_id, sql, epsilon)
        query_hash = parsed.query_hash(dataset.id)
        if explain:
            return _answer(node, contract_id, dataset.id, runner, query_hash, explain=describe(plan, runner))
        # the cache is keyed by the dataset version too: a withdrawal makes earlier answers stale
        cache_key = _cache_key(query_hash, dataset_version(node, dataset.id))
        cached = None if mechanisms.is_exact() else _cached(node, contract_id, cache_key, eps_nano)
        if cached is not None:
            return _answer(node, contract_id, dataset.id, runner, query_hash, cached=cached)
        charge = _charge(node, contract_id, epsilon=epsilon, delta=plan.delta, actor=actor)
    except DataexError as error:
        node.log.refusal(
            node.transaction, "dp.query.refused", error, actor=actor.id, data={"contract_id": contract_id}
        )
        raise
    released = run_plan(runner, plan, bounded_source(node, dataset.id, settings))
    body: dict[str, Any] = {
        "columns": released.columns,
        "rows": released.rows,
        "intervals": released.intervals,
        "epsilon": epsilon,
        "delta": plan.delta,
        "threshold": released.threshold,
        "sql": sql,
    }
    if not mechanisms.is_exact():
        stored = _store(node, contract_id, cache_key, eps_nano, body)
        if stored is not body:  # a concurrent identical query released first: return its answer
            body = stored
    return Answer(
        contract_id=contract_id,
        dataset_id=dataset.id,
        columns=body["columns"],
        rows=body["rows"],
        intervals=body["intervals"],
        epsilon_charged=charge.epsilon,
        delta_charged=charge.delta,
        epsilon_remaining=_float_or_none(charge.remaining.get("epsilon")),
        cached=False,
        engine=runner.name,
        query_hash=query_hash,
        notes=_notes(released.threshold),
    )


def describe(plan: Plan, runner: Engine) -> dict[str, Any]:
    """The ``--explain`` view: rewritten SQL, sensitivities, the ε split and per-value noise."""
    measurements = []
    for m in plan.measurements:
        scale = mechanisms.noise_scale(m)
        entry: dict[str, Any] = {
            "name": m.name,
            "statistic": m.kind,
            "column": None if m.column == "__distinct__" else m.column,
            "distinct_units": m.column == "__distinct__",
            "epsilon": m.epsilon,
            "sensitivity": m.sensitivity * m.step if m.kind == "sum" else m.sensitivity,
        }
        if m.kind == "median":
            entry |= {
                "mechanism": "OpenDP make_noisy_max (report-noisy-max, exponential mechanism)",
                "candidates": len(m.candidates),
                "gumbel_scale": scale,
            }
        else:
            hw = mechanisms.half_width(m.sensitivity / m.epsilon)
            entry |= {
                "mechanism": "OpenDP make_laplace (discrete Laplace, integer vector)",
                "grid_step": m.step,
                "offset": m.offset,
                "laplace_scale": scale,
                "ci95_half_width": hw * m.step,
            }
        measurements.append(entry)
    outputs = [
        {"name": o.name, "kind": o.kind, "column": o.column, "measurements": list(o.measurements)}
        for o in plan.outputs
    ]
    return {
        "engine": runner.name,
        "sql": plan.sql_for(runner.dialect),
        "unit": plan.unit,
        "max_contributions": plan.max_contributions,
        "bounding": "none: each row is its own unit"
        if plan.unit == ROW_UNIT
        else f"the query reads the dataset's contribution-bounded copy: each {plan.unit} keeps at "
        f"most {plan.max_contributions} row(s), chosen by MD5 of the row (docs/dp.md)",
        "epsilon": plan.epsilon,
        "delta": plan.delta,
        "budget_split": "ε split equally over the noisy outputs (and the key threshold); an "
        "output's share split equally over its measurements; a measurement several outputs use "
        "gets the sum of their shares: "
        + ", ".join(f"{m.name} {m.epsilon:.6g}" for m in plan.measurements)
        + f" (total {plan.epsilon:g}, sequential composition); AVG = offset + noisy centered sum / "
        "noisy count (post-processing; the count is the query's COUNT(*) for columns declared not null)",
        "groups": "declared domains, every key released (empty groups too)"
        if plan.domain_complete
        else f"keys without a domain pass OpenDP's Laplace threshold (δ={plan.delta:g}"
        + (f", at least {plan.threshold}" if plan.threshold else "")
        + ")",
        "measurements": measurements,
        "outputs": outputs,
        "charged": False,
    }


def _plan(
    node: Node, dataset_id: str, sql: str, epsilon: float
) -> tuple[ParsedQuery, Plan, DatasetRow, PrivacySettings]:
    parsed = parse(sql)
    with node.session() as s:
        dataset = s.get(DatasetRow, dataset_id)
        assert dataset is not None  # authorize allowed it
        settings_row = s.get(DpSettingsRow, dataset_id)
        settings = None if settings_row is None else PrivacySettings.of(settings_row)
        names = {dataset.id.lower(), _stem(dataset.source_name)}
        if parsed.table.lower() not in names:
            raise QueryRefused(
                f"query refused: FROM {parsed.table} is not this contract's dataset; "
                f"name it {dataset.id} or {_stem(dataset.source_name)}",
                construct="table",
            )
        s.expunge(dataset)
    plan = plan_query(
        parsed,
        settings=settings,
        types=column_types(dataset),
        dataset_id=dataset_id,
        epsilon=epsilon,
        prebounded=True,
    )
    assert settings is not None  # plan_query refuses a dataset without privacy metadata
    return parsed, plan, dataset, settings


def _stem(source_name: str) -> str:
    name = source_name.rsplit("/", 1)[-1]
    return (name.split(".", 1)[0] if "." in name else name).lower()


def _epsilon_units(epsilon: float) -> int:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not math.isfinite(epsilon):
        raise InvalidInput(f"epsilon must be a positive number; got {epsilon!r}")
    if epsilon <= 0:
        raise InvalidInput(f"epsilon must be > 0; got {epsilon:g}")
    return budget.to_units(epsilon, odrl.EPSILON_SCALE, "epsilon")


def _charge(node: Node, contract_id: str, *, epsilon: float, delta: float, actor: Party) -> budget.Charge:
    """The one place a DP query is paid for, before anything is computed or released.

    The policy decides again on the locked contract row, and ε, δ and one query come off its
    budget and the contract's price for them (per query, per ε) is posted to the ledger, in that
    one transaction with their log entries (:func:`dataex.contracts.budget.authorize_and_charge`).
    """
    return budget.authorize_and_charge(
        node, actor, "dp_query", contract_id, epsilon=epsilon, delta=delta, queries=1
    )


ENGINE_FAILURE: Final = "the {engine} engine failed to answer the query; the ε charged for it is spent"
"""The one answer to any failure after the charge: it names neither the error nor any value."""


def run_plan(runner: Engine, plan: Plan, path: str) -> mechanisms.Release:
    """Runs the plan's exact SQL over the Parquet file ``path`` and releases it with noise.

    The predicate cannot raise (:mod:`dataex.privacy.dp.predicate`), sums are on a bounded grid and
    exact aggregates are clamped before noise, so no row makes this fail. Should an engine fail
    anyway (memory, a bug), the failure is answered with one fixed message, whatever the data:
    neither the engine's message (it may quote values) nor its error class is passed on.
    """
    try:
        table = runner.execute(plan.sql_for(runner.dialect), {VIEW: path})
        return mechanisms.release(plan, table)
    except Exception as e:
        raise DataexError(ENGINE_FAILURE.format(engine=runner.name)) from e


def _cache_key(query_hash: str, version: str) -> str:
    """The answer cache's key: the normalized query's hash and the dataset version
    (:func:`dataex.contracts.consent.dataset_version`), hashed together (hex SHA-256)."""
    return hashlib.sha256(f"{query_hash}\n{version}".encode()).hexdigest()


def _cached(node: Node, contract_id: str, query_hash: str, eps_nano: int) -> dict[str, Any] | None:
    with node.session() as s:
        row = s.get(DpAnswerRow, (contract_id, query_hash, eps_nano))
        return None if row is None else dict(row.answer)


def _store(
    node: Node, contract_id: str, query_hash: str, eps_nano: int, body: dict[str, Any]
) -> dict[str, Any]:
    try:
        with node.transaction() as s:
            s.add(
                DpAnswerRow(
                    contract_id=contract_id,
                    query_hash=query_hash,
                    epsilon_nano=eps_nano,
                    answer=body,
                    created_at=utc_now(),
                )
            )
    except SqlIntegrityError:
        existing = _cached(node, contract_id, query_hash, eps_nano)
        if existing is None:  # pragma: no cover - the conflicting row cannot vanish
            raise
        return existing
    return body


def _answer(
    node: Node,
    contract_id: str,
    dataset_id: str,
    runner: Engine,
    query_hash: str,
    *,
    cached: dict[str, Any] | None = None,
    explain: dict[str, Any] | None = None,
) -> Answer:
    with node.session() as s:
        row = s.get(ContractRow, contract_id)
        assert row is not None
        left = row.remaining_epsilon_nano
    body = cached or {}
    return Answer(
        contract_id=contract_id,
        dataset_id=dataset_id,
        columns=list(body.get("columns", [])),
        rows=list(body.get("rows", [])),
        intervals=list(body.get("intervals", [])),
        epsilon_charged=0.0,
        delta_charged=0.0,
        epsilon_remaining=None if left is None else left / odrl.EPSILON_SCALE,
        cached=cached is not None,
        engine=runner.name,
        query_hash=query_hash,
        explain=explain,
        notes=[NOTE_CACHED]
        if cached is not None
        else [],
    )


NOTE_INTERVALS: Final = (
    "intervals are 95% intervals of the noise around the clipped, contribution-bounded value"
)
NOTE_CACHED: Final = "the same query at the same ε was answered before: the same answer, nothing charged"
NOTES: Final = (NOTE_INTERVALS, NOTE_CACHED)
"""The fixed notes an answer may carry (the web console translates them)."""


def _notes(threshold: int | None) -> list[str]:
    notes = [NOTE_INTERVALS]
    if threshold is not None:
        notes.append(
            f"keys without a declared domain were released only when their noisy count >= {threshold}"
        )
    return notes


def _float_or_none(value: float | int | None) -> float | None:
    return None if value is None else float(value)
