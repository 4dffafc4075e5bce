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

This module holds the values; :mod:`dataex.privacy.dp.settings_service` stores and reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from dataex.db.models import DatasetRow, DpSettingsRow

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
