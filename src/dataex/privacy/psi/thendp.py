"""PSI-then-DP: a DP aggregate over the provider rows whose identifier the consumer also holds.

Roles swap (see :mod:`dataex.privacy.psi.protocol`): the consumer is the PSI server with a fresh
key, the node the client. Two calls:

1. :func:`start` authorizes ``psi`` (any tier that passes ``authorize``, with an ε budget on the
   contract), plans the SQL (``FROM matched``) with the DP engine's grammar and privacy metadata —
   refusing before any protocol work — and returns the node's blinded request over its own
   distinct identifiers padded with dummies to :func:`~dataex.privacy.psi.service.released_size`
   (so the request's length is the released, rounded size), with a **ticket**.
2. :func:`finish` takes the ticket, the consumer's encoded set and its answer, refuses a consumer
   set under ``MIN_CONSUMER_ITEMS``, learns which of the node's identifiers matched (never the
   consumer's other items), materializes the matched rows as a temporary Parquet file, charges ε,
   δ and one query (``budget.authorize_and_charge``), runs the same rewritten SQL and OpenDP
   mechanisms as ``dataex.privacy.dp`` on it, deletes the file and returns the answer.

With ``sql=None`` the release is the **DP count** of the intersection (``dp_count``: how a count
is asked under L1/L2, where exact counts are refused): the number of the node's distinct matched
identifiers plus OpenDP discrete Laplace noise of scale 1/ε (sensitivity 1: adding or removing one
person's identifier changes it by at most one), ε charged before the noise is drawn.

Nothing about a pending session is kept, so any process of the node (``dataex serve --workers N``)
can finish what another started. The node's client key for a session is derived, never stored:
``HMAC-SHA-512(psi-then-dp.secret, "psi-then-dp|" + session id)`` reduced to a P-256 scalar, with
the secret a 32-byte node file (mode 0600) beside the node key. The ticket carries the session's
party, contract, dataset, column, identifier type, dataset version, SQL, ε and expiry, signed
under the same secret (:mod:`dataex.identity.signed`); ``finish`` checks the signature, the
party, the expiry (10 minutes) and that the dataset's version is unchanged, authorizes again,
and rebuilds the node's identifier list and the plan from them.

Adding or removing one privacy unit changes the matched rows by at most that unit's rows, so the
DP guarantee of the aggregate holds whatever set the consumer sends — **provided** the consumer
answers each of the node's elements in place. A consumer that answers every position with (a
variant of) one position's element makes one person's match count N times. The node therefore
hides :func:`check_pairs` pairs ``(A_j, A_j^z_j)`` (derived dummies; ``z_j`` derived, secret) among
its elements at derived positions and refuses an answer with a repeated element or a broken pair
(:func:`_checked_answer`), charging its ε so that trying one's luck is never free. A consumer that
moves ``A`` of the ``N + 2K`` answers escapes every check with probability at most
``(N / (N + 2K))^A`` (``2K >= N / 8``: ``< e^(-A/8.5)``). The matched count itself is never
released nor logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataex.contracts import budget, odrl
from dataex.contracts.consent import consented_source
from dataex.db.models import ContractRow, DatasetRow, DpSettingsRow
from dataex.engines import get_engine
from dataex.errors import DataexError, InvalidInput, InvalidPsiMessage, NotFound, QueryRefused
from dataex.identity import signed
from dataex.identity.keys import load_or_create_secret
from dataex.identity.parties import Party, new_id
from dataex.privacy.dp import mechanisms
from dataex.privacy.dp.parse import parse
from dataex.privacy.dp.rewrite import Plan, plan_query
from dataex.privacy.dp.service import run_plan
from dataex.privacy.dp.settings import PrivacySettings, column_types
from dataex.privacy.psi import protocol
from dataex.privacy.psi.normalize import canonical
from dataex.privacy.psi.service import (
    DUMMY_PREFIX,
    Target,
    begin,
    check_consumer_size,
    padded,
    provider_items,
    record_session,
    released_size,
)

if TYPE_CHECKING:
    from dataex.node import Node

TABLE: Final = "matched"
TTL_SECONDS: Final = 600.0
CHECK_PAIRS: Final = 32
"""The fewest check pairs hidden in the node's request (see :func:`check_pairs`)."""


def check_pairs(n_items: int) -> int:
    """Check pairs in a request over ``n_items`` identifiers: ``max(32, released_size(n) // 16)``,
    so that 2K/N, and with it the detection of a moved answer, does not shrink as the set grows."""
    return max(CHECK_PAIRS, released_size(n_items) // 16)


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
    sql: str | None,
    epsilon: float,
    id_type: str,
    column: str | None = None,
) -> Started:
    """Step 1: authorize, plan the query, return the node's blinded request; see the module docstring.

    ``sql=None``: the DP count of the intersection."""
    target = begin(node, party, contract_id, mode=_mode(sql), id_type=id_type, column=column)
    session_id = new_id("psi")
    try:
        _plan(node, target, sql, epsilon)
        items = provider_items(node, target)
        request = _request(node, session_id, items)
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
    return Started(session_id, request, released_size(len(items)), signed.sign(_secret(node), claims))


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
    sql = None if claims["sql"] is None else str(claims["sql"])
    mode = _mode(sql)
    target = begin(node, party, contract_id, mode=mode, id_type=claims["id_type"], column=claims["column"])
    try:
        if isinstance(consumer_items, bool) or not isinstance(consumer_items, int):
            raise InvalidInput(f"consumer_items must be an integer; got {consumer_items!r}")
        check_consumer_size(consumer_items)
        if target.file_sha256 != claims["version"]:
            raise InvalidInput(
                f"dataset {target.dataset_id} changed since session {session_id} started: start again"
            )
        epsilon = float(claims["epsilon"])
        plan = _plan(node, target, sql, epsilon)
        items = provider_items(node, target)
        answered, cheated = _checked_answer(node, session_id, len(items), response)
        if cheated:  # charged, so that trying one's luck against the checks is never free
            budget.authorize_and_charge(node, party, "psi", target.contract_id, epsilon=epsilon, queries=1)
            raise InvalidPsiMessage(
                f"the consumer's PSI answer failed the node's consistency checks ({cheated}); "
                f"ε {epsilon:g} charged, nothing released"
            )
        client = protocol.Client(reveal=True, key=_session_key(node, session_id))
        matched_idx = client.intersection(setup, answered)
    except DataexError as e:
        node.log.refusal(
            node.transaction, "psi.refused", e, actor=party.id, data={"contract_id": contract_id}
        )
        raise
    matched = {items[i] for i in matched_idx if i < len(items)}  # the dummies come after the items
    if plan is None:  # the DP count: ε charged, then the noise drawn
        charge = budget.authorize_and_charge(
            node, party, "psi", target.contract_id, epsilon=epsilon, queries=1
        )
        answer = _count_release(len(matched), epsilon)
    else:
        staged = Path(node.settings.staging_dir, f"{session_id}.parquet")
        try:
            _materialize(node, target, matched, staged)
            charge = budget.authorize_and_charge(
                node, party, "psi", target.contract_id, epsilon=epsilon, delta=plan.delta, queries=1
            )
            answer = _release(plan, staged)
        finally:
            staged.unlink(missing_ok=True)
    released = released_size(len(items))
    record_session(node, party, target, mode=mode, consumer_items=consumer_items, provider_items=released)
    return answer | {
        "session_id": session_id,
        "contract_id": target.contract_id,
        "dataset_id": target.dataset_id,
        "epsilon_charged": charge.epsilon,
        "delta_charged": charge.delta,
        "epsilon_remaining": charge.remaining.get("epsilon"),
        "consumer_items": consumer_items,
        "provider_items": released,
    }


def _mode(sql: str | None) -> str:
    return "dp_count" if sql is None else "then_dp"


def _slots(node: Node, session_id: str, n_items: int) -> list[int]:
    """The request's layout: slot ``p`` holds item ``slots[p]`` (>= 0, padded items) or check element
    ``-(k + 1)`` (``k = 2j`` the first of pair ``j``, ``2j + 1`` the second), in an order derived
    from the secret (a keyed Fisher–Yates), so ``finish`` rebuilds it and the consumer cannot tell."""
    slots = list(range(released_size(n_items))) + [-(k + 1) for k in range(2 * check_pairs(n_items))]
    secret = _secret(node)
    for i in range(len(slots) - 1, 0, -1):
        label = f"psi-then-dp-slot|{session_id}|{i}".encode()
        j = int.from_bytes(hmac.new(secret, label, hashlib.sha512).digest(), "big") % (i + 1)
        slots[i], slots[j] = slots[j], slots[i]
    return slots


def _scalars(node: Node, session_id: str, n_items: int) -> list[bytes]:
    """The check pairs' exponents ``z_j`` (derived: ``B_j = A_j^z_j``)."""
    secret = _secret(node)
    return [
        protocol.derive_key(secret, f"psi-then-dp-z|{session_id}|{j}") for j in range(check_pairs(n_items))
    ]


def _firsts(node: Node, session_id: str, n_items: int) -> list[bytes]:
    """The check pairs' first elements ``A_j``: dummies blinded under the session key."""
    secret = _secret(node)
    client = protocol.Client(reveal=True, key=_session_key(node, session_id))
    names = [
        DUMMY_PREFIX + protocol.derive_key(secret, f"psi-then-dp-check|{session_id}|{j}").hex()
        for j in range(check_pairs(n_items))
    ]
    return protocol.request_elements(client.request(names))


def _request(node: Node, session_id: str, items: list[str]) -> bytes:
    """The node's blinded request: its padded items and the check pairs, laid out by :func:`_slots`."""
    client = protocol.Client(reveal=True, key=_session_key(node, session_id))
    blinded = protocol.request_elements(client.request(_padded(node, session_id, items)))
    firsts, scalars = _firsts(node, session_id, len(items)), _scalars(node, session_id, len(items))
    checks = [e for a, z in zip(firsts, scalars, strict=True) for e in (a, *protocol.exponentiate([a], z))]
    layout = _slots(node, session_id, len(items))
    return protocol.make_request([blinded[s] if s >= 0 else checks[-s - 1] for s in layout], reveal=True)


def _checked_answer(node: Node, session_id: str, n_items: int, response: bytes) -> tuple[bytes, str]:
    """The consumer's answer to the items only, in item order; and why it cheated ('' if it did not).

    An honest answer raises every element of the request to the consumer's one key, in place. Two
    things show a consumer that moves or copies elements (to make one person's match count many
    times): a repeated element, and a check pair whose answers are no longer ``(X, X^z_j)``."""
    elements = protocol.response_elements(response)
    layout = _slots(node, session_id, n_items)
    if len(elements) != len(layout):
        raise InvalidPsiMessage(f"the PSI answer has {len(elements)} elements; the request had {len(layout)}")
    if any(len(e) != 33 or e[0] not in (2, 3) for e in elements):
        raise InvalidPsiMessage("the PSI answer holds an element that is not a compressed P-256 point")
    if len(set(elements)) != len(elements):
        return b"", "repeated elements"
    at = {s: p for p, s in enumerate(layout)}
    for j, z in enumerate(_scalars(node, session_id, n_items)):
        first, second = elements[at[-(2 * j + 1)]], elements[at[-(2 * j + 2)]]
        if protocol.exponentiate([first], z)[0] != second:
            return b"", "a check pair does not hold"
    return protocol.make_response([elements[at[i]] for i in range(released_size(n_items))]), ""


def _padded(node: Node, session_id: str, items: list[str]) -> list[str]:
    """The node's items and the session's dummies (derived, so ``finish`` rebuilds the same list)."""
    extra = released_size(len(items)) - len(items)
    label = f"psi-then-dp-dummy|{session_id}|"
    dummies = [DUMMY_PREFIX + protocol.derive_key(_secret(node), f"{label}{i}").hex() for i in range(extra)]
    return padded(items, dummies)


def _count_release(count: int, epsilon: float) -> dict[str, Any]:
    """The intersection size with discrete Laplace noise (scale 1/ε) and its 95 % interval."""
    noisy = mechanisms.laplace_vector([count], sensitivity=1, epsilon=epsilon)[0]
    half = mechanisms.half_width(1 / epsilon)
    return {
        "columns": ["n"],
        "rows": [{"n": noisy}],
        "intervals": [{"n": [noisy - half, noisy + half]}],
        "mechanism": "discrete Laplace (OpenDP), scale 1/ε, sensitivity 1",
    }


def _secret(node: Node) -> bytes:
    return load_or_create_secret(node.settings.home / SESSION_KEYS_FILE)


def _session_key(node: Node, session_id: str) -> bytes:
    return protocol.derive_key(_secret(node), f"psi-then-dp|{session_id}")


def _verify(node: Node, ticket: str) -> dict[str, Any] | None:
    """The ticket's claims if the node signed them and they have not expired; None otherwise."""
    claims = signed.verify(_secret(node), ticket)
    return claims if claims is not None and float(claims.get("exp", 0)) > time.time() else None


def _plan(node: Node, target: Target, sql: str | None, epsilon: float) -> Plan | None:
    """The DP plan of ``sql`` (None for the DP count), after checking ε and the contract's budget."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
        raise InvalidInput(f"epsilon must be > 0; got {epsilon!r}")
    budget.to_units(epsilon, odrl.EPSILON_SCALE, "epsilon")
    with node.session() as s:
        contract = s.get(ContractRow, target.contract_id)
        assert contract is not None
        if contract.remaining_epsilon_nano is None:
            raise InvalidInput(
                f"contract {target.contract_id} has no ε budget: a DP count or PSI-then-DP needs one"
            )
    if sql is None:
        return None
    parsed = parse(sql)
    if parsed.table.lower() != TABLE:
        raise QueryRefused(f"query refused: the matched rows are the table {TABLE!r}", construct="table")
    with node.session() as s:
        dataset = s.get(DatasetRow, target.dataset_id)
        assert dataset is not None
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
    """Runs and noises ``plan`` as DP SQL does (``run_plan``): any engine failure after the charge is
    one fixed message, whatever the data."""
    released = run_plan(get_engine(None), plan, str(path))
    return {"columns": released.columns, "rows": released.rows, "intervals": released.intervals}
