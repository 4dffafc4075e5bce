"""The whitelist grammar: accepted shapes, and one test per refused SQL form."""

from __future__ import annotations

import pytest

from dataex.errors import QueryRefused
from dataex.privacy.dp.parse import parse

REFUSED = {
    "select_star": ("SELECT * FROM visits", "star"),
    "raw_column": ("SELECT name FROM visits", "raw_column"),
    "raw_column_with_aggregate": ("SELECT name, COUNT(*) FROM visits", "raw_column"),
    "subquery_in_from": ("SELECT COUNT(*) FROM (SELECT * FROM visits)", "subquery"),
    "subquery_in_where": ("SELECT COUNT(*) FROM visits WHERE age IN (SELECT age FROM visits)", "subquery"),
    "scalar_subquery": ("SELECT COUNT(*) FROM visits WHERE cost > (SELECT 1)", "subquery"),
    "join": ("SELECT COUNT(*) FROM visits JOIN other ON visits.a = other.a", "join"),
    "comma_join": ("SELECT COUNT(*) FROM visits, other", "join"),
    "window_function": ("SELECT COUNT(*) OVER () FROM visits", "window"),
    "row_number": ("SELECT ROW_NUMBER() OVER (ORDER BY age) FROM visits", "window"),
    "read_csv": ("SELECT COUNT(*) FROM read_csv('/etc/passwd')", "table_function"),
    "read_parquet": ("SELECT COUNT(*) FROM read_parquet('/tmp/x.parquet')", "table_function"),
    "attach": ("ATTACH 'other.db'", "statement"),
    "copy": ("COPY visits TO '/tmp/out.csv'", "statement"),
    "pragma": ("PRAGMA database_list", "statement"),
    "set": ("SET threads = 1", "statement"),
    "insert": ("INSERT INTO visits VALUES (1)", "statement"),
    "several_statements": ("SELECT COUNT(*) FROM visits; SELECT COUNT(*) FROM visits", "statements"),
    "comment_hiding_statement": ("SELECT COUNT(*) FROM visits /*; DROP TABLE visits */", "comment"),
    "line_comment": ("SELECT COUNT(*) FROM visits -- ; COPY visits TO 'x'", "comment"),
    "union": ("SELECT COUNT(*) FROM visits UNION ALL SELECT COUNT(*) FROM visits", "set_operation"),
    "cte": ("WITH v AS (SELECT * FROM visits) SELECT COUNT(*) FROM v", "cte"),
    "other_aggregate": ("SELECT MAX(cost) FROM visits", "aggregate"),
    "aggregate_of_expression": ("SELECT SUM(cost * 2) FROM visits", "expression"),
    "function_in_where": ("SELECT COUNT(*) FROM visits WHERE length(name) > 3", "function"),
    "having": ("SELECT diagnosis, COUNT(*) FROM visits GROUP BY diagnosis HAVING COUNT(*) > 5", "having"),
    "distinct": ("SELECT DISTINCT diagnosis, COUNT(*) FROM visits GROUP BY diagnosis", "distinct"),
    "group_by_expression": ("SELECT COUNT(*) FROM visits GROUP BY lower(diagnosis)", "group_by"),
    "qualified_table": ("SELECT COUNT(*) FROM main.visits", "qualified_table"),
    "no_from": ("SELECT 1", "from"),
    "empty": ("   ", "empty"),
}


@pytest.mark.parametrize(("sql", "construct"), list(REFUSED.values()), ids=list(REFUSED))
def test_refused(sql: str, construct: str) -> None:
    with pytest.raises(QueryRefused) as info:
        parse(sql)
    assert info.value.construct == construct
    assert info.value.message.startswith("query refused: ")


def test_the_issue_query_is_accepted() -> None:
    q = parse(
        "SELECT diagnosis, COUNT(*) AS n, AVG(cost) AS avg_cost FROM visits "
        "WHERE age >= 60 GROUP BY diagnosis"
    )
    assert [(o.name, o.kind, o.column) for o in q.outputs] == [
        ("diagnosis", "key", "diagnosis"),
        ("n", "count", None),
        ("avg_cost", "avg", "cost"),
    ]
    assert q.group_by == ("diagnosis",)
    assert q.table == "visits"


def test_predicates_median_distinct_order_limit() -> None:
    q = parse(
        "SELECT sex, MEDIAN(cost) AS med, COUNT(DISTINCT patient_id) AS patients FROM ds_x "
        "WHERE (age BETWEEN 1 AND 90 OR sex IN ('F', 'M')) AND NOT cost IS NULL AND name LIKE 'x%' "
        "GROUP BY sex ORDER BY med DESC LIMIT 3;"
    )
    assert [o.kind for o in q.outputs] == ["key", "median", "count_distinct"]
    assert q.order_by == (("med", True),)
    assert q.limit == 3


def test_normalized_hash_ignores_spelling() -> None:
    a = parse("select count(*) as n from visits where age>=60")
    b = parse("SELECT  COUNT(*)  AS n\nFROM visits WHERE age >= 60;")
    assert a.query_hash("ds_1") == b.query_hash("ds_1")
    assert a.query_hash("ds_1") != parse("SELECT COUNT(*) AS n FROM visits WHERE age >= 61").query_hash(
        "ds_1"
    )
