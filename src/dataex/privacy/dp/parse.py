"""The DP SQL grammar: a whitelist parser on sqlglot. Anything not accepted is refused before it runs.

Accepted (see docs/dp.md)::

    SELECT item [, item …] FROM table [WHERE predicate] [GROUP BY column [, column …]]
           [ORDER BY output [ASC|DESC] [, …]] [LIMIT n] [;]
    item      := column [AS alias]                       -- only a GROUP BY column
               | COUNT(*) | COUNT(column) | COUNT(DISTINCT column)
               | SUM(column) | AVG(column) | MEDIAN(column)   [AS alias]
    predicate := comparisons (= <> != < <= > >=), AND, OR, NOT, IN (literals), BETWEEN, IS [NOT] NULL,
                 [NOT] LIKE, + - * / and parentheses over columns and literals

``table`` is the dataset's name or id, unqualified. Refused, each with a precise message: several
statements, comments, anything but SELECT (PRAGMA, SET, ATTACH, COPY, INSERT, …), set operations,
WITH, subqueries, joins, table functions (read_csv, read_parquet, …), window functions, SELECT *,
raw (ungrouped) columns, DISTINCT, HAVING, QUALIFY, other aggregates and other functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from dataex.config import MAX_SQL_CHARS
from dataex.errors import QueryRefused

READ_DIALECT: Final = "duckdb"
OutputKind = Literal["key", "count", "count_column", "count_distinct", "sum", "avg", "median"]
AGGREGATES: Final[dict[type[exp.Expression], OutputKind]] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Median: "median",
}
PREDICATE_NODES: Final[tuple[type[exp.Expression], ...]] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.EQ,
    exp.NEQ,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Tuple,
)
STATEMENT_NAMES: Final[dict[str, str]] = {
    "Pragma": "PRAGMA",
    "Set": "SET",
    "Attach": "ATTACH",
    "Detach": "DETACH",
    "Copy": "COPY",
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Create": "CREATE",
    "Drop": "DROP",
    "Alter": "ALTER",
    "Use": "USE",
    "Describe": "DESCRIBE",
    "Show": "SHOW",
    "Command": "a command",
    "Install": "INSTALL",
    "Load": "LOAD",
    "Export": "EXPORT",
}


@dataclass(frozen=True)
class Output:
    """One item of the SELECT list: a group key or an aggregate of one column (``None``: ``*``)."""

    name: str
    kind: OutputKind
    column: str | None


@dataclass(frozen=True)
class ParsedQuery:
    """A query inside the grammar. ``where`` is the sqlglot predicate, re-rendered by the rewriter."""

    table: str
    outputs: tuple[Output, ...]
    group_by: tuple[str, ...]
    where: exp.Expression | None
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    columns: frozenset[str] = field(default_factory=frozenset)

    def normalized(self, table: str) -> str:
        """A canonical text of the query with the table named ``table`` (what the cache keys on)."""
        parts = [
            "SELECT " + ", ".join(f"{o.kind}({o.column or '*'}) AS {o.name}" for o in self.outputs),
            f"FROM {table}",
            "WHERE " + (self.where.sql(dialect=READ_DIALECT, normalize=True) if self.where else "TRUE"),
            "GROUP BY " + ", ".join(self.group_by),
            "ORDER BY " + ", ".join(f"{n} {'DESC' if d else 'ASC'}" for n, d in self.order_by),
            f"LIMIT {self.limit}",
        ]
        return "\n".join(parts)

    def query_hash(self, table: str) -> str:
        return hashlib.sha256(self.normalized(table).encode()).hexdigest()


def refuse(construct: str, message: str) -> QueryRefused:
    return QueryRefused(f"query refused: {message}", construct=construct)


def parse(sql: str) -> ParsedQuery:
    """Parses ``sql`` or raises :class:`QueryRefused` naming the construct outside the grammar."""
    if not sql or not sql.strip():
        raise refuse("empty", "the query is empty; write one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:  # bounded before it is tokenized, parsed or logged
        raise refuse("too_long", f"the query has {len(sql)} characters; at most {MAX_SQL_CHARS} are read")
    _check_tokens(sql)
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    except (ParseError, TokenError) as e:
        raise refuse("syntax", f"the SQL does not parse: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise refuse("statements", f"exactly one SELECT statement is allowed; found {len(statements)}")
    return _select(statements[0])


def _check_tokens(sql: str) -> None:
    try:
        tokens = sqlglot.Dialect.get_or_raise(READ_DIALECT).tokenize(sql)
    except TokenError as e:
        raise refuse("syntax", f"the SQL does not tokenize: {str(e).splitlines()[0]}") from e
    if any(t.comments for t in tokens):
        raise refuse("comment", "comments are not allowed in DP SQL (they can hide statements)")
    semicolons = [i for i, t in enumerate(tokens) if t.token_type == sqlglot.TokenType.SEMICOLON]
    if any(i != len(tokens) - 1 for i in semicolons):
        raise refuse("statements", "exactly one SELECT statement is allowed; found several (';')")


def _select(tree: exp.Expr) -> ParsedQuery:
    if isinstance(tree, exp.SetOperation):
        kind = type(tree).__name__.upper()
        raise refuse("set_operation", f"{kind} is not allowed: ask one SELECT at a time")
    if not isinstance(tree, exp.Select):
        name = STATEMENT_NAMES.get(type(tree).__name__, type(tree).__name__.upper())
        if isinstance(tree, exp.Command):
            name = str(tree.this).upper()
        raise refuse("statement", f"{name} is not allowed: only SELECT queries are answered")
    _check_shape(tree)
    table = _table(tree)
    group_by = _group_by(tree)
    outputs = tuple(_output(item, group_by) for item in tree.expressions)
    if not outputs:
        raise refuse("select", "the SELECT list is empty")
    names = [o.name for o in outputs]
    if len(set(names)) != len(names):
        raise refuse("select", f"output names must be unique; got {names}")
    if not any(o.kind != "key" for o in outputs):
        raise refuse(
            "raw_column", "select at least one aggregate (COUNT, SUM, AVG, MEDIAN); rows never leave"
        )
    where = tree.args.get("where")
    predicate = where.this if where is not None else None
    if predicate is not None:
        _check_predicate(predicate)
    columns = {c.name for c in tree.find_all(exp.Column)}
    return ParsedQuery(
        table=table,
        outputs=outputs,
        group_by=group_by,
        where=predicate,
        order_by=_order_by(tree, set(names)),
        limit=_limit(tree),
        columns=frozenset(columns),
    )


def _check_shape(tree: exp.Select) -> None:
    if tree.args.get("with_") or tree.args.get("with"):
        raise refuse("cte", "WITH (common table expressions) is not allowed")
    for node in tree.walk():
        if node is tree:
            continue
        if isinstance(node, exp.Select | exp.Subquery | exp.SetOperation):
            raise refuse("subquery", "subqueries are not allowed")
        if isinstance(node, exp.Window):
            raise refuse("window", "window functions (… OVER …) are not allowed")
    if tree.args.get("joins"):
        raise refuse("join", "joins are not allowed: a query reads the contract's dataset only")
    if tree.args.get("distinct"):
        raise refuse("distinct", "SELECT DISTINCT is not allowed: it releases raw values")
    for clause, what in (("having", "HAVING"), ("qualify", "QUALIFY"), ("offset", "OFFSET")):
        if tree.args.get(clause):
            raise refuse(clause, f"{what} is not allowed; filter the noisy answer yourself")
    for clause in ("laterals", "pivots", "sample", "into", "locks", "cluster", "distribute", "sort"):
        if tree.args.get(clause):
            raise refuse(clause, f"{clause.upper()} is not allowed")


def _table(tree: exp.Select) -> str:
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None:
        raise refuse("from", "name the dataset in FROM")
    if tree.args.get("joins") or len(source.expressions or []) > 0:
        raise refuse("join", "joins are not allowed: a query reads the contract's dataset only")
    table = source.this
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise refuse(
            "table_function",
            f"table functions such as {table.sql(dialect=READ_DIALECT)[:40]} are not allowed",
        )
    if table.args.get("db") or table.args.get("catalog"):
        raise refuse("qualified_table", "name the dataset without a schema or catalog")
    if table.args.get("joins") or table.args.get("laterals") or table.args.get("pivots"):
        raise refuse("join", "joins are not allowed")
    return str(table.name)


def _group_by(tree: exp.Select) -> tuple[str, ...]:
    group = tree.args.get("group")
    if group is None:
        return ()
    out: list[str] = []
    for item in group.expressions:
        if not isinstance(item, exp.Column) or item.table:
            raise refuse("group_by", f"GROUP BY takes plain columns; got {item.sql(dialect=READ_DIALECT)}")
        out.append(str(item.name))
    for key in ("rollup", "cube", "grouping_sets"):
        if group.args.get(key):
            raise refuse("group_by", f"GROUP BY {key.upper()} is not allowed")
    return tuple(out)


def _output(item: exp.Expression, group_by: tuple[str, ...]) -> Output:
    alias = item.alias if isinstance(item, exp.Alias) else None
    node = item.this if isinstance(item, exp.Alias) else item
    if isinstance(node, exp.Star):
        raise refuse("star", "SELECT * is not allowed: rows never leave; select aggregates")
    if isinstance(node, exp.Column):
        if isinstance(node.this, exp.Star):
            raise refuse("star", "SELECT * is not allowed: rows never leave; select aggregates")
        if node.name not in group_by:
            raise refuse(
                "raw_column",
                f"raw column {node.name!r} cannot be selected; only GROUP BY columns and aggregates",
            )
        return Output(alias or str(node.name), "key", str(node.name))
    kind = AGGREGATES.get(type(node))
    if kind is None:
        what = node.sql(dialect=READ_DIALECT)[:60]
        if isinstance(node, exp.AggFunc):
            raise refuse("aggregate", f"{what} is not an allowed aggregate; use COUNT, SUM, AVG or MEDIAN")
        raise refuse("expression", f"{what} is not allowed in the SELECT list; use COUNT, SUM, AVG or MEDIAN")
    arg = node.this
    default = f"{kind}_{_arg_name(arg)}" if kind != "count" or not isinstance(arg, exp.Star) else "count"
    name = alias or default
    if kind == "count":
        if isinstance(arg, exp.Star):
            return Output(name, "count", None)
        if isinstance(arg, exp.Distinct):
            cols = arg.expressions
            if len(cols) != 1 or not isinstance(cols[0], exp.Column):
                raise refuse("aggregate", "COUNT(DISTINCT …) takes one column: the privacy unit")
            return Output(name, "count_distinct", str(cols[0].name))
        return Output(name, "count_column", _column_arg(arg, "COUNT"))
    if isinstance(arg, exp.Distinct):
        raise refuse("aggregate", f"{kind.upper()}(DISTINCT …) is not allowed")
    if kind == "median" and node.args.get("expressions"):
        raise refuse("aggregate", "MEDIAN takes one column")
    return Output(name, kind, _column_arg(arg, kind.upper()))


def _arg_name(arg: exp.Expression) -> str:
    if isinstance(arg, exp.Distinct) and arg.expressions:
        return _arg_name(arg.expressions[0])
    return str(arg.name) if isinstance(arg, exp.Column) else "x"


def _column_arg(arg: exp.Expression, fn: str) -> str:
    if not isinstance(arg, exp.Column) or isinstance(arg.this, exp.Star):
        raise refuse(
            "expression", f"{fn} takes one column with declared bounds; got {arg.sql(dialect=READ_DIALECT)}"
        )
    return str(arg.name)


def _check_predicate(predicate: exp.Expression) -> None:
    for node in predicate.walk():
        if isinstance(node, exp.AggFunc):
            raise refuse("aggregate", "aggregates are not allowed in WHERE")
        if not isinstance(node, PREDICATE_NODES):
            what = node.sql(dialect=READ_DIALECT)[:60]
            if isinstance(node, exp.Func):
                raise refuse("function", f"function {what} is not allowed in WHERE")
            raise refuse(
                "expression",
                f"{what!r} is not allowed in WHERE; use comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE",
            )
        if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
            raise refuse("subquery", "subqueries are not allowed")


def _order_by(tree: exp.Select, names: set[str]) -> tuple[tuple[str, bool], ...]:
    order = tree.args.get("order")
    if order is None:
        return ()
    out: list[tuple[str, bool]] = []
    for item in order.expressions:
        target = item.this
        if not isinstance(target, exp.Column) or target.name not in names:
            raise refuse("order_by", f"ORDER BY takes output names ({', '.join(sorted(names))})")
        out.append((str(target.name), bool(item.args.get("desc"))))
    return tuple(out)


def _limit(tree: exp.Select) -> int | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = limit.expression
    if not isinstance(value, exp.Literal) or value.is_string or not str(value.this).isdigit():
        raise refuse("limit", "LIMIT takes a non-negative integer")
    return int(value.this)
