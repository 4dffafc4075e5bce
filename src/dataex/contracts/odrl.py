"""W3C ODRL 2.2 policies in JSON-LD: the one module that writes and parses them.

An offer carries an ODRL ``Offer`` (assigner: the provider); an approved contract carries an ODRL
``Agreement`` (assigner: the provider, assignee: the consumer). Every dataex policy has exactly one
permission, whose action is the access tier's action, and whose constraints are

=================  ==========================  ==========================================
left operand       operator                    right operand
=================  ==========================  ==========================================
``purpose``        ``isAnyOf`` (or ``isA``)    purpose names (one name with ``isA``)
``dateTime``       ``lt``                      the expiry, ``xsd:dateTime``
``count``          ``lteq``                    the number of queries
``dx:epsilon``     ``lteq``                    the ε budget, ``xsd:decimal``
``dx:delta``       ``lteq``                    the δ budget, ``xsd:decimal``
``dx:rows``        ``lteq``                    the number of rows that may leave
=================  ==========================  ==========================================

Duties on the permission: ``attribute`` and ``delete`` (with ``dateTime gteq`` the expiry).
Prohibitions: ``distribute`` (redistribution), ``dx:reidentify`` and ``dx:link`` (linking with
other data). ``dx:`` is the dataex profile namespace (:data:`DX`). Parsing is strict: an unknown
key, action, operator or left operand is an ``InvalidInput`` that names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, get_args

from dataex.errors import InvalidInput

Tier = Literal["L0", "L1", "L2", "L3", "L4"]
TIERS: Final[tuple[str, ...]] = get_args(Tier)
Prohibition = Literal["redistribution", "reidentification", "linking"]
PROHIBITIONS: Final[tuple[str, ...]] = get_args(Prohibition)
Duty = Literal["attribution", "delete_on_expiry"]
DUTIES: Final[tuple[str, ...]] = get_args(Duty)
PolicyKind = Literal["Offer", "Agreement"]

ODRL: Final = "http://www.w3.org/ns/odrl/2/"
ODRL_CONTEXT: Final = "http://www.w3.org/ns/odrl.jsonld"
DX: Final = "https://dataex.dev/ns/odrl/"
PROFILE: Final = "https://dataex.dev/ns/odrl/profile/1"
EPSILON_SCALE: Final = 10**9
"""ε is kept in integer units of 1e-9 so that budgets add and subtract exactly."""
DELTA_SCALE: Final = 10**18
"""δ is kept in integer units of 1e-18."""

TIER_ACTIONS: Final[dict[str, str]] = {
    "L0": "dx:readMetadata",
    "L1": "dx:dpQuery",
    "L2": "dx:compute",
    "L3": "dx:extractDeidentified",
    "L4": "reproduce",
}
PROHIBITION_ACTIONS: Final[dict[str, str]] = {
    "redistribution": "distribute",
    "reidentification": "dx:reidentify",
    "linking": "dx:link",
}
DUTY_ACTIONS: Final[dict[str, str]] = {"attribution": "attribute", "delete_on_expiry": "delete"}
OPERATORS: Final = frozenset(
    {"eq", "gt", "gteq", "lt", "lteq", "neq", "isA", "hasPart", "isPartOf", "isAllOf", "isAnyOf", "isNoneOf"}
)
"""Every ODRL 2.2 constraint operator; dataex accepts a subset per left operand."""
ALLOWED_OPERATORS: Final[dict[str, tuple[str, ...]]] = {
    "purpose": ("isAnyOf", "isA"),
    "dateTime": ("lt",),
    "count": ("lteq",),
    "dx:epsilon": ("lteq",),
    "dx:delta": ("lteq",),
    "dx:rows": ("lteq",),
}
_IRI = {"party": "urn:dataex:party:", "dataset": "urn:dataex:dataset:", "Offer": "urn:dataex:offer:"}
_IRI["Agreement"] = "urn:dataex:contract:"


@dataclass(frozen=True)
class Policy:
    """A dataex policy, independent of its JSON-LD spelling."""

    kind: PolicyKind
    uid: str
    target: str
    assigner: str
    tier: str
    purposes: tuple[str, ...]
    assignee: str | None = None
    expires: datetime | None = None
    max_queries: int | None = None
    epsilon_nano: int | None = None
    delta_atto: int | None = None
    max_rows: int | None = None
    prohibitions: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()
    legal_basis: str | None = None


# -- writing ---------------------------------------------------------------------------------------
def to_jsonld(policy: Policy) -> dict[str, Any]:
    """The ODRL 2.2 JSON-LD document of ``policy``."""
    parties: dict[str, Any] = {
        "target": _IRI["dataset"] + policy.target,
        "assigner": _IRI["party"] + policy.assigner,
    }
    if policy.assignee is not None:
        parties["assignee"] = _IRI["party"] + policy.assignee
    constraints: list[dict[str, Any]] = [_purpose(policy.purposes, single=policy.kind == "Agreement")]
    if policy.expires is not None:
        constraints.append(_c("dateTime", "lt", _datetime_literal(policy.expires)))
    if policy.max_queries is not None:
        constraints.append(_c("count", "lteq", policy.max_queries))
    if policy.epsilon_nano is not None:
        constraints.append(_c("dx:epsilon", "lteq", _decimal_literal(policy.epsilon_nano, EPSILON_SCALE)))
    if policy.delta_atto is not None:
        constraints.append(_c("dx:delta", "lteq", _decimal_literal(policy.delta_atto, DELTA_SCALE)))
    if policy.max_rows is not None:
        constraints.append(_c("dx:rows", "lteq", policy.max_rows))
    permission: dict[str, Any] = {**parties, "action": TIER_ACTIONS[policy.tier], "constraint": constraints}
    duties = [_duty(d, policy.expires) for d in policy.duties]
    if duties:
        permission["duty"] = duties
    doc: dict[str, Any] = {
        "@context": [ODRL_CONTEXT, {"dx": DX}],
        "@type": policy.kind,
        "uid": _IRI[policy.kind] + policy.uid,
        "profile": PROFILE,
        "dx:tier": policy.tier,
    }
    if policy.legal_basis is not None:
        doc["dx:legalBasis"] = policy.legal_basis
    doc["permission"] = [permission]
    if policy.prohibitions:
        doc["prohibition"] = [{**parties, "action": PROHIBITION_ACTIONS[p]} for p in policy.prohibitions]
    return doc


def _c(left: str, op: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def _purpose(purposes: tuple[str, ...], *, single: bool) -> dict[str, Any]:
    if single and len(purposes) == 1:
        return _c("purpose", "isA", purposes[0])
    return _c("purpose", "isAnyOf", list(purposes))


def _duty(duty: str, expires: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {"action": DUTY_ACTIONS[duty]}
    if duty == "delete_on_expiry":
        if expires is None:
            raise InvalidInput("the duty to delete on expiry needs an expiry")
        out["constraint"] = [_c("dateTime", "gteq", _datetime_literal(expires))]
    return out


def _datetime_literal(ts: datetime) -> dict[str, str]:
    return {"@value": ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "@type": "xsd:dateTime"}


def _decimal_literal(units: int, scale: int) -> dict[str, str]:
    value = (Decimal(units) / scale).normalize()
    return {"@value": format(value, "f"), "@type": "xsd:decimal"}


# -- parsing ---------------------------------------------------------------------------------------
_POLICY_KEYS = {
    "@context",
    "@type",
    "uid",
    "profile",
    "dx:tier",
    "dx:legalBasis",
    "permission",
    "prohibition",
}
_RULE_KEYS = {"target", "assigner", "assignee", "action", "constraint", "duty"}
_CONSTRAINT_KEYS = {"leftOperand", "operator", "rightOperand"}


def parse(doc: Any) -> Policy:
    """Parses and validates an ODRL 2.2 Offer or Agreement written in dataex's profile."""
    obj = _object(doc, "policy")
    _known_keys(obj, _POLICY_KEYS, "policy")
    context = obj.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if ODRL_CONTEXT not in contexts:
        raise InvalidInput(f"an ODRL policy needs the JSON-LD context {ODRL_CONTEXT!r}")
    kind = _term(obj.get("@type"), "@type")
    if kind not in get_args(PolicyKind):
        raise InvalidInput(f"unsupported policy type {kind!r}; dataex reads Offer and Agreement")
    if obj.get("profile") != PROFILE:
        raise InvalidInput(f"unknown ODRL profile {obj.get('profile')!r}; expected {PROFILE!r}")
    uid = _strip_iri(obj.get("uid"), _IRI[kind], "uid")
    tier = obj.get("dx:tier")
    if tier not in TIERS:
        raise InvalidInput(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")
    legal_basis = obj.get("dx:legalBasis")
    if legal_basis is not None and not (isinstance(legal_basis, str) and legal_basis):
        raise InvalidInput("dx:legalBasis must be a non-empty string")
    permissions = _list(obj.get("permission"), "permission")
    if len(permissions) != 1:
        raise InvalidInput(f"a dataex policy has exactly one permission; got {len(permissions)}")
    perm = _object(permissions[0], "permission")
    _known_keys(perm, _RULE_KEYS, "permission")
    target, assigner, assignee = _parties(perm, kind)
    action = _term(perm.get("action"), "action")
    tier_action = TIER_ACTIONS[str(tier)]
    if action != tier_action:
        known = set(TIER_ACTIONS.values())
        what = "does not match" if action in known else "is an unknown action for"
        raise InvalidInput(f"permission action {action!r} {what} tier {tier} (expected {tier_action!r})")
    values = _constraints(perm.get("constraint"))
    if "purpose" not in values:
        raise InvalidInput("the permission needs a purpose constraint")
    expires = values.get("dateTime")
    duties = _duties(perm.get("duty"), expires)
    prohibitions = _prohibitions(obj.get("prohibition"), (target, assigner, assignee), kind)
    return Policy(
        kind=kind,  # type: ignore[arg-type]  # checked against PolicyKind above
        uid=uid,
        target=target,
        assigner=assigner,
        assignee=assignee,
        tier=str(tier),
        purposes=values["purpose"],
        expires=expires,
        max_queries=values.get("count"),
        epsilon_nano=values.get("dx:epsilon"),
        delta_atto=values.get("dx:delta"),
        max_rows=values.get("dx:rows"),
        prohibitions=prohibitions,
        duties=duties,
        legal_basis=legal_basis,
    )


def _parties(rule: dict[str, Any], kind: str) -> tuple[str, str, str | None]:
    target = _strip_iri(rule.get("target"), _IRI["dataset"], "target")
    assigner = _strip_iri(rule.get("assigner"), _IRI["party"], "assigner")
    if kind == "Agreement":
        return target, assigner, _strip_iri(rule.get("assignee"), _IRI["party"], "assignee")
    if "assignee" in rule:
        raise InvalidInput("an Offer names no assignee; an Agreement does")
    return target, assigner, None


def _constraints(raw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in _list(raw, "constraint"):
        c = _object(item, "constraint")
        _known_keys(c, _CONSTRAINT_KEYS, "constraint")
        left = _term(c.get("leftOperand"), "leftOperand")
        op = _term(c.get("operator"), "operator")
        if left not in ALLOWED_OPERATORS:
            raise InvalidInput(
                f"unknown or unsupported leftOperand {left!r}; use one of {', '.join(ALLOWED_OPERATORS)}"
            )
        if op not in OPERATORS:
            raise InvalidInput(
                f"unknown operator {op!r}; ODRL 2.2 operators are {', '.join(sorted(OPERATORS))}"
            )
        if op not in ALLOWED_OPERATORS[left]:
            raise InvalidInput(
                f"operator {op!r} is not supported for {left!r}; use {' or '.join(ALLOWED_OPERATORS[left])}"
            )
        if left in values:
            raise InvalidInput(f"the leftOperand {left!r} is constrained twice")
        values[left] = _right_operand(left, op, c.get("rightOperand"))
    return values


def _right_operand(left: str, op: str, right: Any) -> Any:
    if left == "purpose":
        names = [right] if op == "isA" else right
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidInput(
                f"purpose {op} needs {'a name' if op == 'isA' else 'a non-empty list of names'}"
            )
        return tuple(names)
    if left == "dateTime":
        return _parse_datetime(right)
    if left == "dx:epsilon":
        return _parse_decimal(right, EPSILON_SCALE, left)
    if left == "dx:delta":
        return _parse_decimal(right, DELTA_SCALE, left)
    if isinstance(right, bool) or not isinstance(right, int) or right < 0:
        raise InvalidInput(f"{left} needs a non-negative integer; got {right!r}")
    return right


def _parse_datetime(right: Any) -> datetime:
    value = right.get("@value") if isinstance(right, dict) else None
    if not isinstance(right, dict) or right.get("@type") != "xsd:dateTime" or not isinstance(value, str):
        raise InvalidInput(f'dateTime needs {{"@value": …, "@type": "xsd:dateTime"}}; got {right!r}')
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidInput(f"not an xsd:dateTime: {value!r}") from e
    if ts.tzinfo is None:
        raise InvalidInput(f"an xsd:dateTime needs a time zone: {value!r}")
    return ts.astimezone(UTC)


def _parse_decimal(right: Any, scale: int, left: str) -> int:
    value = right.get("@value") if isinstance(right, dict) else None
    if not isinstance(right, dict) or right.get("@type") != "xsd:decimal" or not isinstance(value, str):
        raise InvalidInput(f'{left} needs {{"@value": "…", "@type": "xsd:decimal"}}; got {right!r}')
    try:
        amount = Decimal(value) * scale
    except InvalidOperation as e:
        raise InvalidInput(f"{left}: not a decimal: {value!r}") from e
    if not amount.is_finite() or amount < 0 or amount != amount.to_integral_value():
        raise InvalidInput(f"{left} must be a non-negative decimal with at most {len(str(scale)) - 1} places")
    return int(amount)


def _duties(raw: Any, expires: datetime | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    by_action = {v: k for k, v in DUTY_ACTIONS.items()}
    duties: list[str] = []
    for item in _list(raw, "duty"):
        d = _object(item, "duty")
        _known_keys(d, {"action", "constraint"}, "duty")
        action = _term(d.get("action"), "action")
        if action not in by_action:
            raise InvalidInput(f"unknown duty action {action!r}; use {' or '.join(by_action)}")
        duty = by_action[action]
        constraint = d.get("constraint")
        expected = (
            [_c("dateTime", "gteq", _datetime_literal(expires))] if expires and action == "delete" else None
        )
        if duty == "delete_on_expiry" and expires is None:
            raise InvalidInput("the delete duty needs the permission to have a dateTime expiry")
        if constraint != expected:
            raise InvalidInput(f"unsupported constraint on duty {action!r}: {constraint!r}")
        duties.append(duty)
    return tuple(duties)


def _prohibitions(raw: Any, parties: tuple[str, str, str | None], kind: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    by_action = {v: k for k, v in PROHIBITION_ACTIONS.items()}
    found: list[str] = []
    for item in _list(raw, "prohibition"):
        p = _object(item, "prohibition")
        _known_keys(p, {"target", "assigner", "assignee", "action"}, "prohibition")
        if _parties(p, kind) != parties:
            raise InvalidInput("a prohibition must name the same target and parties as the permission")
        action = _term(p.get("action"), "action")
        if action not in by_action:
            raise InvalidInput(f"unknown prohibited action {action!r}; use one of {', '.join(by_action)}")
        found.append(by_action[action])
    return tuple(found)


# -- helpers ---------------------------------------------------------------------------------------
def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a JSON array")
    return value


def _known_keys(obj: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidInput(f"unknown key(s) in {what}: {', '.join(unknown)}")


def _term(value: Any, what: str) -> str:
    """A vocabulary term, compacted: ``odrl:lt`` and the full IRI become ``lt``; ``dx:`` stays."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a vocabulary term (a string); got {value!r}")
    for prefix in (ODRL, "odrl:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    if value.startswith(DX):
        return "dx:" + value[len(DX) :]
    return value


def _strip_iri(value: Any, prefix: str, what: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) == len(prefix):
        raise InvalidInput(f"{what} must be an IRI starting with {prefix!r}; got {value!r}")
    return value[len(prefix) :]
