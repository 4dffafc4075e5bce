"""Declared quality rules: a small YAML language compiled to SQL for DuckDB.

A rules file is a list of rules (optionally under a top-level ``rules:`` key); each rule is a
mapping with exactly one rule key, an optional ``column`` and an optional ``name``::

    - {column: id_no, not_null: true}
    - {column: visit_id, unique: true}          # or: unique: [patient_id, visit_date]
    - {column: age, between: [0, 120]}
    - {column: sex, in_set: [男, 女]}
    - {column: mobile, matches: '^1[3-9][0-9]{9}$'}
    - {column: id_no, valid: cn_resident_id}
    - {name: cost is not negative, expr: "cost >= 0"}

Every rule compiles to a boolean SQL *violation* predicate; all rules are counted in ONE aggregate
query (``count(*) FILTER (WHERE violation)``) together with the other pass-2 checks, and the first
offending row positions come from ``min(file_row_number, n) FILTER (...)`` in the same query. NULL
values violate only ``not_null``; an ``expr`` that evaluates to NULL is not a violation (SQL
``CHECK`` semantics). ``expr`` is parsed with sqlglot and must be a scalar expression over the
dataset's columns using whitelisted functions only; it is re-generated from the parse tree, never
passed through as text. Any error names the rule and its line in the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from sqlglot import exp, parse
from sqlglot.errors import ParseError

from dataex.engines.sql import quote_ident, quote_literal
from dataex.errors import InvalidInput
from dataex.quality.formats import KINDS, valid_sql

RULE_KINDS = ("not_null", "unique", "between", "in_set", "matches", "valid", "expr")
ROW_LIMIT = 100
"""At most this many offending row positions are kept per rule (owner's view only)."""

_ALLOWED_FUNCS: frozenset[type[Any]] = frozenset(
    {
        exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Coalesce, exp.Length, exp.Lower, exp.Upper,
        exp.Trim, exp.Substring, exp.Cast, exp.TryCast, exp.Nullif, exp.Least, exp.Greatest,
        exp.RegexpLike, exp.Extract, exp.Year, exp.Month, exp.Day, exp.DateDiff, exp.If, exp.Sqrt,
        exp.Ln, exp.Pow, exp.Concat, exp.StartsWith, exp.Left, exp.Right, exp.DateTrunc,
        exp.StrToDate, exp.StrToTime, exp.TimeToStr, exp.CurrentDate, exp.Mod, exp.Sign,
    }
)  # fmt: skip
_ALLOWED_NAMES = frozenset({"regexp_full_match", "ends_with", "contains", "strlen", "age", "date_part"})
_OPERATORS: tuple[type[Any], ...] = (exp.Binary, exp.Connector, exp.Unary, exp.Predicate, exp.Case)
_FORBIDDEN: tuple[type[Any], ...] = (
    exp.Query, exp.Subquery, exp.Table, exp.Command, exp.AggFunc, exp.Window, exp.Star,
    exp.Placeholder, exp.Parameter, exp.Lambda,
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    kind: str
    line: int
    name: str
    columns: tuple[str, ...]
    arg: Any
    violation: str
    """SQL predicate, true for an offending row."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.kind, "columns": list(self.columns), "line": self.line}


def _fail(line: int, message: str, rule: str | None = None) -> InvalidInput:
    where = f"rule {rule!r} at line {line}" if rule else f"line {line}"
    return InvalidInput(f"rules file, {where}: {message}", line=line)


def load_rules(text: str, columns: dict[str, str]) -> list[Rule]:
    """Parses and compiles a rules file against ``columns`` (name → DuckDB type)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise _fail((mark.line + 1) if mark else 1, f"not valid YAML ({e})") from e
    if root is None:
        return []
    if isinstance(root, yaml.MappingNode):
        keys = {k.value: v for k, v in root.value}
        if set(keys) != {"rules"}:
            raise _fail(root.start_mark.line + 1, "the file must be a list of rules, or `rules:` and a list")
        root = keys["rules"]
    if not isinstance(root, yaml.SequenceNode):
        raise _fail(root.start_mark.line + 1, "expected a list of rules")
    return [_rule(node, columns) for node in root.value]


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _rule(node: yaml.Node, columns: dict[str, str]) -> Rule:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise _fail(line, "each rule must be a mapping such as {column: age, between: [0, 120]}")
    fields = {str(k.value): (v, k.start_mark.line + 1) for k, v in node.value}
    kinds = [k for k in fields if k not in ("column", "name")]
    label = str(_plain(fields["name"][0])) if "name" in fields else None
    for k in kinds:
        if k not in RULE_KINDS:
            raise _fail(fields[k][1], f"unknown rule {k!r}; rules are {', '.join(RULE_KINDS)}", label)
    if len(kinds) != 1:
        raise _fail(line, f"a rule needs exactly one of {', '.join(RULE_KINDS)}", label)
    kind = kinds[0]
    value_node, line = fields[kind]
    column = str(_plain(fields["column"][0])) if "column" in fields else None
    name = label or f"{kind}:{column or line}"
    return _compile(kind, _plain(value_node), column, name, line, columns)


def _need_column(column: str | None, columns: dict[str, str], name: str, line: int) -> str:
    if column is None:
        raise _fail(line, "this rule needs `column:`", name)
    if column not in columns:
        raise _fail(line, f"unknown column {column!r}; columns are {', '.join(columns)}", name)
    return column


def _compile(kind: str, arg: Any, column: str | None, name: str, line: int, columns: dict[str, str]) -> Rule:
    if kind == "expr":
        if not isinstance(arg, str):
            raise _fail(line, "expr must be a SQL expression in quotes", name)
        sql = check_expr(arg, columns, name=name, line=line)
        return Rule(kind, line, name, (), arg, f"NOT coalesce(({sql}), true)")
    if kind == "unique":
        cols = _unique_columns(arg, column, columns, name, line)
        return Rule(kind, line, name, cols, None, "")
    col = _need_column(column, columns, name, line)
    return Rule(kind, line, name, (col,), arg, _predicate(kind, arg, col, columns[col], name, line))


def _unique_columns(
    arg: Any, column: str | None, columns: dict[str, str], name: str, line: int
) -> tuple[str, ...]:
    if arg is True:
        return (_need_column(column, columns, name, line),)
    if isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg):
        return tuple(_need_column(a, columns, name, line) for a in arg)
    raise _fail(line, "unique takes `true` (with column:) or a list of column names", name)


def _predicate(kind: str, arg: Any, col: str, typ: str, name: str, line: int) -> str:
    q = quote_ident(col)
    if kind == "not_null":
        if arg is not True:
            raise _fail(line, "not_null takes `true`", name)
        empty = f" OR trim({q}) = ''" if typ.upper() == "VARCHAR" else ""
        return f"({q} IS NULL{empty})"
    if kind == "between":
        if not (isinstance(arg, list) and len(arg) == 2 and all(_is_number(a) for a in arg)):
            raise _fail(line, "between takes [low, high] numbers", name)
        return f"({q} IS NOT NULL AND NOT ({q}::DOUBLE BETWEEN {float(arg[0])!r} AND {float(arg[1])!r}))"
    if kind == "in_set":
        if not (isinstance(arg, list) and arg):
            raise _fail(line, "in_set takes a non-empty list of values", name)
        values = ", ".join(quote_literal(str(a)) for a in arg)
        return f"({q} IS NOT NULL AND {q}::VARCHAR NOT IN ({values}))"
    if kind == "matches":
        if not isinstance(arg, str):
            raise _fail(line, "matches takes a regular expression in quotes", name)
        try:
            re.compile(arg)
        except re.error as e:
            raise _fail(line, f"bad regular expression ({e})", name) from e
        return f"({q} IS NOT NULL AND NOT regexp_matches({q}::VARCHAR, {quote_literal(arg)}))"
    return _valid_predicate(arg, q, name, line)


def _is_number(value: object) -> bool:
    """A finite number (YAML's ``.nan`` and ``.inf`` are not bounds: they would reach SQL as text)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a double
        return False


def _valid_predicate(arg: Any, q: str, name: str, line: int) -> str:
    if not isinstance(arg, str) or arg not in KINDS():
        raise _fail(line, f"valid takes one of {', '.join(sorted(KINDS()))}; got {arg!r}", name)
    return f"({q} IS NOT NULL AND NOT coalesce({valid_sql(arg, q)}, false))"


def check_expr(text: str, columns: dict[str, str], *, name: str, line: int) -> str:
    """The DuckDB SQL of a scalar expression over ``columns``; refuses anything else."""
    try:
        trees = [t for t in parse(text, read="duckdb") if t is not None]
    except ParseError as e:
        raise _fail(line, f"expr is not a SQL expression ({str(e).splitlines()[0]})", name) from e
    if len(trees) != 1:
        raise _fail(line, "expr must be ONE expression (no `;`)", name)
    tree = trees[0]
    for node in tree.walk():
        _check_node(node, columns, name, line)
    return tree.sql(dialect="duckdb")


def _check_node(node: Any, columns: dict[str, str], name: str, line: int) -> None:
    if isinstance(node, _FORBIDDEN):
        what = node.key.upper()
        raise _fail(line, f"expr may only be a scalar expression over columns ({what} is not allowed)", name)
    if isinstance(node, exp.Column):
        if node.table or node.name not in columns:
            raise _fail(
                line, f"expr names unknown column {node.sql()!r}; columns are {', '.join(columns)}", name
            )
    elif isinstance(node, exp.Anonymous):
        if str(node.name).lower() not in _ALLOWED_NAMES:
            raise _fail(line, f"expr calls {node.name!r}, which is not an allowed function", name)
    elif isinstance(node, exp.Func) and not isinstance(node, _OPERATORS) and type(node) not in _ALLOWED_FUNCS:
        raise _fail(line, f"expr calls {node.sql_name()!r}, which is not an allowed function", name)


def rule_exprs(rules: list[Rule]) -> dict[str, str]:
    """Pass-2 aggregate expressions: a violation count and the first offending rows per rule."""
    out: dict[str, str] = {}
    for i, r in enumerate(rules):
        if r.kind == "unique":
            cols = ", ".join(quote_ident(c) for c in r.columns)
            key = f"({cols})" if len(r.columns) > 1 else cols
            present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in r.columns)
            out[f"rule:{i}"] = f"count(*) FILTER (WHERE {present}) - count(DISTINCT {key})"
        else:
            out[f"rule:{i}"] = f"count(*) FILTER (WHERE {r.violation})"
            out[f"rows:{i}"] = f"min(file_row_number, {ROW_LIMIT}) FILTER (WHERE {r.violation})"
    return out


def unique_rows_sql(rule: Rule) -> str:
    """Positions of rows that repeat a key (every row of a repeated key), first ``ROW_LIMIT``."""
    cols = ", ".join(quote_ident(c) for c in rule.columns)
    present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in rule.columns)
    return (
        f"SELECT file_row_number FROM (SELECT file_row_number, count(*) OVER (PARTITION BY {cols}) AS n "
        f"FROM t WHERE {present}) WHERE n > 1 ORDER BY 1 LIMIT {ROW_LIMIT}"
    )
