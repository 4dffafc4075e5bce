"""PSI-then-DP: a DP aggregate over the provider rows whose identifier the consumer also holds.

Roles swap (see :mod:`dataex.privacy.psi.protocol`): the consumer is the PSI server with a fresh
key, the node the client. Two calls:

1. :func:`start` authorizes ``psi`` (any tier that passes ``authorize``, with an ε budget on the
   contract), plans the SQL (``FROM matched``) with the DP engine's grammar and privacy metadata —
   refusing before any protocol work — and returns the node's blinded request over its own
   distinct identifiers, with a **ticket**.
2. :func:`finish` takes the ticket, the consumer's encoded set and its answer, learns which of the node's
   identifiers matched (never the consumer's other items), materializes the matched rows as a
   temporary Parquet file, charges ε, δ and one query (``budget.charge``), runs the same rewritten
   SQL and OpenDP mechanisms as ``dataex.privacy.dp`` on it, deletes the file and returns the answer.

Nothing about a pending session is kept, so any process of the node (``dataex serve --workers N``)
can finish what another started. The node's client key for a session is derived, never stored:
``HMAC-SHA-512(psi-then-dp.secret, "psi-then-dp|" + session id)`` reduced to a P-256 scalar, with
the secret a 32-byte node file (mode 0600) beside the node key. The ticket carries the session's
party, contract, dataset, column, identifier type, dataset version, SQL, ε and expiry, signed
under the same secret (:mod:`dataex.identity.signed`); ``finish`` checks the signature, the
party, the expiry (10 minutes) and that the dataset's version is unchanged, authorizes again,
and rebuilds the node's identifier list and the plan from them.

Adding or removing one privacy unit changes the matched rows by at most that unit's rows, so the
DP guarantee of the aggregate holds whatever set the consumer sends. The matched count itself is
never released nor logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataex.contracts import budget, odrl
from dataex.contracts.consent import consented_source
from dataex.db.models import ContractRow, DatasetRow, DpSettingsRow
from dataex.engines import get_engine
from dataex.errors import DataexError, InvalidInput, NotFound, QueryRefused
from dataex.identity import signed
from dataex.identity.keys import load_or_create_secret
from dataex.identity.parties import Party, new_id
from dataex.privacy.dp import mechanisms
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.rewrite import VIEW, Plan, plan_query
from dataex.privacy.dp.settings import PrivacySettings, column_types
from dataex.privacy.psi import protocol
from dataex.privacy.psi.normalize import canonical
from dataex.privacy.psi.service import Target, begin, provider_items, record_session

if TYPE_CHECKING:
    from dataex.node import Node

TABLE: Final = "matched"
TTL_SECONDS: Final = 600.0


SESSION_KEYS_FILE: Final = "psi-then-dp.secret"
"""The node file (32 bytes, mode 0600) that session keys and tickets are derived from."""


@dataclass(frozen=True)
class Started:
    session_id: str
    request: bytes
    provider_items: int
    ticket: str


def start(
    node: Node,
    party: Party,
    contract_id: str,
    *,
    sql: str,
    epsilon: float,
    id_type: str,
    column: str | None = None,
) -> Started:
    """Step 1: authorize, plan the query, return the node's blinded request; see the module docstring."""
    target = begin(node, party, contract_id, mode="then_dp", id_type=id_type, column=column)
    session_id = new_id("psi")
    try:
        _plan(node, target, sql, epsilon)
        items = provider_items(node, target)
        client = protocol.Client(reveal=True, key=_session_key(node, session_id))
        request = client.request(items)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    claims = {
        "sid": session_id,
        "party": party.id,
        "contract": contract_id,
        "dataset": target.dataset_id,
        "column": target.column,
        "id_type": target.id_type,
        "version": target.file_sha256,
        "sql": sql,
        "epsilon": epsilon,
        "exp": time.time() + TTL_SECONDS,
    }
    return Started(session_id, request, len(items), signed.sign(_secret(node), claims))


def finish(
    node: Node,
    party: Party,
    session_id: str,
    *,
    setup: bytes,
    response: bytes,
    consumer_items: int,
    ticket: str,
) -> dict[str, Any]:
    """Step 2: intersect, charge, answer with DP over the matched rows; see the module docstring.

    ``consumer_items`` is the consumer's own statement of its set size (for the log only).
    """
    claims = _verify(node, ticket)
    if claims is None or claims.get("sid") != session_id or claims.get("party") != party.id:
        raise NotFound(f"no pending PSI-then-DP session {session_id!r} (sessions expire after 10 minutes)")
    contract_id = str(claims["contract"])
    target = begin(
        node, party, contract_id, mode="then_dp", id_type=claims["id_type"], column=claims["column"]
    )
    try:
        if target.file_sha256 != claims["version"]:
            raise InvalidInput(
                f"dataset {target.dataset_id} changed since session {session_id} started: start again"
            )
        epsilon = float(claims["epsilon"])
        plan = _plan(node, target, str(claims["sql"]), epsilon)
        items = provider_items(node, target)
        client = protocol.Client(reveal=True, key=_session_key(node, session_id))
        matched_idx = client.intersection(setup, response)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    matched = {items[i] for i in matched_idx}
    staged = Path(node.settings.staging_dir, f"{session_id}.parquet")
    try:
        _materialize(node, target, matched, staged)
        charge = budget.authorize_and_charge(
            node, party, "psi", target.contract_id, epsilon=epsilon, delta=plan.delta, queries=1
        )
        answer = _release(plan, staged)
    finally:
        staged.unlink(missing_ok=True)
    record_session(
        node, party, target, mode="then_dp", consumer_items=consumer_items, provider_items=len(items)
    )
    return answer | {
        "session_id": session_id,
        "contract_id": target.contract_id,
        "dataset_id": target.dataset_id,
        "epsilon_charged": charge.epsilon,
        "delta_charged": charge.delta,
        "epsilon_remaining": charge.remaining.get("epsilon"),
        "consumer_items": consumer_items,
        "provider_items": len(items),
    }


def _secret(node: Node) -> bytes:
    return load_or_create_secret(node.settings.home / SESSION_KEYS_FILE)


def _session_key(node: Node, session_id: str) -> bytes:
    return protocol.derive_key(_secret(node), f"psi-then-dp|{session_id}")


def _verify(node: Node, ticket: str) -> dict[str, Any] | None:
    """The ticket's claims if the node signed them and they have not expired; None otherwise."""
    claims = signed.verify(_secret(node), ticket)
    return claims if claims is not None and float(claims.get("exp", 0)) > time.time() else None


def _plan(node: Node, target: Target, sql: str, epsilon: float) -> Plan:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
        raise InvalidInput(f"epsilon must be > 0; got {epsilon!r}")
    budget.to_units(epsilon, odrl.EPSILON_SCALE, "epsilon")
    parsed = parse(sql)
    if parsed.table.lower() != TABLE:
        raise QueryRefused(f"query refused: the matched rows are the table {TABLE!r}", construct="table")
    with node.session() as s:
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


def _materialize(node: Node, target: Target, matched: set[str], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(consented_source(node, target.dataset_id).path)
    prefix = f"{target.id_type}:"
    keys = [
        None if v is None else prefix + canonical(target.id_type, str(v))
        for v in table.column(target.column).to_pylist()
    ]
    mask = pa.array([k in matched for k in keys], type=pa.bool_())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.filter(mask), path)


def _release(plan: Plan, path: Path) -> dict[str, Any]:
    runner = get_engine(None)
    table = runner.execute(plan.sql_for(runner.dialect), {VIEW: str(path)})
    released = mechanisms.release(plan, table)
    return {"columns": released.columns, "rows": released.rows, "intervals": released.intervals}
