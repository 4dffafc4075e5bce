"""Setting and reading a dataset's privacy metadata for DP SQL (:mod:`dataex.privacy.dp.settings`).

``set_privacy`` is the owner's declaration, validated against the dataset's columns and logged as
``dp.settings.set``; it builds the contribution-bounded copy (:mod:`dataex.privacy.dp.bounding`)
right away. ``find_privacy`` reads the stored settings.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dataex.config import MAX_CONTRIBUTIONS
from dataex.db.models import DatasetRow, DpSettingsRow
from dataex.errors import DatasetNotFound, InvalidInput, UnknownColumn
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now
from dataex.policy import check
from dataex.privacy.dp.bounding import bounded_source
from dataex.privacy.dp.settings import MAX_DOMAIN, NUMERIC_TYPES, ROW_UNIT, PrivacySettings, column_types

if TYPE_CHECKING:
    from dataex.node import Node


def set_privacy(
    node: Node,
    dataset_id: str,
    *,
    actor: Party,
    unit: str,
    max_contributions: int,
    bounds: dict[str, tuple[float, float]] | None = None,
    domains: dict[str, list[str]] | None = None,
    key_threshold: int | None = None,
    not_null: list[str] | tuple[str, ...] = (),
) -> PrivacySettings:
    """Stores (replaces) the dataset's privacy metadata; owner only; logged as ``dp.settings.set``.

    The contribution-bounded copy DP queries read (dataex.privacy.dp.bounding) is built right after,
    so the first query does not pay for it.
    """
    bounds, domains = dict(bounds or {}), {k: [str(x) for x in v] for k, v in (domains or {}).items()}
    complete = list(dict.fromkeys(str(c) for c in not_null))
    check(node, actor, "set_privacy", dataset_id)
    with node.transaction() as s:
        dataset = s.get(DatasetRow, dataset_id)
        if dataset is None:
            raise DatasetNotFound(dataset_id)
        _validate(dataset, unit, max_contributions, bounds, domains, key_threshold, complete)
        row = s.get(DpSettingsRow, dataset_id)
        if row is None:
            row = DpSettingsRow(dataset_id=dataset_id)
            s.add(row)
        row.unit = unit
        row.max_contributions = max_contributions
        row.bounds = {k: [float(lo), float(hi)] for k, (lo, hi) in bounds.items()}
        row.domains = domains
        row.key_threshold = key_threshold
        row.not_null = complete
        row.updated_at = utc_now()
        row.log_index = -1
        s.flush()
        record = PrivacySettings.of(row).to_dict()
        record["domains"] = {k: {"size": len(v)} for k, v in domains.items()}
        entry = node.log.append(s, "dp.settings.set", record, actor=actor.id)
        row.log_index = entry.index
        node.log.checkpoint(s)
        settings = PrivacySettings.of(row)
    bounded_source(node, dataset_id, settings)
    return settings


def find_privacy(node: Node, dataset_id: str) -> PrivacySettings | None:
    with node.session() as s:
        row = s.get(DpSettingsRow, dataset_id)
        return None if row is None else PrivacySettings.of(row)


def _validate(
    dataset: DatasetRow,
    unit: str,
    k: int,
    bounds: dict[str, tuple[float, float]],
    domains: dict[str, list[str]],
    key_threshold: int | None,
    not_null: list[str],
) -> None:
    types = column_types(dataset)

    def known(column: str) -> str:
        if column not in types:
            raise UnknownColumn(
                f"dataset {dataset.id} has no column {column!r}", column=column, available=sorted(types)
            )
        return types[column]

    if unit != ROW_UNIT:
        known(unit)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_CONTRIBUTIONS:
        got = str(k)[:40]
        raise InvalidInput(f"max_contributions must be an integer in 1..{MAX_CONTRIBUTIONS}; got {got}")
    if unit == ROW_UNIT and k != 1:
        raise InvalidInput("with unit 'row' each unit is one row: max_contributions must be 1")
    for column, pair in bounds.items():
        kind = known(column)
        if not kind.startswith(NUMERIC_TYPES) and not kind.startswith("DECIMAL"):
            raise InvalidInput(f"bounds need a numeric column; {column!r} is {kind}")
        lo, hi = (float(x) for x in pair)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise InvalidInput(f"bounds of {column!r} must be finite with lo < hi; got {lo}:{hi}")
    for column, values in domains.items():
        known(column)
        if not values or len(values) > MAX_DOMAIN:
            raise InvalidInput(f"the domain of {column!r} needs 1 to {MAX_DOMAIN} values; got {len(values)}")
        if len(set(values)) != len(values):
            raise InvalidInput(f"the domain of {column!r} lists a value twice")
    if key_threshold is not None and (
        isinstance(key_threshold, bool) or not isinstance(key_threshold, int) or key_threshold < 1
    ):
        raise InvalidInput(f"key_threshold must be an integer >= 1; got {key_threshold!r}")
    for column in not_null:
        known(column)
        if column not in bounds:
            raise InvalidInput(
                f"not-null column {column!r} needs bounds too (--bounds {column}=lo:hi): a NULL is "
                "read as the midpoint of its bounds"
            )
