"""The YAML rule language: exact violation counts per rule kind, and every bad input refused with its line."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataex.demo.data import resident_id_check_digit
from dataex.errors import InvalidInput
from dataex.quality import formats, profile, rules

N = 200
COLUMNS = {
    "id": "BIGINT", "name": "VARCHAR", "age": "BIGINT", "sex": "VARCHAR", "mobile": "VARCHAR",
    "id_no": "VARCHAR", "cost": "DOUBLE", "paid": "DOUBLE",
}  # fmt: skip


def _resident_id(i: int, *, good: bool = True) -> str:
    first17 = f"330106{1950 + i % 50}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 1000:03d}"
    check = resident_id_check_digit(first17)
    if not good:
        check = "0" if check != "0" else "1"
    return first17 + check


def _table() -> pa.Table:
    ids = list(range(N))
    ids[199] = 198  # 1 repeated key
    names: list[str | None] = [f"患者{i}" for i in range(N)]
    for i in (3, 5, 7, 9):
        names[i] = None
    names[11] = names[13] = "  "  # 6 missing names in all
    ages: list[int | None] = [20 + i % 60 for i in range(N)]
    ages[0], ages[1], ages[2], ages[20], ages[21] = -1, 130, 200, None, None  # 3 out of range
    sexes = ["男" if i % 2 else "女" for i in range(N)]
    for i in (30, 31, 32, 33):
        sexes[i] = "X"  # 4 outside the code list
    mobiles = [f"138{i:08d}" for i in range(N)]
    for i in (40, 41, 42, 43, 44):
        mobiles[i] = f"12{i:09d}"  # 5 not matching
    id_nos: list[str | None] = [_resident_id(i) for i in range(N)]
    for i in range(50, 57):
        id_nos[i] = _resident_id(i, good=False)  # 7 wrong check digits
    id_nos[60] = id_nos[61] = id_nos[62] = None
    costs = [100.0 + i for i in range(N)]
    for i in range(70, 76):
        costs[i] = -costs[i]  # 6 negative
    paid = [c / 2 for c in costs]
    paid[80] = paid[81] = 10_000.0  # 2 paid more than cost
    return pa.table(
        {"id": ids, "name": names, "age": ages, "sex": sexes, "mobile": mobiles, "id_no": id_nos,
         "cost": costs, "paid": paid}
    )  # fmt: skip


RULES = """\
rules:
  - {column: name, not_null: true}
  - {column: id, unique: true}
  - {column: age, between: [0, 120]}
  - {column: sex, in_set: [男, 女]}
  - {column: mobile, matches: '^1[3-9][0-9]{9}$'}
  - {column: id_no, valid: cn_resident_id}
  - name: cost is not negative
    expr: "cost >= 0"
  - {name: paid within cost, expr: "paid <= abs(cost) or cost < 0"}
"""


@pytest.fixture
def con(tmp_path: Path) -> profile.duckdb.DuckDBPyConnection:
    path = tmp_path / "t.parquet"
    pq.write_table(_table(), path)
    c = profile.connect(path)
    formats.register_udfs(c)
    return c


def test_each_rule_kind_counts_exact_violations(con: profile.duckdb.DuckDBPyConnection) -> None:
    compiled = rules.load_rules(RULES, COLUMNS)
    got = profile.aggregate(con, rules.rule_exprs(compiled))
    counts = {r.name: int(got[f"rule:{i}"]) for i, r in enumerate(compiled)}
    assert counts == {
        "not_null:name": 6,
        "unique:id": 1,
        "between:age": 3,
        "in_set:sex": 4,
        "matches:mobile": 5,
        "valid:id_no": 7,
        "cost is not negative": 6,
        "paid within cost": 2,
    }
    assert [r.line for r in compiled] == [2, 3, 4, 5, 6, 7, 9, 10]
    assert sorted(got["rows:5"]) == list(range(50, 57))  # the owner can list offending rows
    assert sorted(got["rows:2"]) == [0, 1, 2]
    unique = con.execute(rules.unique_rows_sql(compiled[1])).fetchall()
    assert [r[0] for r in unique] == [198, 199]


def test_sql_resident_id_check_agrees_with_the_recognizer(con: profile.duckdb.DuckDBPyConnection) -> None:
    from dataex.privacy.detect import recognizer

    values = [v for v in _table().column("id_no").to_pylist() if v] + [
        "11010519491231002X",
        "110105194912310021",
    ]
    sql = formats.valid_sql("cn_resident_id", "v")
    got = con.execute(f"SELECT v, {sql} FROM unnest($1::VARCHAR[]) u(v)", [values]).fetchall()
    assert {v: bool(ok) for v, ok in got} == {v: recognizer("cn_resident_id").validate(v) for v in values}


def test_valid_uses_recognizers_for_other_kinds(con: profile.duckdb.DuckDBPyConnection) -> None:
    compiled = rules.load_rules("- {column: mobile, valid: bank_card}", COLUMNS)
    got = profile.aggregate(con, rules.rule_exprs(compiled))
    assert got["rule:0"] == N  # phone numbers are not Luhn-valid 16-19 digit cards


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("- {column: age, between: [0, 1]}\n- {column: age, positive: true}\n", 2, "unknown rule 'positive'"),
        ('- {column: age, not_null: true}\n- name: sneaky\n  expr: "(select 1)"\n', 3, "SUBQUERY"),
        ("- {column: age, not_null: true}\n\n- expr: \"read_csv('x')\"\n", 3, "READ_CSV"),
        ('- expr: "age > 1; drop table t"\n', 1, "no `;`"),
        ('- {column: age, not_null: true}\n- expr: "agee > 1"\n', 2, "unknown column 'agee'"),
        ("- {column: agee, not_null: true}\n", 1, "unknown column 'agee'"),
        ("- {column: age, between: [1]}\n", 1, "between takes"),
        ("- {column: age, between: [.nan, .inf]}\n", 1, "between takes"),
        ("- {column: age, between: [0, 1e400]}\n", 1, "between takes"),
        ("- {column: age, valid: not_a_kind}\n", 1, "valid takes"),
        ("- {column: age, matches: '('}\n", 1, "bad regular expression"),
        ('- expr: "age in (select id from t)"\n', 1, "SUBQUERY"),
        ('- expr: "sum(age) > 1"\n', 1, "SUM"),
        ("- expr: \"getenv('HOME') = name\"\n", 1, "getenv"),
        ("- {column: age, not_null: true, unique: true}\n", 1, "exactly one"),
        ("rules: [{column: age, not_null: true}\n", 2, "not valid YAML"),
    ],
)
def test_bad_rules_are_refused_with_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidInput) as e:
        rules.load_rules(text, COLUMNS)
    assert e.value.details["line"] == line
    assert f"line {line}" in e.value.message
    assert words in e.value.message


def test_expr_is_regenerated_not_passed_through() -> None:
    sql = rules.check_expr("age>1 and sex in ('男')", COLUMNS, name="r", line=1)
    assert sql == "age > 1 AND sex IN ('男')"
