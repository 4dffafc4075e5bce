"""The WHERE predicate, typed and rendered so that evaluating it can never raise, whatever the data.

A data-dependent engine error is a noiseless answer: ``(age + C) * (age + C) > 0`` overflowed INT64
exactly when some row had ``age >= 3037000500 - C`` (MAX(age) in 8 queries), and an overflow guarded
by ``patient_id = 'P…' AND …`` revealed a named patient's presence in one. So the predicate (already
inside the grammar of :mod:`dataex.privacy.dp.parse`) is type-checked as a whole before anything is
charged, and rendered in a form that no row can make fail:

* **numbers are DOUBLE**: every numeric column is read as ``CAST(col AS DOUBLE)`` (INTEGER, BIGINT,
  HUGEINT, DECIMAL… all fit), every numeric literal becomes a finite DOUBLE constant (a literal that
  is not finite as a DOUBLE, such as ``1e400``, is refused), so ``+ - * /`` and unary minus follow
  IEEE 754: overflow gives ±inf, ``x / 0`` gives ±inf or NaN (DuckDB) or NULL (Spark, ANSI off) —
  never an error. Arithmetic takes numbers only;
* **comparisons are between values of one kind** (number, text, time, boolean); a string literal
  compared with a DATE or TIMESTAMP column is parsed here (ISO 8601) and rendered as a typed
  constant, so no cast happens per row; ``LIKE``/``ILIKE`` take text;
* **conditions are boolean**: the operands of AND, OR, NOT and the predicate itself must be
  comparisons, tests or boolean columns (``WHERE name`` would cast every name to BOOLEAN);
* ``NULL`` is a value of any kind; a predicate that is NULL for a row drops the row (SQL).

A predicate that does not type-check is refused with ``query_refused`` (construct ``types``) before
the charge; the refusal depends on the query and the dataset's column types only, never on rows.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Final

from sqlglot import exp

from dataex.engines.sql import FRACTIONAL_TYPES, INTEGER_TYPES
from dataex.errors import QueryRefused
from dataex.privacy.dp.parse import READ_DIALECT

NUMBER_TYPES: Final = INTEGER_TYPES + FRACTIONAL_TYPES
MAX_PREDICATE_NODES: Final = 2_000
"""A WHERE clause larger than this (sqlglot nodes) is refused: the predicate is bounded before use."""

# A kind is "number", "text", "boolean", "null", "string" (a string literal: text or a time) or
# "time:<TYPE>" (DATE, TIMESTAMP, TIMESTAMP WITH TIME ZONE, …).
Kind = str
_COMPARISONS: Final = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_ARITHMETIC: Final = (exp.Add, exp.Sub, exp.Mul, exp.Div)


def safe_predicate(predicate: exp.Expression, types: dict[str, str]) -> str:
    """``predicate`` rendered (DuckDB dialect) so that it cannot raise; or :class:`QueryRefused`."""
    size = sum(1 for _ in predicate.walk())
    if size > MAX_PREDICATE_NODES:
        raise _refuse(f"the WHERE clause is too large ({size} > {MAX_PREDICATE_NODES} terms)")
    node, kind = _compile(predicate.copy(), types)
    _condition(kind, predicate)
    return node.sql(dialect=READ_DIALECT)


def _refuse(message: str) -> QueryRefused:
    return QueryRefused(f"query refused: {message}", construct="types")


def _text(node: exp.Expression) -> str:
    return repr(node.sql(dialect=READ_DIALECT)[:80])


def _condition(kind: Kind, node: exp.Expression) -> None:
    if kind not in ("boolean", "null"):
        raise _refuse(
            f"{_text(node)} is a {kind.split(':')[0]}, not a condition: compare it (=, <, IN, IS NULL, …)"
        )


def _compile(node: exp.Expression, types: dict[str, str]) -> tuple[exp.Expression, Kind]:
    if isinstance(node, exp.Paren):
        inner, kind = _compile(node.this, types)
        return exp.Paren(this=inner), kind
    if isinstance(node, exp.Column):
        return _column(node, types)
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Boolean):
        return node, "boolean"
    if isinstance(node, exp.Null):
        return node, "null"
    if isinstance(node, exp.Neg):
        inner, kind = _compile(node.this, types)
        _number(kind, node)
        return exp.Neg(this=inner), "number"
    if isinstance(node, _ARITHMETIC):
        left, lk = _compile(node.this, types)
        right, rk = _compile(node.expression, types)
        _number(lk, node)
        _number(rk, node)
        return type(node)(this=left, expression=right), "number"
    if isinstance(node, exp.Not):
        inner, kind = _compile(node.this, types)
        _condition(kind, node.this)
        return exp.Not(this=inner), "boolean"
    if isinstance(node, exp.And | exp.Or):
        left, lk = _compile(node.this, types)
        right, rk = _compile(node.expression, types)
        _condition(lk, node.this)
        _condition(rk, node.expression)
        return type(node)(this=left, expression=right), "boolean"
    if isinstance(node, _COMPARISONS):
        parts, _ = _same_kind(node, [node.this, node.expression], types)
        return type(node)(this=parts[0], expression=parts[1]), "boolean"
    if isinstance(node, exp.Like | exp.ILike):
        parts, kind = _same_kind(node, [node.this, node.expression], types)
        if kind not in ("text", "null"):
            raise _refuse(f"{_text(node)}: LIKE and ILIKE compare text only")
        return type(node)(this=parts[0], expression=parts[1]), "boolean"
    if isinstance(node, exp.Is):
        inner, kind = _compile(node.this, types)
        target = node.expression
        if not isinstance(target, exp.Null | exp.Boolean):
            raise _refuse(f"{_text(node)}: IS takes NULL, TRUE or FALSE")
        if isinstance(target, exp.Boolean):  # `name IS TRUE` would cast every name to BOOLEAN
            _condition(kind, node.this)
        return exp.Is(this=inner, expression=target.copy()), "boolean"
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise QueryRefused("query refused: subqueries are not allowed", construct="subquery")
        parts, _ = _same_kind(node, [node.this, *node.expressions], types)
        return exp.In(this=parts[0], expressions=parts[1:]), "boolean"
    if isinstance(node, exp.Between):
        parts, _ = _same_kind(node, [node.this, node.args["low"], node.args["high"]], types)
        return exp.Between(this=parts[0], low=parts[1], high=parts[2]), "boolean"
    raise _refuse(f"{_text(node)} is not allowed in WHERE")


def _column(node: exp.Column, types: dict[str, str]) -> tuple[exp.Expression, Kind]:
    name = str(node.name)
    column = exp.Column(this=exp.to_identifier(name, quoted=True))
    t = types.get(name, "")
    if t.startswith(NUMBER_TYPES):
        return exp.Cast(this=column, to=exp.DataType.build("DOUBLE")), "number"
    if t == "VARCHAR":
        return column, "text"
    if t == "BOOLEAN":
        return column, "boolean"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return column, f"time:{t}"
    raise _refuse(f"column {name!r} has type {t or 'unknown'}, which WHERE cannot use")


def _literal(node: exp.Literal) -> tuple[exp.Expression, Kind]:
    if node.is_string:
        return node.copy(), "string"
    try:
        value = float(str(node.this))
    except ValueError as e:
        raise _refuse(f"{_text(node)} is not a number") from e
    if not math.isfinite(value):
        raise _refuse(f"the number {str(node.this)[:40]} is out of range (not a finite DOUBLE)")
    return _double(value), "number"


def _double(value: float) -> exp.Expression:
    return exp.Cast(this=exp.Literal.number(repr(value)), to=exp.DataType.build("DOUBLE"))


def _number(kind: Kind, node: exp.Expression) -> None:
    if kind not in ("number", "null"):
        raise _refuse(f"{_text(node)}: arithmetic takes numbers only (got {kind.split(':')[0]})")


def _same_kind(
    node: exp.Expression, operands: list[exp.Expression], types: dict[str, str]
) -> tuple[list[exp.Expression], Kind]:
    """The operands compiled, checked to be of one kind (returned); string literals typed against a time."""
    compiled = [_compile(p, types) for p in operands]
    kinds = {k for _, k in compiled} - {"null"}
    times = {k for k in kinds if k.startswith("time:")}
    if times:
        kinds -= {"string"}
        kinds = (kinds - times) | {"time"}
    elif "string" in kinds:
        kinds = (kinds - {"string"}) | {"text"}
    if len(kinds) > 1:
        raise _refuse(
            f"{_text(node)} compares values of different types ({', '.join(sorted(kinds))}); "
            "every comparison must be type-correct so that no value is cast per row"
        )
    kind = next(iter(kinds), "null")
    if not times:
        return [n for n, _ in compiled], kind
    target = sorted(times)[0].split(":", 1)[1]
    return [_time_literal(n, target) if k == "string" else n for n, k in compiled], kind


def _time_literal(node: exp.Expression, target: str) -> exp.Expression:
    """A string literal compared with a time column, parsed here and rendered as a typed constant."""
    text = str(node.this)
    try:
        if target == "DATE":
            rendered = date.fromisoformat(text).isoformat()
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None and "TIME ZONE" not in target:
                raise ValueError("a time zone for a TIMESTAMP without one")
            rendered = moment.isoformat(sep=" ")
    except ValueError as e:
        raise _refuse(f"{text[:40]!r} is not an ISO 8601 {target.lower()}") from e
    return exp.Cast(this=exp.Literal.string(rendered), to=exp.DataType.build(target, dialect=READ_DIALECT))
