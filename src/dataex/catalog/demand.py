"""The demand board: consumers post the data they want; matching finds datasets that could serve it.

A demand and a dataset score ``0.7 × field_score + 0.3 × text_score`` (docs/search.md):

* ``field_score``: the mean, over the demand's fields, of the best column match
  (``dataex.catalog.fields``: same name or synonym 1.0, semantic type 0.9, name part ≤ 0.7,
  column description 0.5, none 0);
* ``text_score``: the share of the distinct terms of the demand's title and description that occur
  in the dataset's search document.

Matches under ``MIN_SCORE`` are dropped. Candidates for a demand come from the search index (any of
the demand's terms, or a synonym of a wanted field); each is then scored exactly as above, so a pair
scores the same whichever side asks. Posting (``demand.posted``), closing (``demand.closed``) and
every matching run (``demand.matched``; ``dataset.demands_matched`` for a provider's view) are
logged in the transparency log, in the transaction that computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataex.catalog import text as tx
from dataex.catalog.datasets import get_dataset_row
from dataex.catalog.fields import FieldMatch, best_matches, normalize, search_terms
from dataex.catalog.search import INDEXED, Viewer, ranked
from dataex.db.models import DatasetMetadataRow, DatasetRow, DemandRow, SearchDocumentRow
from dataex.errors import Conflict, InvalidInput, NotFound
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import check

if TYPE_CHECKING:
    from dataex.node import Node

Status = Literal["open", "closed"]
FIELD_WEIGHT: Final = 0.7
TEXT_WEIGHT: Final = 0.3
MIN_SCORE: Final = 0.1
CANDIDATES: Final = 500
MAX_FIELDS: Final = 50
MAX_BUDGET: Final = 10**15


@dataclass(frozen=True)
class Demand:
    id: str
    consumer_id: str
    title: str
    description: str
    fields: list[str]
    purpose: str
    budget: int | None
    deadline: date | None
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: DemandRow) -> Demand:
        return cls(
            id=row.id,
            consumer_id=row.consumer_id,
            title=row.title,
            description=row.description,
            fields=list(row.fields),
            purpose=row.purpose,
            budget=row.budget,
            deadline=row.deadline,
            status=row.status,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class Score:
    score: float
    field_score: float
    text_score: float
    matched_fields: list[FieldMatch]
    missing_fields: list[str]


@dataclass(frozen=True)
class Match:
    """A dataset that could serve a demand, and why."""

    dataset_id: str
    title: str
    owner_id: str
    score: float
    field_score: float
    text_score: float
    matched_fields: list[FieldMatch]
    missing_fields: list[str]


@dataclass(frozen=True)
class DemandMatch:
    """A demand one of the provider's datasets could serve, and why."""

    demand: Demand
    score: float
    field_score: float
    text_score: float
    matched_fields: list[FieldMatch]
    missing_fields: list[str]


# -- posting -----------------------------------------------------------------------------------
def _text(value: str, what: str, *, limit: int, required: bool = True) -> str:
    value = value.strip()
    if (required and not value) or len(value) > limit:
        need = f"1 to {limit}" if required else f"at most {limit}"
        raise InvalidInput(f"a demand needs {what} of {need} characters")
    return value


def _fields(fields: list[str]) -> list[str]:
    cleaned = [f.strip() for f in fields if f.strip()]
    if not cleaned or len(cleaned) > MAX_FIELDS:
        raise InvalidInput(f"a demand names 1 to {MAX_FIELDS} wanted fields, e.g. --fields image,report,age")
    bad = [f for f in cleaned if len(f) > 100 or not normalize(f)]
    if bad:
        raise InvalidInput(f"field names need a letter or digit and at most 100 characters: {bad[:5]}")
    seen: dict[str, str] = {}
    for f in cleaned:
        seen.setdefault(normalize(f), f)
    return list(seen.values())


def _budget(budget: int | None) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidInput(f"the budget is a whole number of fen; got {budget!r}")
    if budget < 0 or budget > MAX_BUDGET:
        raise InvalidInput(f"the budget must be between 0 and {MAX_BUDGET} fen; got {budget}")
    return budget


def _deadline(deadline: date | None) -> date | None:
    today = utc_now().date()
    if deadline is not None and deadline < today:
        raise InvalidInput(
            f"the deadline {deadline.isoformat()} is in the past (today is {today.isoformat()})"
        )
    return deadline


def posted_record(row: DemandRow) -> dict[str, Any]:
    """What the ``demand.posted`` log entry says about the demand."""
    return {
        "demand_id": row.id,
        "consumer": row.consumer_id,
        "title": row.title,
        "description": row.description,
        "fields": row.fields,
        "purpose": row.purpose,
        "budget": row.budget,
        "deadline": row.deadline.isoformat() if row.deadline else None,
    }


def post_demand(
    node: Node,
    *,
    actor: Party,
    title: str,
    fields: list[str],
    purpose: str,
    budget: int | None = None,
    deadline: date | None = None,
    description: str = "",
) -> Demand:
    """Posts a demand for ``actor`` (a consumer); logged as ``demand.posted``."""
    check(node, actor, "post_demand")
    row = DemandRow(
        id=new_id("dmd"),
        consumer_id=actor.id,
        title=_text(title, "a title", limit=500),
        description=_text(description, "a description", limit=10_000, required=False),
        fields=_fields(fields),
        purpose=_text(purpose, "a purpose", limit=500),
        budget=_budget(budget),
        deadline=_deadline(deadline),
        status="open",
        created_at=utc_now(),
    )
    with node.transaction() as s:
        s.add(row)
        s.flush()
        node.log.append(s, "demand.posted", posted_record(row), actor=actor.id)
        node.log.checkpoint(s)
        return Demand.of(row)


# -- reading and closing -----------------------------------------------------------------------
def _demand_row(session: Session, demand_id: str) -> DemandRow:
    row = session.get(DemandRow, demand_id)
    if row is None:
        raise NotFound(
            f"no demand with id {demand_id!r} (list them with `dataex demand list`)", demand_id=demand_id
        )
    return row


def get_demand(node: Node, demand_id: str) -> Demand:
    with node.session() as s:
        return Demand.of(_demand_row(s, demand_id))


def list_demands(node: Node, *, status: str = "open", consumer: str | None = None) -> list[Demand]:
    """Demands with ``status`` (open, closed or all), newest first."""
    if status not in ("open", "closed", "all"):
        raise InvalidInput(f"unknown demand status {status!r}; use open, closed or all")
    q = select(DemandRow).order_by(DemandRow.created_at.desc(), DemandRow.id)
    if status != "all":
        q = q.where(DemandRow.status == status)
    if consumer is not None:
        q = q.where(DemandRow.consumer_id == consumer)
    with node.session() as s:
        return [Demand.of(r) for r in s.scalars(q)]


def close_demand(node: Node, demand_id: str, *, actor: Party | None = None) -> Demand:
    """Closes an open demand (its consumer or the operator); logged as ``demand.closed``."""
    with node.session() as s:
        _demand_row(s, demand_id)  # NotFound first: the demand board is public
    check(node, actor, "close_demand", demand_id)
    with node.transaction() as s:
        row = _demand_row(s, demand_id)
        if row.status != "open":
            raise Conflict(f"demand {demand_id} is already {row.status}", demand_id=demand_id)
        row.status = "closed"
        s.flush()
        node.log.append(s, "demand.closed", {"demand_id": row.id}, actor=_actor_id(actor))
        node.log.checkpoint(s)
        return Demand.of(row)


# -- matching ----------------------------------------------------------------------------------
def demand_terms(row: DemandRow) -> list[str]:
    return tx.distinct(tx.terms(f"{row.title}\n{row.description}"))


def score_pair(demand: DemandRow, wanted_terms: list[str], dataset: DatasetRow, meta: Any, doc: Any) -> Score:
    """The demand–dataset score (module docstring), with the field matches that explain it."""
    fields = meta.fields if meta is not None and isinstance(meta.fields, dict) else {}
    columns = [str(c.get("name", "")) for c in dataset.columns]
    found, missing = best_matches(list(demand.fields), columns, fields)
    field_score = sum(m.score for m in found) / max(1, len(demand.fields))
    doc_terms = {t for f in INDEXED for t in str(getattr(doc, f)).split()} if doc is not None else set()
    text_score = len(doc_terms.intersection(wanted_terms)) / len(wanted_terms) if wanted_terms else 0.0
    total = FIELD_WEIGHT * field_score + TEXT_WEIGHT * text_score
    return Score(round(total, 4), round(field_score, 4), round(text_score, 4), found, missing)


def _load(session: Session, ids: list[str]) -> list[tuple[DatasetRow, Any, Any]]:
    rows = session.execute(
        select(DatasetRow, DatasetMetadataRow, SearchDocumentRow)
        .outerjoin(DatasetMetadataRow, DatasetMetadataRow.dataset_id == DatasetRow.id)
        .outerjoin(SearchDocumentRow, SearchDocumentRow.dataset_id == DatasetRow.id)
        .where(DatasetRow.id.in_(ids))
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _candidates(session: Session, demand: DemandRow, viewer: Viewer) -> list[str]:
    wanted = tx.distinct([*demand_terms(demand), *search_terms(list(demand.fields))])
    if not wanted:
        return []
    page, _ = ranked(session, wanted, mode="any", viewer=viewer, limit=CANDIDATES)
    return [dataset_id for dataset_id, _ in page]


def match_demand(node: Node, demand_id: str, *, limit: int = 10, actor: Party | None = None) -> list[Match]:
    """Datasets visible to ``actor`` that could serve the demand, best first; logged."""
    if not 1 <= limit <= 100:
        raise InvalidInput(f"limit must be between 1 and 100; got {limit}")
    with node.transaction() as s:
        demand = _demand_row(s, demand_id)
        wanted = demand_terms(demand)
        matches = []
        for dataset, meta, doc in _load(s, _candidates(s, demand, Viewer.of(actor))):
            sc = score_pair(demand, wanted, dataset, meta, doc)
            if sc.score >= MIN_SCORE:
                matches.append(_match(dataset, sc))
        matches.sort(key=lambda m: (-m.score, m.dataset_id))
        matches = matches[:limit]
        record = {
            "demand_id": demand_id,
            "matches": [{"dataset_id": m.dataset_id, "score": m.score} for m in matches],
        }
        node.log.append(s, "demand.matched", record, actor=_actor_id(actor))
        node.log.checkpoint(s)
    return matches


def demands_for_dataset(
    node: Node, dataset_id: str, *, actor: Party | None = None, limit: int = 20
) -> list[DemandMatch]:
    """Open demands the dataset could serve, best first (its owner or the operator); logged."""
    if not 1 <= limit <= 100:
        raise InvalidInput(f"limit must be between 1 and 100; got {limit}")
    check(node, actor, "see_demands", dataset_id)
    with node.transaction() as s:
        dataset = get_dataset_row(s, dataset_id)
        _, meta, doc = _load(s, [dataset_id])[0]
        out = []
        for demand in s.scalars(select(DemandRow).where(DemandRow.status == "open")):
            sc = score_pair(demand, demand_terms(demand), dataset, meta, doc)
            if sc.score >= MIN_SCORE:
                out.append(DemandMatch(Demand.of(demand), *_explained(sc)))
        out.sort(key=lambda m: (-m.score, m.demand.id))
        out = out[:limit]
        record = {
            "dataset_id": dataset_id,
            "demands": [{"demand_id": m.demand.id, "score": m.score} for m in out],
        }
        node.log.append(s, "dataset.demands_matched", record, actor=_actor_id(actor))
        node.log.checkpoint(s)
    return out


def _explained(sc: Score) -> tuple[float, float, float, list[FieldMatch], list[str]]:
    return sc.score, sc.field_score, sc.text_score, sc.matched_fields, sc.missing_fields


def _match(dataset: DatasetRow, sc: Score) -> Match:
    return Match(dataset.id, dataset.title, dataset.owner_id, *_explained(sc))


def _actor_id(actor: Party | None) -> str:
    return actor.id if actor is not None else "operator"
