"""The real-file corpus (tests/data/real/README.md): every file, its expected outcome."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from dataex.cli.main import app
from dataex.errors import BadFile, RaggedRows
from dataex.exchange import Exchange
from dataex.storage.importer import ImportResult, import_table
from tests.conftest import Node, add

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
CSVKIT = REAL / "csvkit"


def _import(tmp_path: Path, name: str) -> tuple[ImportResult, Path]:
    out = tmp_path / "out.parquet"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return import_table(CSVKIT / name, out, work_dir=work), out


def test_the_corpus_is_what_the_readme_says() -> None:
    listed = {}
    for line in (REAL / "README.md").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            listed[parts[1]] = parts[0]
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in CSVKIT.iterdir()}
    assert files == listed


@pytest.mark.parametrize(
    ("name", "encoding", "rows", "types"),
    [
        ("test_latin1.csv", "cp1252", 2, ["BIGINT", "BIGINT", "VARCHAR"]),
        ("test_utf8_bom.csv", "utf-8-sig", 2, ["BIGINT", "BIGINT", "VARCHAR"]),
        ("test_utf16_little.csv", "utf-16", 2, ["BIGINT", "BIGINT", "VARCHAR"]),
        ("mac_newlines.csv", "utf-8", 2, ["VARCHAR", "BIGINT", "BIGINT"]),
        ("test_skip_lines.csv", "utf-8", 1, ["BIGINT", "BIGINT", "BIGINT"]),
        ("test_date_format.csv", "utf-8", 2, ["DATE"]),
        ("acs2012_5yr_population.csv", "utf-8", 93, ["BIGINT", "VARCHAR", "BIGINT", "BIGINT"]),
        ("dummy.xlsx", None, 1, ["BIGINT", "BIGINT", "BIGINT"]),
    ],
)
def test_real_files_import(
    tmp_path: Path, name: str, encoding: str | None, rows: int, types: list[str]
) -> None:
    result, _ = _import(tmp_path, name)
    assert (result.encoding, result.rows, [c.type for c in result.columns]) == (encoding, rows, types)
    assert result.report["decisions"] == []


def test_latin1_copyright_sign_survives(tmp_path: Path) -> None:
    result, out = _import(tmp_path, "test_latin1.csv")
    with duckdb.connect() as con:
        assert con.execute("SELECT c FROM read_parquet(?)", [str(out)]).fetchall() == [("3",), ("©",)]
    assert result.report["encoding"]["evidence"]["windows-1252"]["score"] == 1.0


def test_real_bad_files_are_refused_with_lines(tmp_path: Path) -> None:
    with pytest.raises(RaggedRows) as ragged:
        _import(tmp_path, "bad.csv")
    assert ragged.value.details["lines"] == [2, 3]
    with pytest.raises(BadFile, match="column 10 has an empty name"):
        _import(tmp_path, "FY09_EDU_Recipients_by_State.csv")


def test_real_kansas_file_registers_through_the_cli_with_its_import_report(
    sqlite_node: Node, tmp_path: Path
) -> None:
    owner = add(sqlite_node, "Kansas data desk")
    sqlite_node.ex.close()
    result = CliRunner().invoke(
        app,
        ["register", str(CSVKIT / "ks_1033_data.csv"), "--title", "1033", "--license", "public-domain",
         "--as", owner.token, "--home", str(sqlite_node.home), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rows"] == 1575 and out["created"]
    assert out["import"]["encoding"] == {"name": "utf-8", "by": "valid UTF-8"}
    assert out["import"]["decisions"] == [] and out["import"]["similar_to"] == []


def test_cli_register_reports_and_strict_refuses(sqlite_node: Node, tmp_path: Path) -> None:
    owner = add(sqlite_node, "Clinic")
    sqlite_node.ex.close()
    src = tmp_path / "ages.csv"
    src.write_text("id,age\n" + "".join(f"{i},{'thirty' if i == 5 else 20 + i}\n" for i in range(40)))
    base = ["register", str(src), "--title", "ages", "--license", "x", "--as", owner.token]
    base += ["--home", str(sqlite_node.home), "--json"]
    strict = CliRunner().invoke(app, [*base, "--strict"], catch_exceptions=False)
    assert strict.exit_code != 0
    err = json.loads(strict.stdout)
    assert err["code"] == "bad_file" and "line 7" in err["error"] and "'thirty'" in err["error"]
    ok = CliRunner().invoke(app, base, catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    [decision] = json.loads(ok.stdout)["import"]["decisions"]
    assert decision == {
        "kind": "mostly_numeric", "column": "age", "kept_as": "VARCHAR", "failing": 1, "of": 40,
        "rows": [6], "samples": ["thirty"], "lines": [7],
    }  # fmt: skip
    registered = json.loads(ok.stdout)
    ex = Exchange.open(home=sqlite_node.home)
    try:
        logged = ex.prove_inclusion(registered["log_index"])["entry"]["data"]["import"]
    finally:
        ex.close()
    assert logged["decisions"] == [
        {
            "kind": "mostly_numeric",
            "column_index": 1,
            "kept_as": "VARCHAR",
            "failing": 1,
            "of": 40,
            "rows": [6],
            "lines": [7],
        }
    ]  # fmt: skip  (no value, no field name in the log)
