"""PSI-then-DP: a DP aggregate over the provider rows whose identifier the consumer also holds.

Roles swap (see :mod:`dataex.privacy.psi.protocol`): the consumer is the PSI server with a fresh
key, the node the client. Two calls:

1. :func:`start` authorizes ``psi`` (any tier that passes ``authorize``, with an ε budget on the
   contract), plans the SQL (``FROM matched``) with the DP engine's grammar and privacy metadata —
   refusing before any protocol work — and returns the node's blinded request over its own
   distinct identifiers. The node's client key lives only in this process's memory.
2. :func:`finish` takes the consumer's encoded set and its answer, learns which of the node's
   identifiers matched (never the consumer's other items), materializes the matched rows as a
   temporary Parquet file, charges ε, δ and one query (``budget.charge``), runs the same rewritten
   SQL and OpenDP mechanisms as ``dataex.privacy.dp`` on it, deletes the file and returns the answer.

Adding or removing one privacy unit changes the matched rows by at most that unit's rows, so the
DP guarantee of the aggregate holds whatever set the consumer sends. The matched count itself is
never released nor logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataex.contracts import budget, odrl
from dataex.contracts.consent import consented_source
from dataex.db.models import ContractRow, DatasetRow, DpSettingsRow
from dataex.errors import DataexError, InvalidInput, NotFound, QueryRefused
from dataex.identity.parties import Party, new_id
from dataex.privacy.psi import protocol
from dataex.privacy.psi.normalize import canonical
from dataex.privacy.psi.service import Target, begin, provider_items, record_session, refuse

if TYPE_CHECKING:
    from dataex.exchange import Exchange
    from dataex.privacy.dp.rewrite import Plan

TABLE: Final = "matched"
TTL_SECONDS: Final = 600.0


@dataclass
class _Pending:
    party_id: str
    target: Target
    client: protocol.Client
    items: list[str]
    sql: str
    epsilon: float
    plan: Plan
    created: float = field(default_factory=time.monotonic)


_pending: dict[str, _Pending] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Started:
    session_id: str
    request: bytes
    provider_items: int


def start(
    ex: Exchange,
    party: Party,
    contract_id: str,
    *,
    sql: str,
    epsilon: float,
    id_type: str,
    column: str | None = None,
) -> Started:
    """Step 1: authorize, plan the query, return the node's blinded request; see the module docstring."""
    target = begin(ex, party, contract_id, mode="then_dp", id_type=id_type, column=column)
    try:
        plan = _plan(ex, target, sql, epsilon)
        items = provider_items(ex, target)
        client = protocol.Client(reveal=True)
        request = client.request(items)
    except DataexError as e:
        refuse(ex, party, contract_id, e)
        raise
    session_id = new_id("psi")
    with _lock:
        now = time.monotonic()
        for sid in [k for k, p in _pending.items() if now - p.created > TTL_SECONDS]:
            del _pending[sid]
        _pending[session_id] = _Pending(party.id, target, client, items, sql, epsilon, plan)
    return Started(session_id, request, len(items))


def finish(
    ex: Exchange, party: Party, session_id: str, *, setup: bytes, response: bytes, consumer_items: int
) -> dict[str, Any]:
    """Step 2: intersect, charge, answer with DP over the matched rows; see the module docstring.

    ``consumer_items`` is the consumer's own statement of its set size (for the log only).
    """
    with _lock:
        pending = _pending.get(session_id)
        if pending is None or pending.party_id != party.id:
            raise NotFound(
                f"no pending PSI-then-DP session {session_id!r} (sessions expire after 10 minutes)"
            )
        del _pending[session_id]
    target = pending.target
    try:
        matched_idx = pending.client.intersection(setup, response)
    except DataexError as e:
        refuse(ex, party, target.contract_id, e)
        raise
    matched = {pending.items[i] for i in matched_idx}
    staged = Path(ex.settings.staging_dir, f"{session_id}.parquet")
    try:
        _materialize(ex, target, matched, staged)
        charge = budget.charge(
            ex,
            target.contract_id,
            epsilon=pending.epsilon,
            delta=pending.plan.delta,
            queries=1,
            actor=party.id,
        )
        answer = _release(pending.plan, staged)
    finally:
        staged.unlink(missing_ok=True)
    record_session(
        ex, party, target, mode="then_dp", consumer_items=consumer_items, provider_items=len(pending.items)
    )
    return answer | {
        "session_id": session_id,
        "contract_id": target.contract_id,
        "dataset_id": target.dataset_id,
        "epsilon_charged": charge.epsilon,
        "delta_charged": charge.delta,
        "epsilon_remaining": charge.remaining.get("epsilon"),
        "consumer_items": consumer_items,
        "provider_items": len(pending.items),
    }


def _plan(ex: Exchange, target: Target, sql: str, epsilon: float) -> Plan:
    from dataex.privacy.dp.parse import parse
    from dataex.privacy.dp.rewrite import plan_query
    from dataex.privacy.dp.settings import PrivacySettings, column_types

    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
        raise InvalidInput(f"epsilon must be > 0; got {epsilon!r}")
    budget.to_units(epsilon, odrl.EPSILON_SCALE, "epsilon")
    parsed = parse(sql)
    if parsed.table.lower() != TABLE:
        raise QueryRefused(f"query refused: the matched rows are the table {TABLE!r}", construct="table")
    with ex.session() as s:
        contract = s.get(ContractRow, target.contract_id)
        dataset = s.get(DatasetRow, target.dataset_id)
        assert contract is not None and dataset is not None
        if contract.remaining_epsilon_nano is None:
            raise InvalidInput(
                f"contract {target.contract_id} has no ε budget: PSI-then-DP needs one (an L1 offer)"
            )
        settings_row = s.get(DpSettingsRow, target.dataset_id)
        settings = None if settings_row is None else PrivacySettings.of(settings_row)
        types = column_types(dataset)
    return plan_query(parsed, settings=settings, types=types, dataset_id=target.dataset_id, epsilon=epsilon)


def _materialize(ex: Exchange, target: Target, matched: set[str], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(consented_source(ex, target.dataset_id).path)
    prefix = f"{target.id_type}:"
    keys = [
        None if v is None else prefix + canonical(target.id_type, str(v))
        for v in table.column(target.column).to_pylist()
    ]
    mask = pa.array([k in matched for k in keys], type=pa.bool_())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.filter(mask), path)


def _release(plan: Plan, path: Path) -> dict[str, Any]:
    from dataex.engines import get_engine
    from dataex.privacy.dp import mechanisms
    from dataex.privacy.dp.rewrite import VIEW

    runner = get_engine(None)
    table = runner.execute(plan.sql_for(runner.dialect), {VIEW: str(path)})
    released = mechanisms.release(plan, table)
    return {"columns": released.columns, "rows": released.rows, "intervals": released.intervals}
