"""The ``classify`` service: detect, store and log a dataset's personal-information classification.

``classify_dataset`` runs :func:`dataex.privacy.columns.detect_parquet` on the dataset's canonical
Parquet file, re-applies earlier overrides, stores one ``ClassificationRow`` and appends
``dataset.classified`` (types, categories, grades — never a value) in the same transaction.
``override`` lets the owner or the operator correct one field's type; a reason is required, and the
change is logged as ``classification.overridden``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import ClassificationRow
from dataex.errors import InvalidInput, NotFound
from dataex.identity.parties import Party, get_party
from dataex.ledger.log import iso, utc_now
from dataex.policy import check
from dataex.privacy.columns import Detection, FieldResult, dataset_grade, detect_parquet
from dataex.privacy.grading import FIELD_TYPES, grade_of

if TYPE_CHECKING:
    from dataex.node import Node

OPERATOR = "operator"
MAX_REASON = 1000
# The stored ``overrides`` JSON is ``{"fields": {field: {type, reason, actor, at}}, "minors": bool}``:
# the table has no column of its own for the minors flag.


@dataclass(frozen=True)
class Classification:
    """A dataset's stored classification; ``to_dict`` is the public shape ``{grade, fields}``."""

    dataset_id: str
    grade: str
    fields: list[dict[str, Any]]
    minors: bool
    overrides: dict[str, dict[str, Any]]
    computed_at: datetime

    @classmethod
    def of(cls, row: ClassificationRow) -> Classification:
        fields = [dict(f) for f in row.fields]
        minors = bool(row.overrides.get("minors", False))
        overrides = {k: dict(v) for k, v in row.overrides.get("fields", {}).items()}
        return cls(row.dataset_id, row.grade, fields, minors, overrides, row.computed_at)

    def to_dict(self) -> dict[str, Any]:
        return {"grade": self.grade, "fields": [dict(f) for f in self.fields]}


def _party(node: Node, actor: str) -> Party | None:
    """The acting party of ``actor`` (a party id; ``"operator"``: the local operator, ``None``)."""
    if actor == OPERATOR:
        return None
    with node.session() as s:
        return get_party(s, actor)  # PartyNotFound


def _fields_with_overrides(
    detected: list[FieldResult], overrides: dict[str, dict[str, Any]]
) -> list[FieldResult]:
    out = []
    for f in detected:
        o = overrides.get(f.name)
        if o is None:
            out.append(f)
            continue
        category, grade = grade_of(o["type"])
        out.append(FieldResult(f.name, o["type"], 1.0, category, grade, None, f"override: {o['reason']}"))
    return out


def _log_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("name", "type", "confidence", "category", "grade", "spans", "share")
    return [{k: f[k] for k in keep if k in f} for f in fields]


def _store(
    session: Session,
    dataset_id: str,
    fields: list[FieldResult],
    *,
    minors: bool,
    overrides: dict[str, dict[str, Any]],
) -> ClassificationRow:
    grade = dataset_grade(fields, minors=minors)
    row = session.get(ClassificationRow, dataset_id)
    if row is None:
        row = ClassificationRow(dataset_id=dataset_id)
        session.add(row)
    row.grade = grade
    row.fields = [f.to_dict() for f in fields]
    row.overrides = {"fields": overrides, "minors": minors}
    row.computed_at = utc_now()
    session.flush()
    return row


def classify_dataset(node: Node, dataset_id: str, *, actor: str | None = None) -> Classification:
    """Computes, stores and logs the classification of ``dataset_id``.

    ``actor`` None means the node itself (after registration); a party must own the dataset or be
    the operator.
    """
    if actor is not None:
        check(node, _party(node, actor), "classify", dataset_id)
    with node.session() as s:
        dataset = get_dataset_row(s, dataset_id)
        src = node.store.url(dataset.file_sha256)
        columns = [(str(c["name"]), str(c["type"])) for c in dataset.columns]
    detection: Detection = detect_parquet(src, columns)
    with node.transaction() as s:
        node.log.lock(s)
        get_dataset_row(s, dataset_id)
        existing = s.get(ClassificationRow, dataset_id)
        overrides = Classification.of(existing).overrides if existing is not None else {}
        overrides = {k: v for k, v in overrides.items() if k in {f.name for f in detection.fields}}
        fields = _fields_with_overrides(detection.fields, overrides)
        row = _store(s, dataset_id, fields, minors=detection.minors, overrides=overrides)
        node.log.append(
            s,
            "dataset.classified",
            {
                "dataset_id": dataset_id,
                "grade": row.grade,
                "minors": detection.minors,
                "fields": _log_fields(row.fields),
                "overridden": sorted(overrides),
            },
            actor=actor or OPERATOR,
        )
        node.log.checkpoint(s)
        return Classification.of(row)


def find_classification(
    node: Node, dataset_id: str, *, viewer: Party | None = None
) -> Classification | None:
    """The stored classification, or None when the dataset has not been classified yet.

    It holds no values; ``viewer`` reads it where it may read the dataset's catalog entry (a
    private dataset of another party: ``DatasetNotFound``, as for an unknown id).
    """
    check(node, viewer, "read_metadata", dataset_id)
    with node.session() as s:
        get_dataset_row(s, dataset_id)
        row = s.get(ClassificationRow, dataset_id)
        return Classification.of(row) if row is not None else None


def get_classification(node: Node, dataset_id: str, *, viewer: Party | None = None) -> Classification:
    """The stored classification; ``NotFound`` when there is none yet."""
    found = find_classification(node, dataset_id, viewer=viewer)
    if found is None:
        raise NotFound(
            f"dataset {dataset_id} has not been classified yet; run `dataex classify {dataset_id}`",
            dataset_id=dataset_id,
        )
    return found


def override(
    node: Node, dataset_id: str, field: str, type: str, *, reason: str, actor: str
) -> Classification:
    """Sets ``field``'s type by hand (owner or operator, with a reason), regrades and logs it."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("an override needs a reason (--reason TEXT), e.g. 'column renamed by HIS export'")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    if type not in FIELD_TYPES:
        raise InvalidInput(f"unknown type {type!r}; use one of {', '.join(FIELD_TYPES)}", type=type)
    check(node, _party(node, actor), "classify", dataset_id)
    with node.session() as s:
        names = [str(c["name"]) for c in get_dataset_row(s, dataset_id).columns]
    if field not in names:
        raise InvalidInput(f"dataset {dataset_id} has no field {field!r}; its fields: {', '.join(names)}")
    if find_classification(node, dataset_id) is None:
        classify_dataset(node, dataset_id, actor=actor)
    with node.transaction() as s:
        node.log.lock(s)
        row = s.get(ClassificationRow, dataset_id)
        assert row is not None  # classified just above; rows are never deleted
        current = Classification.of(row)
        previous = next(f for f in current.fields if f["name"] == field)
        entry = {"type": type, "reason": reason, "actor": actor, "at": iso(utc_now())}
        overrides = {**current.overrides, field: entry}
        fields = [_field_of(f) for f in current.fields]
        fields = [_fields_with_overrides([f], overrides)[0] for f in fields]
        row = _store(s, dataset_id, fields, minors=current.minors, overrides=overrides)
        category, grade = grade_of(type)
        node.log.append(
            s,
            "classification.overridden",
            {
                "dataset_id": dataset_id,
                "field": field,
                "from": {"type": previous["type"], "category": previous["category"]},
                "to": {"type": type, "category": category, "grade": grade},
                "reason": reason,
                "grade": row.grade,
            },
            actor=actor,
        )
        node.log.checkpoint(s)
        return Classification.of(row)


def _field_of(d: dict[str, Any]) -> FieldResult:
    return FieldResult(
        d["name"],
        d["type"],
        d["confidence"],
        d["category"],
        d["grade"],
        d.get("spans"),
        d.get("note"),
        d.get("share"),
    )
