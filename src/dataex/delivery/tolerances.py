"""Which columns of a dataset fingerprint marks may change, and by how much (declared by the owner).

``set_tolerances(node, dataset_id, {"cost": 1}, actor=owner)``: the value is how many units of the
column's last digit a mark may move a cell (a mark moves it by one). The last digit is found in
the data: the fewest decimals (<= 6) that represent every value of a float column; integers use
the ones place, timestamps whole seconds. Only integer, float and timestamp columns qualify, and
never a **protected** column: a quasi-identifier or sensitive attribute of an anonymized release
(or of the release it derives from) — so an L3 extract stays exactly as k-anonymous (l-diverse,
t-close) as its source — nor a field classified as personal or sensitive personal.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from dataex.catalog.datasets import get_dataset_row
from dataex.db.models import ClassificationRow, DatasetRow, FingerprintSettingsRow, LogEntryRow
from dataex.delivery.fingerprint import Tolerance, decimals_of, numeric_kind
from dataex.errors import InvalidInput, UnknownColumn
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now
from dataex.policy import check

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dataex.node import Node

PERSONAL = frozenset({"personal", "sensitive_personal"})


def parse_spec(items: list[str]) -> dict[str, int]:
    """``["cost=1", "ts=2"]`` → ``{"cost": 1, "ts": 2}``."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, units = item.partition("=")
        if not sep or not name.strip() or not units.strip().isdigit() or int(units) < 1:
            raise InvalidInput(f"a tolerance is COLUMN=UNITS with UNITS a positive integer; got {item!r}")
        out[name.strip()] = int(units)
    return out


def anonymization_spec(session: Session, dataset_id: str) -> dict[str, Any] | None:
    """The ``dataset.anonymized`` spec that produced ``dataset_id``, if the anonymizer made it."""
    for raw in session.scalars(select(LogEntryRow.entry).where(LogEntryRow.event == "dataset.anonymized")):
        data = json.loads(raw)["data"]
        if data.get("dataset_id") == dataset_id:
            spec: dict[str, Any] = data.get("spec") or {}
            return spec
    return None


def lineage(session: Session, dataset_id: str) -> list[DatasetRow]:
    """The dataset and its ancestors along ``derived_from``, nearest first."""
    chain: list[DatasetRow] = []
    current: str | None = dataset_id
    while current is not None and len(chain) < 64:
        row = get_dataset_row(session, current)
        chain.append(row)
        current = row.derived_from
    return chain


def is_deidentified(session: Session, dataset_id: str) -> bool:
    """True when the anonymizer produced the dataset or one of its ancestors."""
    return any(anonymization_spec(session, r.id) is not None for r in lineage(session, dataset_id))


def protected_columns(session: Session, dataset_id: str) -> set[str]:
    """Columns a mark must never change (see the module docstring)."""
    out: set[str] = set()
    for row in lineage(session, dataset_id):
        spec = anonymization_spec(session, row.id)
        if spec is not None:
            out |= set(spec.get("qi") or []) | set(spec.get("sensitive") or [])
    classification = session.get(ClassificationRow, dataset_id)
    if classification is not None:
        out |= {f["name"] for f in classification.fields if f.get("category") in PERSONAL}
    return out


def set_tolerances(node: Node, dataset_id: str, spec: dict[str, int], *, actor: Party) -> list[Tolerance]:
    """The owner declares the tolerable columns of ``dataset_id`` (replacing earlier ones); logged."""
    if not spec:
        raise InvalidInput("give at least one COLUMN=UNITS tolerance")
    check(node, actor, "set_fingerprint", dataset_id)
    with node.transaction() as s:
        dataset = get_dataset_row(s, dataset_id)
        _check_columns(dataset, spec)
        table = pq.read_table(node.store.url(dataset.file_sha256), columns=list(spec))
        protected = protected_columns(s, dataset_id)
        tolerances: list[Tolerance] = []
        for name, units in sorted(spec.items()):
            if name in protected:
                raise InvalidInput(
                    f"column {name!r} is a quasi-identifier, sensitive attribute or personal field: "
                    "marks must never change it"
                )
            t = table.schema.field(name).type
            kind = numeric_kind(t)
            if kind is None:
                raise InvalidInput(
                    f"column {name!r} is {t}: only integer, float and timestamp columns can carry marks"
                )
            decimals = 0
            if kind == "float":
                values = np.asarray(pc.fill_null(table[name], 0.0).to_numpy(), dtype=np.float64)
                decimals = decimals_of(values)
            tolerances.append(
                Tolerance(name, units, decimals, "timestamp" if kind == "timestamp" else "number")
            )
        row = s.get(FingerprintSettingsRow, dataset_id)
        declared: dict[str, Any] = {t.column: t.to_dict() for t in tolerances}
        record = {"dataset_id": dataset_id, "tolerances": declared}
        entry = node.log.append(s, "fingerprint.tolerances_set", record, actor=actor.id)
        if row is None:
            row = FingerprintSettingsRow(dataset_id=dataset_id)
            s.add(row)
        row.tolerances = declared
        row.updated_at = utc_now()
        row.log_index = entry.index
        node.log.checkpoint(s)
    return tolerances


def _check_columns(dataset: DatasetRow, spec: dict[str, int]) -> None:
    names = [c["name"] for c in dataset.columns]
    for name in spec:
        if name not in names:
            raise UnknownColumn(f"dataset {dataset.id} has no column {name!r}", column=name, available=names)


def find_tolerances(session: Session, dataset_id: str) -> list[Tolerance]:
    """The declared tolerances of ``dataset_id`` (empty when none)."""
    row = session.get(FingerprintSettingsRow, dataset_id)
    if row is None:
        return []
    return [
        Tolerance(name, int(v["units"]), int(v["decimals"]), v["kind"])
        for name, v in sorted(row.tolerances.items())
    ]
