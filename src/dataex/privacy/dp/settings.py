"""Privacy metadata of a dataset for DP SQL, declared by its owner and logged (``dp.settings.set``).

* ``unit``: the privacy unit, a column (e.g. ``patient_id``) or ``"row"``;
* ``max_contributions``: rows a unit may contribute to one query (1 when the unit is a row);
* ``bounds``: clipping bounds ``{column: (lo, hi)}`` of numeric columns used in SUM/AVG/MEDIAN;
* ``domains``: the public keys ``{column: [values]}`` of columns used in GROUP BY;
* ``key_threshold``: when set, GROUP BY over a column without a domain is allowed; keys are then
  released only when their noisy count passes a threshold of at least this value;
* ``not_null``: bounded columns the owner declares complete. AVG over such a column divides by the
  query's COUNT(*) measurement instead of measuring a count of its own (one measurement fewer, so
  each gets a larger share of ε); a NULL that occurs anyway is read as the midpoint of the bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from dataex.db.models import DatasetRow, DpSettingsRow
from dataex.errors import DatasetNotFound, Forbidden, InvalidInput, UnknownColumn
from dataex.identity.parties import Party
from dataex.ledger.log import utc_now

if TYPE_CHECKING:
    from dataex.node import Node

ROW_UNIT: Final = "row"
NUMERIC_TYPES: Final = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "REAL")
INTEGER_TYPES: Final = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
MAX_DOMAIN: Final = 100_000


@dataclass(frozen=True)
class PrivacySettings:
    dataset_id: str
    unit: str
    max_contributions: int
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    key_threshold: int | None = None
    log_index: int = -1
    not_null: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: DpSettingsRow) -> PrivacySettings:
        return cls(
            dataset_id=row.dataset_id,
            unit=row.unit,
            max_contributions=row.max_contributions,
            bounds={k: (float(v[0]), float(v[1])) for k, v in row.bounds.items()},
            domains={k: [str(x) for x in v] for k, v in row.domains.items()},
            key_threshold=row.key_threshold,
            log_index=row.log_index,
            not_null=tuple(str(c) for c in row.not_null or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "unit": self.unit,
            "max_contributions": self.max_contributions,
            "bounds": {k: [lo, hi] for k, (lo, hi) in self.bounds.items()},
            "domains": {k: list(v) for k, v in self.domains.items()},
            "key_threshold": self.key_threshold,
            "not_null": list(self.not_null),
        }


def column_types(row: DatasetRow) -> dict[str, str]:
    return {str(c["name"]): str(c["type"]).upper() for c in row.columns}


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
    with node.transaction() as s:
        dataset = s.get(DatasetRow, dataset_id)
        if dataset is None:
            raise DatasetNotFound(dataset_id)
        if actor.id != dataset.owner_id:
            raise Forbidden(f"only the owner of {dataset_id} may set its privacy metadata")
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
    from dataex.privacy.dp.bounding import bounded_source

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
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"max_contributions must be an integer >= 1; got {k!r}")
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
