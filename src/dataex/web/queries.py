"""Read-only queries the console needs that no service offers yet (each one or two SELECTs).

They read what the services wrote and apply the same visibility rules (``catalog.search``'s viewer
and filters, ``compute.jobs``' readers); they change nothing and log nothing. When a service grows
the same query, the page should call the service instead and the function here should go.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select

from dataex.catalog.search import Filters, Viewer, browse_count, browse_page
from dataex.db.models import (
    CheckpointRow,
    ComputeJobRow,
    DatasetRow,
    ExtractRow,
    LogEntryRow,
    PartyRow,
    PsiSessionRow,
    QualityReportRow,
    SearchDocumentRow,
)
from dataex.identity.parties import Party
from dataex.policy import visible_datasets

if TYPE_CHECKING:
    from dataex.exchange import Exchange


@dataclass(frozen=True)
class Card:
    """What a catalog card shows of one dataset."""

    dataset_id: str
    title: str
    owner: str
    license: str
    rows: int
    grade: str | None


_COUNTS: OrderedDict[tuple[Any, ...], int] = OrderedDict()
_COUNTS_KEPT = 256
_COUNTS_LOCK = threading.Lock()


def browse(ex: Exchange, *, actor: Party, filters: Filters, limit: int, offset: int) -> tuple[list[str], int]:
    """The newest datasets ``actor`` may see that pass ``filters`` (one page of ids) and their number.

    The number is counted once per (viewer, filters) until the log grows (every catalog change
    appends a log entry), since counting reads every search document.
    """
    viewer = Viewer.of(actor)
    with ex.session() as s:
        page = browse_page(s, viewer=viewer, filters=filters, limit=limit, offset=offset)
        if offset == 0 and len(page) < limit:
            return page, len(page)
        key = (id(ex), ex.log.size(s), viewer, filters)
        total = _COUNTS.get(key)
        if total is None:
            total = browse_count(s, viewer=viewer, filters=filters)
    with _COUNTS_LOCK:
        _COUNTS[key] = total
        _COUNTS.move_to_end(key)
        while len(_COUNTS) > _COUNTS_KEPT:
            _COUNTS.popitem(last=False)
    return page, total


def cards(ex: Exchange, dataset_ids: list[str]) -> dict[str, Card]:
    """Title, owner name, license, rows and quality grade of each dataset, in one query."""
    if not dataset_ids:
        return {}
    q = (
        select(DatasetRow.id, DatasetRow.title, PartyRow.name, DatasetRow.license, DatasetRow.rows)
        .add_columns(QualityReportRow.grade)
        .join(PartyRow, PartyRow.id == DatasetRow.owner_id)
        .outerjoin(QualityReportRow, QualityReportRow.dataset_id == DatasetRow.id)
        .where(DatasetRow.id.in_(dataset_ids))
    )
    with ex.session() as s:
        return {r[0]: Card(r[0], r[1], r[2], r[3], int(r[4]), r[5]) for r in s.execute(q)}


_LICENSES: dict[int, tuple[int, list[str]]] = {}


def licenses(ex: Exchange) -> list[str]:
    """The licenses of the catalog (lower-cased, as search filters them).

    Kept per node until the log grows: every change to the catalog appends a log entry, so the
    cached list is never stale, and reading the log's size is one primary-key read.
    """
    with ex.session() as s:
        size = ex.log.size(s)
        cached = _LICENSES.get(id(ex))
        if cached is not None and cached[0] == size:
            return cached[1]
        found = list(
            s.scalars(select(SearchDocumentRow.license).distinct().order_by(SearchDocumentRow.license))
        )
    _LICENSES[id(ex)] = (size, found)
    return found


@dataclass(frozen=True)
class Lineage:
    """A dataset's ancestors (oldest first) and the datasets derived from it, as (id, title)."""

    ancestors: list[tuple[str, str]]
    derived: list[tuple[str, str]]


def lineage(ex: Exchange, dataset_id: str, *, viewer: Party, depth: int = 8) -> Lineage:
    """Where ``dataset_id`` comes from (``derived_from``, up to ``depth`` steps) and what came from it,
    as far as ``viewer`` may see: a private ancestor of another party ends the chain with its id only
    (``derived_from`` shows that id anyway), a private derived dataset of another party is left out."""
    visible = visible_datasets(viewer)
    seen = select(DatasetRow.id).where(DatasetRow.id == bindparam("id"))
    if visible is not None:
        seen = seen.where(visible)
    ancestors: list[tuple[str, str]] = []
    step = select(DatasetRow.derived_from).where(DatasetRow.id == bindparam("id"))
    title = select(DatasetRow.title).where(DatasetRow.id == bindparam("id"))
    with ex.session() as s:
        parent = s.scalar(step, {"id": dataset_id})
        while parent is not None and len(ancestors) < depth:
            if s.scalar(seen, {"id": parent}) is None:
                ancestors.append((parent, ""))
                break
            ancestors.append((parent, s.scalar(title, {"id": parent}) or ""))
            parent = s.scalar(step, {"id": parent})
        children = (
            select(DatasetRow.id, DatasetRow.title)
            .where(DatasetRow.derived_from == dataset_id)
            .order_by(DatasetRow.registered_at, DatasetRow.id)
        )
        if visible is not None:
            children = children.where(visible)
        derived = [(r[0], r[1]) for r in s.execute(children)]
    return Lineage(ancestors=ancestors[::-1], derived=derived)


def _newest(ex: Exchange, row: Any, consumer_id: str, limit: int, view: Any) -> list[dict[str, Any]]:
    """The consumer's rows of ``row``'s table, newest first, each shown through ``view``."""
    q = (
        select(row)
        .where(row.consumer_id == consumer_id)
        .order_by(row.created_at.desc(), row.id)
        .limit(limit)
    )
    with ex.session() as s:
        return [view(r) for r in s.scalars(q)]


def consumer_jobs(ex: Exchange, consumer_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The consumer's compute jobs, newest first (what ``jobs.get_job`` lets it read)."""
    return _newest(ex, ComputeJobRow, consumer_id, limit, lambda r: {
        "id": r.id,
        "contract_id": r.contract_id,
        "dataset_id": r.dataset_id,
        "state": r.state,
        "reason": r.reason,
        "model": str(r.recipe.get("model", "")),
        "task": str(r.recipe.get("task", "")),
        "metrics": dict(r.metrics),
        "outputs": sorted(r.outputs),
        "created_at": r.created_at,
        "finished_at": r.finished_at,
    })  # fmt: skip


def consumer_psi(ex: Exchange, consumer_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The consumer's PSI sessions (sizes and state, never members), newest first."""
    return _newest(ex, PsiSessionRow, consumer_id, limit, lambda r: {
        "id": r.id,
        "contract_id": r.contract_id,
        "mode": r.mode,
        "state": r.state,
        "consumer_items": r.consumer_items,
        "provider_items": r.provider_items,
        "created_at": r.created_at,
    })  # fmt: skip


def consumer_extracts(ex: Exchange, consumer_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The consumer's deliveries (file extracts and Delta Sharing copies), newest first."""
    return _newest(ex, ExtractRow, consumer_id, limit, lambda r: {
        "id": r.id,
        "contract_id": r.contract_id,
        "channel": r.channel,
        "format": r.format,
        "rows": r.rows,
        "sha256": r.file_sha256,
        "created_at": r.created_at,
    })  # fmt: skip


def checkpoint_sizes(ex: Exchange, *, newest: int = 100) -> list[int]:
    """The sizes of the first signed checkpoint and of the ``newest`` latest ones, ascending."""
    with ex.session() as s:
        latest = list(s.scalars(select(CheckpointRow.size).order_by(CheckpointRow.size.desc()).limit(newest)))
        first = s.scalar(select(func.min(CheckpointRow.size)))
    return sorted({*latest, *([first] if first is not None else [])})


@dataclass(frozen=True)
class Denials:
    """Refused accesses in the log: their number, by rule, by action and by role of the party."""

    total: int
    allowed: int
    by_rule: list[tuple[str, int]]
    by_action: list[tuple[str, int]]
    by_role: list[tuple[str, int]]


def denial_statistics(ex: Exchange, *, auditor: Party) -> Denials:
    """Counts the log's ``access.denied`` entries (every ``authorize()`` refusal) by what decided."""
    del auditor  # the page's role gate admits auditors and the operator; the log itself is public
    with ex.session() as s:
        raw = list(s.scalars(select(LogEntryRow.entry).where(LogEntryRow.event == "access.denied")))
        allowed = int(
            s.scalar(
                select(func.count()).select_from(LogEntryRow).where(LogEntryRow.event == "access.allowed")
            )
            or 0
        )
    rules: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    for blob in raw:
        data = json.loads(blob).get("data", {})
        rules[str(data.get("rule", "?"))] += 1
        actions[str(data.get("action", "?"))] += 1
        roles[str(data.get("role", "?"))] += 1
    return Denials(
        total=len(raw),
        allowed=allowed,
        by_rule=rules.most_common(),
        by_action=actions.most_common(),
        by_role=roles.most_common(),
    )
