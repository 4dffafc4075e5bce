"""Full-text search over the catalog, in Chinese and English, on SQLite and PostgreSQL.

Each dataset has one search document (``search_documents``): its title, keywords, column names,
field descriptions and description, each segmented into terms by ``dataex.catalog.text``. The
backend ranks: SQLite with FTS5's ``bm25()`` (column weights below), PostgreSQL with
``ts_rank`` over a weighted tsvector. The document also carries the dataset's owner, license
(lower-cased) and visibility, so that ranking and filtering read ``search_documents`` alone.
Snippets and ``matched_fields`` are built here, from the original (unsegmented) text and the
query's terms, so they read the same on both backends.
See docs/search.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import ColumnElement, Select, String, bindparam, func, literal_column, select, text
from sqlalchemy.orm import Session

from dataex.catalog import text as tx
from dataex.catalog.datasets import get_dataset_row
from dataex.catalog.snippets import field_texts, snippet
from dataex.contracts.odrl import TIERS
from dataex.db.models import (
    ClassificationRow,
    DatasetMetadataRow,
    DatasetRow,
    OfferRow,
    QualityReportRow,
    SearchDocumentRow,
)
from dataex.errors import InvalidInput
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now
from dataex.policy import visible_condition

if TYPE_CHECKING:
    from dataex.node import Node

MAX_QUERY_CHARS: Final = 500
MAX_LIMIT: Final = 100
INDEXED: Final = ("title", "keywords", "column_names", "field_descriptions", "description")
# FTS5 bm25() weights, in the column order of search_fts (see migration 0004).
BM25_WEIGHTS: Final = (10.0, 5.0, 4.0, 2.0, 1.0)
Mode = Literal["all", "any"]


@dataclass(frozen=True)
class SearchHit:
    dataset_id: str
    title: str
    owner_id: str
    license: str
    score: float
    snippet: str
    matched_fields: list[str]


@dataclass(frozen=True)
class SearchResult:
    query: str
    terms: list[str]
    mode: Mode
    total: int
    hits: list[SearchHit]


@dataclass(frozen=True)
class Viewer:
    """Whose view of the catalog: the operator sees every dataset, a party its own private ones."""

    party: Party | None

    @classmethod
    def of(cls, actor: Party | None) -> Viewer:
        return cls(party=actor)


@dataclass(frozen=True)
class Filters:
    license: str | None = None
    owner: str | None = None
    quality_grade: str | None = None
    sensitivity: str | None = None
    tier: str | None = None


# -- indexing ----------------------------------------------------------------------------------
def document(row: DatasetRow, meta: DatasetMetadataRow | None) -> dict[str, str]:
    """The segmented texts of a dataset's search document."""
    texts = field_texts(row, meta)
    names = [t for c in row.columns for t in tx.identifier_terms(str(c.get("name", "")))]
    return {
        "title": tx.joined(tx.terms(texts["title"])),
        "keywords": tx.joined(tx.terms(texts["keywords"])),
        "column_names": tx.joined(names),
        "field_descriptions": tx.joined(tx.terms(texts["field_descriptions"])),
        "description": tx.joined(tx.terms(texts["description"])),
    }


def filter_fields(row: DatasetRow, meta: DatasetMetadataRow | None) -> dict[str, str]:
    """The dataset's owner, license (lower-cased) and visibility, as the search document copies them."""
    return {
        "owner_id": row.owner_id,
        "license": row.license.strip().lower(),
        "visibility": meta.visibility if meta is not None and meta.visibility else "public",
    }


def reindex_dataset(session: Session, dataset_id: str) -> None:
    """(Re)builds the dataset's search document inside the caller's transaction."""
    row = get_dataset_row(session, dataset_id)
    meta = session.get(DatasetMetadataRow, dataset_id)
    doc = {**document(row, meta), **filter_fields(row, meta)}
    existing = session.scalar(select(SearchDocumentRow).where(SearchDocumentRow.dataset_id == dataset_id))
    if existing is None:
        session.add(SearchDocumentRow(dataset_id=dataset_id, updated_at=utc_now(), **doc))
    elif any(getattr(existing, k) != v for k, v in doc.items()):
        for k, v in doc.items():
            setattr(existing, k, v)
        existing.updated_at = utc_now()
    session.flush()


def rebuild_index(node: Node) -> int:
    """Rebuilds every dataset's search document (after an upgrade, or a tokenizer change)."""
    with node.transaction() as s:
        ids = list(s.scalars(select(DatasetRow.id).order_by(DatasetRow.id)))
        for dataset_id in ids:
            reindex_dataset(s, dataset_id)
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    return len(ids)


# -- querying ----------------------------------------------------------------------------------
def query_terms(query: str) -> list[str]:
    """The distinct terms of a query; ``InvalidInput`` for an empty, too long or wordless query."""
    stripped = query.strip()
    if not stripped:
        raise InvalidInput("the search query is empty; give one or more words, e.g. 门诊 诊断")
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the search query has {len(stripped)} characters; the limit is {MAX_QUERY_CHARS}",
            length=len(stripped),
            limit=MAX_QUERY_CHARS,
        )
    found = tx.distinct(tx.terms(stripped))
    if not found:
        raise InvalidInput(
            f"the search query {stripped[:40]!r} has no searchable words (only punctuation or stop words)"
        )
    return found


def match_expression(dialect: str, terms: Sequence[str], mode: Mode) -> str:
    """The backend's full-text query for ``terms`` (all of them, or any of them)."""
    quoted = [t.replace('"', "").replace("'", "") for t in terms]
    if dialect == "sqlite":
        return (" AND " if mode == "all" else " OR ").join(f'"{t}"' for t in quoted)
    return (" & " if mode == "all" else " | ").join(f"'{t}'" for t in quoted)


def _sqlite_hits() -> Any:
    """SQLite: a subquery of (doc_id, score) for the FTS5 rows matching the bound parameter ``:q``."""
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    return (
        select(
            literal_column("search_fts.rowid").label("doc_id"),
            literal_column(f"-bm25(search_fts, {weights})").label("score"),
        )
        .select_from(text("search_fts"))
        .where(text("search_fts MATCH :q"))
        .subquery("hits")
    )


def _pg_match() -> tuple[ColumnElement[bool], ColumnElement[float]]:
    """PostgreSQL: the condition ``tsv @@ :q`` (served by the GIN index) and the score.

    ``ts_rank`` with normalization 1 (divided by 1 + log(document length)): it reads only the
    positions' weights, cheaper than ``ts_rank_cd``'s cover search, and it runs for every match.
    """
    tsv: ColumnElement[Any] = literal_column("search_documents.tsv")
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("q", type_=String))
    return tsv.op("@@")(tsquery), func.ts_rank(tsv, tsquery, 1)


def visible_to(viewer: Viewer) -> ColumnElement[bool] | None:
    """Rule 2 of :mod:`dataex.policy` on the index's copy of visibility and owner."""
    return visible_condition(
        viewer.party,
        dataset_id=SearchDocumentRow.dataset_id,
        owner_id=SearchDocumentRow.owner_id,
        private=SearchDocumentRow.visibility == "private",
    )


def _filtered(q: Select[Any], viewer: Viewer, filters: Filters) -> Select[Any]:
    """``q`` (over ``search_documents``) restricted to what ``viewer`` sees and ``filters`` pass."""
    doc_dataset = SearchDocumentRow.dataset_id
    visible = visible_to(viewer)
    if visible is not None:
        q = q.where(visible)
    if filters.license is not None:
        q = q.where(SearchDocumentRow.license == filters.license.strip().lower())
    if filters.owner is not None:
        q = q.where(SearchDocumentRow.owner_id == filters.owner)
    if filters.quality_grade is not None:
        graded = select(QualityReportRow.dataset_id).where(
            QualityReportRow.dataset_id == doc_dataset, QualityReportRow.grade == filters.quality_grade
        )
        q = q.where(graded.exists())
    if filters.tier is not None:
        offered = select(OfferRow.id).where(OfferRow.dataset_id == doc_dataset, OfferRow.tier == filters.tier)
        q = q.where(offered.exists())
    if filters.sensitivity is not None:
        classified = select(ClassificationRow.dataset_id).where(
            ClassificationRow.dataset_id == doc_dataset, ClassificationRow.grade == filters.sensitivity
        )
        q = q.where(classified.exists())
    return q


def ranked_query(dialect: str, viewer: Viewer, filters: Filters) -> Select[Any]:
    """(dataset id, score) of the datasets matching ``:q``, visible to ``viewer`` and passing
    ``filters``, best first (ties by dataset id). Reads ``search_documents`` (and, on SQLite, the
    FTS5 table) only, unless a quality, tier or sensitivity filter asks about other tables."""
    if dialect == "sqlite":
        hits = _sqlite_hits()
        q = (
            select(SearchDocumentRow.dataset_id, hits.c.score)
            .select_from(hits)
            .join(SearchDocumentRow, SearchDocumentRow.id == hits.c.doc_id)
            .order_by(hits.c.score.desc(), SearchDocumentRow.dataset_id)
        )
    else:
        matches, score = _pg_match()
        q = (
            select(SearchDocumentRow.dataset_id, score.label("score"))
            .where(matches)
            .order_by(literal_column("score").desc(), SearchDocumentRow.dataset_id)
        )
    return _filtered(q, viewer, filters)


def count_query(dialect: str, viewer: Viewer, filters: Filters) -> Select[Any]:
    """The number of datasets ``ranked_query`` yields, without scoring or sorting them."""
    if dialect == "sqlite":
        matching: Select[Any] = select(literal_column("search_fts.rowid")).select_from(text("search_fts"))
        q = (
            select(func.count())
            .select_from(SearchDocumentRow)
            .where(SearchDocumentRow.id.in_(matching.where(text("search_fts MATCH :q"))))
        )
    else:
        matches, _ = _pg_match()
        q = select(func.count()).select_from(SearchDocumentRow).where(matches)
    return _filtered(q, viewer, filters)


def ranked(
    session: Session,
    terms: Sequence[str],
    *,
    mode: Mode,
    viewer: Viewer,
    filters: Filters | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[tuple[str, float]], int]:
    """One page of (dataset id, score), best first, and the number of all matching datasets.

    The number is counted by a second, unscored query, and only when the page does not already
    tell it (a first page shorter than ``limit`` holds every match).
    """
    dialect = session.get_bind().dialect.name
    filters = filters or Filters()
    params = {"q": match_expression(dialect, terms, mode)}
    q = ranked_query(dialect, viewer, filters).limit(limit).offset(offset)
    page = [(r[0], float(r[1])) for r in session.execute(q, params).all()]
    if (offset == 0 and len(page) < limit) or (0 < len(page) < limit):
        return page, offset + len(page)
    return page, int(session.execute(count_query(dialect, viewer, filters), params).scalar_one())


# -- browsing (no query: the catalog's newest datasets) -----------------------------------------
def browse_page(session: Session, *, viewer: Viewer, filters: Filters, limit: int, offset: int) -> list[str]:
    """One page of the ids of the datasets ``viewer`` sees that pass ``filters``, newest first.

    What a catalog shows before anything is searched; the same visibility rule and filters as
    ``search``, read from ``search_documents``.
    """
    q = _filtered(select(SearchDocumentRow.dataset_id), viewer, filters)
    return list(session.scalars(q.order_by(SearchDocumentRow.id.desc()).limit(limit).offset(offset)))


def browse_count(session: Session, *, viewer: Viewer, filters: Filters) -> int:
    """How many datasets ``browse_page`` pages through (it reads every matching search document)."""
    q = _filtered(select(func.count()).select_from(SearchDocumentRow), viewer, filters)
    return int(session.scalar(q) or 0)


def _validate_page(limit: int, offset: int, tier: str | None) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}; got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more; got {offset}")
    if tier is not None and tier not in TIERS:
        raise InvalidInput(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")


def search(
    node: Node,
    query: str,
    *,
    limit: int = 20,
    offset: int = 0,
    license: str | None = None,
    owner: str | None = None,
    tier: str | None = None,
    quality_grade: str | None = None,
    sensitivity: str | None = None,
    actor: Party | None = None,
) -> SearchResult:
    """Ranked datasets for ``query``; all terms must match, or (when none does) any of them.

    ``actor`` ``None`` is the local operator, who sees every dataset; a party sees public datasets
    and its own private ones.
    """
    _validate_page(limit, offset, tier)
    found = query_terms(query)
    filters = Filters(
        license=license, owner=owner, quality_grade=quality_grade, sensitivity=sensitivity, tier=tier
    )
    viewer = Viewer.of(actor)
    with node.session() as s:
        mode: Mode = "all"
        page, total = ranked(s, found, mode=mode, viewer=viewer, filters=filters, limit=limit, offset=offset)
        if total == 0 and len(found) > 1:
            mode = "any"
            page, total = ranked(
                s, found, mode=mode, viewer=viewer, filters=filters, limit=limit, offset=offset
            )
        hits = _describe_hits(s, page, found)
    return SearchResult(query=query.strip(), terms=found, mode=mode, total=total, hits=hits)


def _describe_hits(session: Session, page: list[tuple[str, float]], found: list[str]) -> list[SearchHit]:
    if not page:
        return []
    ids = [dataset_id for dataset_id, _ in page]
    rows = session.execute(
        select(DatasetRow, DatasetMetadataRow, SearchDocumentRow)
        .join(SearchDocumentRow, SearchDocumentRow.dataset_id == DatasetRow.id)
        .outerjoin(DatasetMetadataRow, DatasetMetadataRow.dataset_id == DatasetRow.id)
        .where(DatasetRow.id.in_(ids))
    ).all()
    by_id = {r[0].id: r for r in rows}
    wanted = set(found)
    hits = []
    for dataset_id, score in page:
        row, meta, doc = by_id[dataset_id]
        matched = [f for f in INDEXED if wanted & set(str(getattr(doc, f)).split())]
        hits.append(
            SearchHit(
                dataset_id=row.id,
                title=row.title,
                owner_id=row.owner_id,
                license=row.license,
                score=round(score, 6),
                snippet=snippet(field_texts(row, meta), found, matched),
                matched_fields=matched,
            )
        )
    return hits
