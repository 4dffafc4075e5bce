"""Offers: a dataset's owner offers it at one access tier, under an ODRL Offer.

Tier rules against the dataset's stored classification (see docs/contracts.md):

* L0–L2 never let rows leave: any dataset may be offered at them.
* L3 (de-identified extract): refused for ``core`` data; ``important`` data needs a legal basis.
  A de-identified extract always carries the re-identification prohibition.
* L4 (full data): free of a legal basis only for data classified as non-personal (every field
  ``non_personal``, grade ``general-1``); personal data needs one of :data:`LEGAL_BASES`; sensitive
  personal data, ``important`` data and *unclassified* data need ``consent`` (PIPL art. 29's
  separate consent) or ``legal_obligation``; ``core`` data is never offered at L4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from sqlalchemy import select

from dataex.config import MAX_COUNT, MAX_EPSILON, MAX_EXPIRY_YEAR, MAX_FEN
from dataex.contracts import odrl
from dataex.db.models import ClassificationRow, OfferRow
from dataex.errors import Conflict, Forbidden, InvalidInput, OfferNotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import iso, utc_now
from dataex.market import pricing
from dataex.policy import Viewer, check, visible_offers

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

Approval = Literal["manual", "auto"]
APPROVALS: Final[tuple[str, ...]] = get_args(Approval)
PriceUnit = Literal["flat", "row", "epsilon", "query", "job"]
PRICE_UNITS: Final[tuple[str, ...]] = get_args(PriceUnit)
LEGAL_BASES: Final = ("consent", "contract", "legal_obligation", "public_interest", "publicly_disclosed")
"""PIPL art. 13's bases for processing personal information, as dataex names them."""
STRONG_BASES: Final = ("consent", "legal_obligation")
UNIT_TIERS: Final[dict[str, tuple[str, ...]]] = {
    "flat": odrl.TIERS,
    "row": ("L3", "L4"),
    "epsilon": ("L1", "L2"),  # L2 only when the offer carries an ε budget (DP training)
    "query": ("L1", "L2"),
    "job": ("L2",),
}
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PRICE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*$")
_SCHEDULE_POINT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*=\s*(\d+)\s*$")


@dataclass(frozen=True)
class Price:
    """``amount_fen`` per ``unit`` (``flat``: once per contract).

    A per-ε price may carry ``schedule``, ``[[ε, fen], …]`` as :mod:`dataex.market.pricing` reads
    it (ε as decimal text); ``amount_fen`` is then the unit price past its last point, rounded up.
    """

    amount_fen: int
    unit: str
    schedule: list[list[Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"amount_fen": self.amount_fen, "unit": self.unit}
        if self.schedule is not None:
            out["schedule"] = [list(p) for p in self.schedule]
        return out


def _schedule_price(points: Any, amount: Any = None) -> Price:
    """A per-ε schedule price, refused (``ArbitragePrice``, naming every violating point) when
    it allows arbitrage; ``amount`` (if given) must be the derived unit price past the last point."""
    if not isinstance(points, list | tuple) or not all(isinstance(p, list | tuple) for p in points):
        raise InvalidInput(f"a price schedule is a list of [epsilon, fen] points; got {points!r}")
    schedule = pricing.check_schedule(points)
    last_e, last_p = schedule.points[-1]
    derived = pricing.ceil_fen(last_p / last_e)
    if amount is not None and (isinstance(amount, bool) or amount != derived):
        raise InvalidInput(
            f"a schedule's amount_fen is its unit price past the last point, {derived}; got {amount!r}"
        )
    return Price(derived, "epsilon", schedule.to_json())


def _parse_schedule_text(text: str) -> Price:
    """``"0.5=1000,1=1800,2=3400"``: ε=fen points (fen are whole numbers, not yuan)."""
    points: list[list[Any]] = []
    for part in text.split(","):
        m = _SCHEDULE_POINT.match(part)
        if m is None:
            raise InvalidInput(f"bad schedule point {part.strip()!r}: use epsilon=fen, e.g. 0.5=1000")
        points.append([m.group(1), int(m.group(2))])
    return _schedule_price(points)


@dataclass(frozen=True)
class Offer:
    id: str
    dataset_id: str
    provider_id: str
    tier: str
    purposes: list[str]
    expires_at: datetime | None
    price: dict[str, Any]
    epsilon: float | None
    delta: float | None
    max_rows: int | None
    max_queries: int | None
    prohibitions: list[str]
    duties: list[str]
    approval: str
    legal_basis: str | None
    policy: dict[str, Any]
    created_at: datetime
    log_index: int

    @classmethod
    def of(cls, row: OfferRow) -> Offer:
        return cls(
            id=row.id,
            dataset_id=row.dataset_id,
            provider_id=row.provider_id,
            tier=row.tier,
            purposes=list(row.purposes),
            expires_at=row.expires_at,
            price=dict(row.price),
            epsilon=None if row.epsilon_nano is None else row.epsilon_nano / odrl.EPSILON_SCALE,
            delta=None if row.delta_atto is None else row.delta_atto / odrl.DELTA_SCALE,
            max_rows=row.max_rows,
            max_queries=row.max_queries,
            prohibitions=list(row.prohibitions),
            duties=list(row.duties),
            approval=row.approval,
            legal_basis=row.legal_basis,
            policy=dict(row.policy),
            created_at=row.created_at,
            log_index=row.log_index,
        )


# -- parsing of user input -------------------------------------------------------------------------
def parse_price(value: str | int | dict[str, Any] | Price) -> Price:
    """``2000`` (an int, or digits) is 2000 fen flat; ``"20.00"`` or ``"0.02/row"`` are yuan.

    A number with a decimal point is in yuan and must resolve to whole fen; the unit after ``/`` is
    one of ``row``, ``epsilon``, ``query``, ``job`` (default ``flat``). A per-ε schedule is
    ``"schedule:0.5=1000,1=1800,2=3400"`` (ε=fen points) or
    ``{"unit": "epsilon", "schedule": [[0.5, 1000], [1, 1800], [2, 3400]]}``, checked to be
    arbitrage-free by :func:`dataex.market.pricing.check_schedule`.
    """
    if isinstance(value, Price):
        price = value
        if price.schedule is not None:
            if price.unit != "epsilon":
                raise InvalidInput(f"a price schedule is per epsilon, not per {price.unit}")
            price = _schedule_price(price.schedule, price.amount_fen)
    elif isinstance(value, dict) and value.get("schedule") is not None:
        if value.get("unit", "epsilon") != "epsilon":
            raise InvalidInput(f"a price schedule is per epsilon, not per {value.get('unit')!r}")
        price = _schedule_price(value["schedule"], value.get("amount_fen"))
    elif isinstance(value, str) and value.strip().startswith("schedule:"):
        price = _parse_schedule_text(value.strip().removeprefix("schedule:"))
    elif isinstance(value, dict):
        amount, unit = value.get("amount_fen"), value.get("unit", "flat")
        if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(unit, str):
            raise InvalidInput(f"a price is {{amount_fen: int, unit: str}}; got {value!r}")
        price = Price(amount, unit)
    elif isinstance(value, int) and not isinstance(value, bool):
        price = Price(value, "flat")
    elif isinstance(value, str):
        m = _PRICE.match(value)
        if m is None:
            raise InvalidInput(f"bad price {value!r}: use fen (2000) or yuan per unit (0.02/row)")
        number, unit = m.group(1), m.group(2) or "flat"
        try:
            fen = Decimal(number) * 100 if "." in number else Decimal(number)
        except InvalidOperation as e:  # pragma: no cover - the pattern admits only decimals
            raise InvalidInput(f"bad price {value!r}") from e
        if fen != fen.to_integral_value():
            raise InvalidInput(f"price {value!r} is not a whole number of fen (0.01 yuan)")
        price = Price(int(fen), unit)
    else:
        raise InvalidInput(f"bad price {value!r}")
    if price.amount_fen < 0:
        raise InvalidInput(f"a price cannot be negative; got {price.amount_fen} fen")
    if price.amount_fen > MAX_FEN:
        raise InvalidInput(f"a price is at most {MAX_FEN} fen; got {str(price.amount_fen)[:40]}")
    if price.unit not in PRICE_UNITS:
        raise InvalidInput(f"unknown price unit {price.unit!r}; use one of {', '.join(PRICE_UNITS)}")
    return price


def parse_expiry(value: datetime | date | str | None) -> datetime | None:
    """A date means "until the end of that day, UTC"; a datetime needs a time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError as e:
            raise InvalidInput(f"bad expiry {value!r}: use YYYY-MM-DD or an ISO 8601 time") from e
    if not isinstance(value, datetime):
        if value.year > MAX_EXPIRY_YEAR:
            raise InvalidInput(f"an expiry is at the latest in {MAX_EXPIRY_YEAR}; got {value.year}")
        return datetime.combine(value + timedelta(days=1), time(), tzinfo=UTC)
    if value.tzinfo is None:
        raise InvalidInput("an expiry time needs a time zone (e.g. 2027-06-30T00:00:00+08:00)")
    if value.year > MAX_EXPIRY_YEAR:
        raise InvalidInput(f"an expiry is at the latest in {MAX_EXPIRY_YEAR}; got {value.year}")
    return value.astimezone(UTC)


def _fixed(value: float | str | None, scale: int, name: str, *, below_one: bool = False) -> int | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) * scale
    except InvalidOperation as e:
        raise InvalidInput(f"{name} must be a number; got {value!r}") from e
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(f"{name} must be positive; got {value!r}")
    if below_one and amount >= scale:
        raise InvalidInput(f"{name} must be below 1; got {value!r}")
    if name == "epsilon" and amount > Decimal(str(MAX_EPSILON)) * scale:
        raise InvalidInput(f"epsilon is at most {MAX_EPSILON:g}; got {str(value)[:40]}")
    return int(amount.to_integral_value())


def _count(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise InvalidInput(f"{name} must be a positive integer; got {str(value)[:40]}")
    if value is not None and value > MAX_COUNT:
        raise InvalidInput(f"{name} is at most {MAX_COUNT}; got {str(value)[:40]}")
    return value


# -- the tier rule ---------------------------------------------------------------------------------
def sensitivity(session: Session, dataset_id: str) -> tuple[str, str | None]:
    """``(category, grade)`` of the stored classification; ``("unclassified", None)`` when none."""
    row = session.get(ClassificationRow, dataset_id)
    if row is None:
        return "unclassified", None
    order = ("non_personal", "personal", "sensitive_personal")
    found = [f.get("category") for f in row.fields if isinstance(f, dict)]
    category = max((c for c in found if c in order), key=order.index, default="non_personal")
    if row.grade in ("general-4", "important", "core") and category == "non_personal":
        category = "personal"  # a high grade without a stated category is not assumed harmless
    return category, row.grade


def check_tier(category: str, grade: str | None, tier: str, legal_basis: str | None) -> None:
    """Raises ``Forbidden`` when the classification does not allow offering ``tier``."""
    if tier in ("L0", "L1", "L2"):
        return
    label = "unclassified" if grade is None else f"{category} data of grade {grade}"
    if grade == "core":
        raise Forbidden(f"core data never leaves the node: offer it at L0-L2, not {tier}")
    if tier == "L3":
        if grade == "important" and legal_basis is None:
            raise Forbidden("an L3 offer of important data needs a legal basis (--legal-basis)")
        return
    if category == "non_personal" and grade == "general-1":
        return
    strong = grade is None or category == "sensitive_personal" or grade == "important"
    needed = STRONG_BASES if strong else LEGAL_BASES
    if legal_basis not in needed:
        raise Forbidden(
            f"an L4 offer of {label} needs a recorded legal basis: one of {', '.join(needed)}"
            + (f" (got {legal_basis!r})" if legal_basis else "")
            + "; classify the dataset, or offer a de-identified extract at L3"
        )


# -- services --------------------------------------------------------------------------------------
def create_offer(
    node: Node,
    dataset_id: str,
    *,
    actor: Party,
    tier: str,
    purposes: list[str],
    expires: datetime | date | str | None = None,
    price: str | int | dict[str, Any] | Price = 0,
    epsilon: float | str | None = None,
    delta: float | str | None = None,
    max_rows: int | None = None,
    max_queries: int | None = None,
    prohibitions: list[str] | None = None,
    duties: list[str] | None = None,
    approval: str = "manual",
    legal_basis: str | None = None,
) -> Offer:
    """Creates and logs (``offer.created``) an offer; only the dataset's owner may."""
    if tier not in odrl.TIERS:
        raise InvalidInput(f"unknown tier {tier!r}; use one of {', '.join(odrl.TIERS)}")
    bad = [p for p in purposes if not _PURPOSE.match(p)]
    if not purposes or bad:
        raise InvalidInput(
            f"purposes must be 1+ lowercase names like ai-training; bad: {bad or 'none given'}"
        )
    expires_at = parse_expiry(expires)
    if expires_at is not None and expires_at <= utc_now():
        raise InvalidInput(f"the expiry {iso(expires_at)} is in the past")
    the_price = parse_price(price)
    if tier not in UNIT_TIERS[the_price.unit]:
        raise InvalidInput(f"a price per {the_price.unit} does not fit tier {tier}")
    eps = _fixed(epsilon, odrl.EPSILON_SCALE, "epsilon")
    dlt = _fixed(delta, odrl.DELTA_SCALE, "delta", below_one=True)
    if the_price.unit == "epsilon" and tier == "L2" and eps is None:
        raise InvalidInput("a per-ε price on an L2 offer needs an ε budget (--epsilon)")
    if tier == "L1" and eps is None:
        raise InvalidInput("an L1 offer needs an ε budget (--epsilon)")
    if tier not in ("L1", "L2") and (eps is not None or dlt is not None):
        raise InvalidInput("ε and δ budgets belong to L1 offers (DP answers) and L2 offers (DP training)")
    rows, queries = _count(max_rows, "max_rows"), _count(max_queries, "max_queries")
    if rows is not None and tier not in ("L3", "L4"):
        raise InvalidInput("a row limit belongs to L3/L4 offers")
    if queries is not None and tier not in ("L1", "L2"):
        raise InvalidInput("a query limit belongs to L1/L2 offers")
    banned = list(dict.fromkeys(prohibitions or []))
    if unknown := [p for p in banned if p not in odrl.PROHIBITIONS]:
        raise InvalidInput(f"unknown prohibition(s) {unknown}; use {', '.join(odrl.PROHIBITIONS)}")
    if tier == "L3" and "reidentification" not in banned:
        banned.append("reidentification")
    owed = _default_duties(tier, expires_at) if duties is None else list(dict.fromkeys(duties))
    if unknown := [d for d in owed if d not in odrl.DUTIES]:
        raise InvalidInput(f"unknown duty(ies) {unknown}; use {', '.join(odrl.DUTIES)}")
    if "delete_on_expiry" in owed and expires_at is None:
        raise InvalidInput("the duty to delete on expiry needs an expiry (--expires)")
    if approval not in APPROVALS:
        raise InvalidInput(f"approval must be one of {', '.join(APPROVALS)}; got {approval!r}")
    if legal_basis is not None and legal_basis not in LEGAL_BASES:
        raise InvalidInput(f"unknown legal basis {legal_basis!r}; use one of {', '.join(LEGAL_BASES)}")
    check(node, actor, "create_offer", dataset_id)
    try:
        with node.transaction() as s:
            category, grade = sensitivity(s, dataset_id)
            check_tier(category, grade, tier, legal_basis)
            offer_id = new_id("off")
            policy = odrl.Policy(
                kind="Offer",
                uid=offer_id,
                target=dataset_id,
                assigner=actor.id,
                tier=tier,
                purposes=tuple(purposes),
                expires=expires_at,
                max_queries=queries,
                epsilon_nano=eps,
                delta_atto=dlt,
                max_rows=rows,
                prohibitions=tuple(banned),
                duties=tuple(owed),
                legal_basis=legal_basis,
            )
            row = OfferRow(
                id=offer_id,
                dataset_id=dataset_id,
                provider_id=actor.id,
                tier=tier,
                purposes=list(purposes),
                expires_at=expires_at,
                price=the_price.to_dict(),
                epsilon_nano=eps,
                delta_atto=dlt,
                max_rows=rows,
                max_queries=queries,
                prohibitions=banned,
                duties=owed,
                approval=approval,
                legal_basis=legal_basis,
                policy=odrl.to_jsonld(policy),
                created_at=utc_now(),
                log_index=-1,
            )
            s.add(row)
            s.flush()
            record: dict[str, Any] = {
                "offer_id": offer_id,
                "dataset_id": dataset_id,
                "classification": category,
            }
            record |= {"grade": grade, "price": row.price, "approval": approval, "policy": row.policy}
            row.log_index = node.log.append(s, "offer.created", record, actor=actor.id).index
            node.log.checkpoint(s)
            return Offer.of(row)
    except (Forbidden, Conflict) as e:
        refused = {"dataset_id": dataset_id, "tier": tier}
        node.log.refusal(node.transaction, "offer.refused", e, actor=actor.id, data=refused)
        raise


def _default_duties(tier: str, expires_at: datetime | None) -> list[str]:
    duties = ["attribution"]
    if tier in ("L3", "L4") and expires_at is not None:
        duties.append("delete_on_expiry")
    return duties


def get_offer(node: Node, offer_id: str) -> Offer:
    with node.session() as s:
        return Offer.of(get_offer_row(s, offer_id))


def get_offer_row(session: Session, offer_id: str) -> OfferRow:
    row = session.get(OfferRow, offer_id)
    if row is None:
        raise OfferNotFound(offer_id)
    return row


def list_offers(
    node: Node, *, viewer: Viewer = None, dataset_id: str | None = None, provider_id: str | None = None
) -> list[Offer]:
    """Offers are catalog information (L0): ``viewer`` sees the offers of the datasets it may see
    (another party's private dataset and its offers do not exist for it: rule 1 of the policy)."""
    q = select(OfferRow).order_by(OfferRow.created_at, OfferRow.id)
    visible = visible_offers(viewer)
    if visible is not None:
        q = q.where(visible)
    if dataset_id is not None:
        q = q.where(OfferRow.dataset_id == dataset_id)
    if provider_id is not None:
        q = q.where(OfferRow.provider_id == provider_id)
    with node.session() as s:
        return [Offer.of(r) for r in s.scalars(q)]
