"""Contribution bounding, done once per dataset version: each privacy unit keeps at most ``k`` rows.

DP queries read a copy of the (consented) dataset in which every unit has at most
``max_contributions`` rows, so a query needs no per-unit work of its own: its WHERE, GROUP BY and
aggregates run on that copy as they would on the plain file, and every unit still changes any count
by at most ``k`` (sums by ``k`` times the clipping range).

Which rows a unit keeps depends on that unit's rows alone, so adding or removing one unit changes
the copy by that unit's rows only (the bounding is a stable transformation, as DP requires): units
with at most ``k`` rows keep all of them; a unit with more keeps the ``k`` rows whose MD5 of the
row's text (DuckDB's rendering of the row as a struct) sorts first. Rows with a NULL unit form one
unit. The copy is bounded *before* any query's WHERE clause; that is equally private and, for
predicates on per-unit attributes, equally accurate.

The copy lives in ``<home>/cache/dp/`` named by the source version (file SHA-256 and consent
withdrawals), the unit and ``k``; it is rebuilt when any of them changes. Both engines (DuckDB and
Spark) read the same file, so they bound identically.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from dataex.contracts.consent import consented_source
from dataex.engines.sql import quote_ident, quote_literal
from dataex.privacy.dp.settings import ROW_UNIT, PrivacySettings
from dataex.storage.cache import materialize

if TYPE_CHECKING:
    from dataex.node import Node

STALE_AFTER_SECONDS: Final = 3600
"""Copies of a dataset built for older settings or versions are removed once this old."""


def bounded_source(node: Node, dataset_id: str, settings: PrivacySettings) -> str:
    """The path of the dataset's contribution-bounded copy for ``settings`` (built when missing)."""
    source = consented_source(node, dataset_id)
    if settings.unit == ROW_UNIT:
        return source.path
    k = settings.max_contributions
    name = hashlib.sha256(f"{source.version}\n{settings.unit}\n{k}".encode()).hexdigest()[:32]
    cache = node.settings.home / "cache" / "dp"
    target = cache / f"{dataset_id}.{name}.parquet"
    if not target.exists():
        materialize(target, bounding_sql(source.path, settings.unit, k))
        _remove_stale(cache, dataset_id, keep=target.name)
    return str(target)


def bounding_sql(path: str, unit: str, k: int) -> str:
    """DuckDB SQL selecting at most ``k`` rows of each unit of the Parquet file at ``path``."""
    u = quote_ident(unit)
    return (
        f"WITH src AS (SELECT * FROM read_parquet({quote_literal(path)})), "
        f"heavy AS (SELECT {u} AS __u FROM src GROUP BY {u} HAVING COUNT(*) > {int(k)}) "
        f"SELECT s.* FROM src AS s ANTI JOIN heavy AS h ON s.{u} IS NOT DISTINCT FROM h.__u "
        "UNION ALL "
        "SELECT * EXCLUDE (__rn) FROM ("
        f"SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.{u} ORDER BY MD5(CAST(s AS VARCHAR))) AS __rn "
        f"FROM src AS s SEMI JOIN heavy AS h ON s.{u} IS NOT DISTINCT FROM h.__u"
        f") WHERE __rn <= {int(k)}"
    )


def _remove_stale(cache: Path, dataset_id: str, *, keep: str) -> None:
    now = time.time()
    for old in cache.glob(f"{dataset_id}.*.parquet"):
        if old.name != keep and now - old.stat().st_mtime > STALE_AFTER_SECONDS:
            old.unlink(missing_ok=True)
