"""The rewrite: a parsed query plus the dataset's privacy metadata → one exact SQL query and a plan.

The SQL (written once in DuckDB's dialect, rendered for each engine by sqlglot) has three steps:

1. ``filtered``: the WHERE predicate as :func:`~dataex.privacy.dp.predicate.safe_predicate` renders
   it (it cannot raise on any row), keys restricted to their declared domains, each value clipped
   to its bounds and, for sums, rounded to an integer grid (``step``, coarse enough that no row's
   grid value exceeds ``GRID_LIMIT``);
2. ``bounded``: each privacy unit keeps at most ``k`` rows. DP queries on a dataset read its
   contribution-bounded copy (dataex.privacy.dp.bounding, built once per dataset version), so this
   step is empty for them (``prebounded``); over other inputs (PSI-then-DP's matched rows) it keeps
   the first ``k`` rows of each unit by ``md5`` of the values the query uses (reproducible; rows
   that tie are interchangeable for the query);
3. the exact aggregates per group, LEFT JOINed to the cross product of the declared domains
   (``VALUES`` lists), so that empty groups appear with zeros.

Noise is added afterwards (dataex.privacy.dp.mechanisms), one measurement at a time. The query's ε
is split equally over its noisy outputs (and the key threshold, when there is one); an output's
share is split equally over the measurements it uses, and a measurement used by several outputs
(COUNT(*) and the denominator of an AVG over a column declared not null) gets the sum of its
shares. See docs/dp.md for the sensitivities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Literal

import sqlglot
from sqlglot import exp

from dataex.errors import PrivacySettingsMissing, QueryRefused, UnknownColumn
from dataex.privacy.dp.parse import READ_DIALECT, Output, ParsedQuery
from dataex.privacy.dp.predicate import safe_predicate
from dataex.privacy.dp.settings import INTEGER_TYPES, ROW_UNIT, PrivacySettings

VIEW: Final = "dx_data"
MEDIAN_CANDIDATES: Final = 101
GRID_RATIO: Final = 100_000
"""A sum's grid step is the largest power of ten at most (noise scale / GRID_RATIO)."""
GRID_LIMIT: Final = 2**31
"""The largest grid value one row can have (|bound| / step); see :func:`_measurement`."""
THRESHOLD_DELTA: Final = 1e-6
"""δ charged by a query whose keys pass a noisy threshold (no declared domain)."""
MeasurementKind = Literal["count", "sum", "median"]


@dataclass(frozen=True)
class Measurement:
    """One noisy statistic per group: its result column(s), L1 sensitivity (grid units) and ε share."""

    name: str
    kind: MeasurementKind
    column: str | None
    sensitivity: int
    epsilon: float
    step: float = 1.0
    offset: float = 0.0
    bounds: tuple[float, float] | None = None
    candidates: tuple[float, ...] = ()


@dataclass(frozen=True)
class OutputPlan:
    """How one output column is released: a key, or measurements combined by post-processing."""

    name: str
    kind: str
    column: str | None
    measurements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    sql: str
    keys: tuple[str, ...]
    key_columns: tuple[str, ...]
    outputs: tuple[OutputPlan, ...]
    measurements: tuple[Measurement, ...]
    epsilon: float
    delta: float
    unit: str
    max_contributions: int
    domain_complete: bool
    threshold: int | None = None
    threshold_measurement: str | None = None
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    notes: list[str] = field(default_factory=list)

    def sql_for(self, dialect: str) -> str:
        """The exact query in ``dialect`` (``duckdb``, ``spark``, …)."""
        if dialect == READ_DIALECT:
            return self.sql
        return sqlglot.transpile(self.sql, read=READ_DIALECT, write=dialect)[0]

    def measurement(self, name: str) -> Measurement:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, Measurement]:
        return {m.name: m for m in self.measurements}


def ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=READ_DIALECT)


def literal(value: str | float) -> str:
    if isinstance(value, str):
        return exp.Literal.string(value).sql(dialect=READ_DIALECT)
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


def plan_query(
    parsed: ParsedQuery,
    *,
    settings: PrivacySettings | None,
    types: dict[str, str],
    dataset_id: str,
    epsilon: float,
    prebounded: bool = False,
) -> Plan:
    """Checks the query against the dataset and its privacy metadata and builds the exact SQL.

    ``prebounded``: the input already holds at most ``max_contributions`` rows per unit.
    """
    for column in sorted(parsed.columns):
        if column not in types:
            raise UnknownColumn(
                f"dataset {dataset_id} has no column {column!r}; it has: {', '.join(sorted(types))}",
                column=column,
                available=sorted(types),
            )
    if settings is None:
        raise PrivacySettingsMissing(
            f"dataset {dataset_id} has no privacy metadata yet: its owner declares it with `dataex "
            "privacy set DATASET --unit COLUMN --max-contributions K --bounds col=lo:hi --domain col=…`",
            dataset_id=dataset_id,
            missing=["unit"],
        )
    _check_needs(parsed, settings, dataset_id)
    where = None if parsed.where is None else safe_predicate(parsed.where, types)
    k = settings.max_contributions if settings.unit != ROW_UNIT else 1
    thresholded = any(c not in settings.domains for c in parsed.group_by)
    weights = _weights(parsed, settings, thresholded)
    specs = list(weights)
    grouped = bool(parsed.group_by)
    measurements = tuple(
        _measurement(f"m{i}", kind, col, epsilon * weights[(kind, col)], k, settings, types, grouped=grouped)
        for i, (kind, col) in enumerate(specs)
    )
    by_spec = {spec: m.name for spec, m in zip(specs, measurements, strict=True)}
    outputs = tuple(_output_plan(o, by_spec, settings) for o in parsed.outputs)
    keys = tuple(f"k{i}" for i in range(len(parsed.group_by)))
    bound_to = None if prebounded or settings.unit == ROW_UNIT else k
    sql = _sql(parsed, where, settings, types, keys, measurements, thresholded, bound_to)
    threshold = None
    if thresholded:
        threshold = settings.key_threshold
    return Plan(
        sql=sql,
        keys=keys,
        key_columns=parsed.group_by,
        outputs=outputs,
        measurements=measurements,
        epsilon=epsilon,
        delta=THRESHOLD_DELTA if thresholded else 0.0,
        unit=settings.unit,
        max_contributions=k,
        domain_complete=not thresholded,
        threshold=threshold,
        threshold_measurement=by_spec[("count", None)] if thresholded else None,
        order_by=parsed.order_by,
        limit=parsed.limit,
    )


def _check_needs(parsed: ParsedQuery, settings: PrivacySettings, dataset_id: str) -> None:
    missing: list[str] = []
    for o in parsed.outputs:
        if o.kind in ("sum", "avg", "median") and o.column not in settings.bounds:
            missing.append(f"bounds of {o.column} (--bounds {o.column}=lo:hi)")
        if o.kind == "count_distinct" and o.column != settings.unit:
            raise QueryRefused(
                f"query refused: COUNT(DISTINCT …) is allowed on the privacy unit "
                f"{settings.unit!r} only; got {o.column!r}",
                construct="aggregate",
            )
    for column in parsed.group_by:
        if column not in settings.domains and settings.key_threshold is None:
            missing.append(f"domain of {column} (--domain {column}=a,b,c or @file; or --key-threshold)")
    if missing:
        raise PrivacySettingsMissing(
            f"dataset {dataset_id} needs more privacy metadata for this query: declare the "
            + "; ".join(dict.fromkeys(missing)),
            dataset_id=dataset_id,
            missing=list(dict.fromkeys(missing)),
        )


Spec = tuple[str, str | None]


def _specs_of(o: Output, not_null: tuple[str, ...], unit: str) -> tuple[Spec, ...]:
    """The measurements an output is computed from."""
    counted = None if o.column in not_null else o.column
    table: dict[str, tuple[Spec, ...]] = {
        "count": (("count", None),),
        "count_column": (("count", counted),),
        "count_distinct": (("count_distinct", unit),),
        "sum": (("sum", o.column),),
        "avg": (("centered_sum", o.column), ("count", counted)),
        "median": (("median", o.column),),
    }
    return table[o.kind]


def _weights(parsed: ParsedQuery, settings: PrivacySettings, thresholded: bool) -> dict[Spec, float]:
    """Each measurement's share of ε, in order of first use (see the module docstring)."""
    users = [_specs_of(o, settings.not_null, settings.unit) for o in parsed.outputs if o.kind != "key"]
    if thresholded:
        users.append((("count", None),))  # the key threshold's count: a user of its own
    weights: dict[Spec, float] = {}
    for specs in users:
        for spec in specs:
            weights[spec] = weights.get(spec, 0.0) + 1.0 / len(specs) / len(users)
    return weights


def _measurement(
    name: str,
    kind: str,
    column: str | None,
    share: float,
    k: int,
    settings: PrivacySettings,
    types: dict[str, str],
    *,
    grouped: bool,
) -> Measurement:
    if kind == "count":
        return Measurement(name, "count", column, k, share)
    if kind == "count_distinct":
        return Measurement(name, "count", "__distinct__", k if grouped else 1, share)
    assert column is not None
    lo, hi = settings.bounds[column]
    if kind == "median":
        width = (hi - lo) / (MEDIAN_CANDIDATES - 1)
        candidates = tuple(lo + j * width for j in range(MEDIAN_CANDIDATES))
        return Measurement(name, "median", column, k, share, bounds=(lo, hi), candidates=candidates)
    offset = (lo + hi) / 2 if kind == "centered_sum" else 0.0
    reach = max(abs(lo - offset), abs(hi - offset))
    scale = k * reach / share
    step = 10.0 ** math.floor(math.log10(max(scale / GRID_RATIO, 1e-12)))
    if types[column].startswith(INTEGER_TYPES) and step < 1:
        step = 1.0
    # No row's grid value may exceed GRID_LIMIT, so CAST(... AS BIGINT) and 64-bit sums cannot
    # overflow whatever the data (a coarser grid only at very large ε; depends on bounds and ε only).
    step = max(step, 10.0 ** math.ceil(math.log10(max(abs(lo), abs(hi), 1e-300) / GRID_LIMIT)))
    step = float(f"{step:.0e}")
    grid_offset = round(offset / step)
    reach_units = max(abs(round(lo / step) - grid_offset), abs(round(hi / step) - grid_offset))
    return Measurement(
        name, "sum", column, k * reach_units, share, step=step, offset=grid_offset * step, bounds=(lo, hi)
    )


def _output_plan(o: Output, by_spec: dict[Spec, str], settings: PrivacySettings) -> OutputPlan:
    if o.kind == "key":
        return OutputPlan(o.name, "key", o.column)
    return OutputPlan(
        o.name, o.kind, o.column, tuple(by_spec[s] for s in _specs_of(o, settings.not_null, settings.unit))
    )


def _clip(column: str, lo: float, hi: float, *, fill: float | None = None) -> str:
    value = f"CAST({ident(column)} AS DOUBLE)"
    if fill is not None:  # a column declared not null: a NULL reads as ``fill``
        value = f"COALESCE({value}, {literal(fill)})"
    return f"LEAST(GREATEST({value}, {literal(lo)}), {literal(hi)})"


def _sql(
    parsed: ParsedQuery,
    where_sql: str | None,
    settings: PrivacySettings,
    types: dict[str, str],
    keys: tuple[str, ...],
    measurements: tuple[Measurement, ...],
    thresholded: bool,
    bound_to: int | None,
) -> str:
    """The exact query; ``where_sql``: the predicate from :func:`safe_predicate`; ``bound_to``: rows
    kept per unit (None: the input is bounded already)."""
    select = [f"{ident(settings.unit)} AS __u" if settings.unit != ROW_UNIT else "1 AS __u"]
    select += [f"{ident(c)} AS {key}" for c, key in zip(parsed.group_by, keys, strict=True)]
    material = [f"CAST({key} AS VARCHAR)" for key in keys]
    aggregates: list[str] = []
    for m in measurements:
        v = f"__{m.name}"
        if m.kind == "count" and m.column is None:
            aggregates.append(f"COUNT(*) AS {m.name}")
        elif m.kind == "count" and m.column == "__distinct__":
            aggregates.append(f"COUNT(DISTINCT __u) AS {m.name}")
        elif m.kind == "count":
            select.append(f"CASE WHEN {ident(str(m.column))} IS NULL THEN 0 ELSE 1 END AS {v}")
            material.append(f"CAST({v} AS VARCHAR)")
            aggregates.append(f"SUM({v}) AS {m.name}")
        elif m.kind == "sum":
            assert m.column is not None and m.bounds is not None
            fill = (sum(m.bounds) / 2) if m.column in settings.not_null else None
            grid = f"CAST(ROUND({_clip(m.column, *m.bounds, fill=fill)} / {literal(m.step)}) AS BIGINT)"
            select.append(f"{grid} AS {v}")
            material.append(f"CAST({v} AS VARCHAR)")
            shift = round(m.offset / m.step)
            aggregates.append(f"SUM({v} - {shift}) AS {m.name}" if shift else f"SUM({v}) AS {m.name}")
        else:
            assert m.column is not None and m.bounds is not None
            lo, hi = m.bounds
            select.append(f"{_clip(m.column, lo, hi)} AS {v}")
            unit_grid = f"CAST(ROUND(({v} - {literal(lo)}) / {literal(hi - lo)} * 1000000) AS BIGINT)"
            material.append(f"CAST({unit_grid} AS VARCHAR)")
            for j, c in enumerate(m.candidates):
                aggregates.append(
                    f"SUM(CASE WHEN {v} < {literal(c)} THEN 1 WHEN {v} > {literal(c)} THEN -1 ELSE 0 END)"
                    f" AS {m.name}_c{j}"
                )
    conditions = []
    if where_sql is not None:
        conditions.append(f"({where_sql})")
    for column in parsed.group_by:
        if column in settings.domains:
            values = ", ".join(_typed(v, types[column]) for v in settings.domains[column])
            conditions.append(f"{ident(column)} IN ({values})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    filtered = f"SELECT {', '.join(select)} FROM {ident(VIEW)}{where}"
    if bound_to is None:
        bounded = "SELECT * FROM filtered"
    else:
        order = f"MD5(CONCAT_WS('|', {', '.join(material)}))" if material else "__u"
        bounded = (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY __u ORDER BY "
            f"{order}) AS __rn FROM filtered) AS r WHERE __rn <= {bound_to}"
        )
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    agg = f"SELECT {', '.join([*keys, *aggregates])} FROM bounded{group}"
    ctes = f"WITH filtered AS ({filtered}), bounded AS ({bounded}), agg AS ({agg})"
    names = [a.rsplit(" AS ", 1)[1] for a in aggregates]
    if not keys:
        return f"{ctes} SELECT {', '.join(f'COALESCE({n}, 0) AS {n}' for n in names)} FROM agg"
    if thresholded:
        return f"{ctes} SELECT * FROM agg"
    domains = " CROSS JOIN ".join(
        f"(VALUES {', '.join(f'({_typed(v, types[c])})' for v in settings.domains[c])}) AS d{i}({key})"
        for i, (c, key) in enumerate(zip(parsed.group_by, keys, strict=True))
    )
    on = " AND ".join(f"agg.{key} = d{i}.{key}" for i, key in enumerate(keys))
    cols = [f"d{i}.{key} AS {key}" for i, key in enumerate(keys)]
    cols += [f"COALESCE(agg.{n}, 0) AS {n}" for n in names]
    return f"{ctes} SELECT {', '.join(cols)} FROM {domains} LEFT JOIN agg ON {on}"


def _typed(value: str, kind: str) -> str:
    if kind == "VARCHAR":
        return literal(value)
    return f"CAST({literal(value)} AS {kind})"
