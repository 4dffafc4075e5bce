"""import_table: every format, every encoding rule, every bad input, with real files and real DuckDB."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataex.errors import (
    BadFile,
    DataexError,
    DuplicateColumns,
    EmptyFile,
    InputFileNotFound,
    RaggedRows,
    UndecodableFile,
    UnsafePath,
    UnsupportedFormat,
)
from dataex.storage import importer
from dataex.storage.importer import SUFFIXES, Column, ImportResult, import_table

# --- helpers --------------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path) -> Path:
    d = tmp_path / "scratch"
    d.mkdir()
    return d


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out.parquet"


def run(src: Path, out: Path, work: Path, format: str | None = None) -> ImportResult:
    result = import_table(src, out, work_dir=work, format=format)
    assert out.is_file()
    assert list(work.iterdir()) == [], "scratch files left behind"
    return result


def fails(
    src: Path, out: Path, work: Path, error: type[DataexError], *words: str, format: str | None = None
) -> DataexError:
    """Asserts the import raises ``error`` naming ``words``, and leaves neither ``out`` nor scratch."""
    with pytest.raises(error) as info:
        import_table(src, out, work_dir=work, format=format)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    message = info.value.message
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert not out.exists(), "out left behind"
    assert list(work.iterdir()) == [], "scratch files left behind"
    return info.value


def rows_of(path: Path) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()


def text_rows(path: Path) -> list[tuple[str | None, ...]]:
    """Every cell as DuckDB's CAST(... AS VARCHAR), in file order."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
        cols = ", ".join(f'CAST("{n}" AS VARCHAR)' for n in names)
        return con.execute(f"SELECT {cols} FROM read_parquet('{path}')").fetchall()


def types(result: ImportResult) -> dict[str, str]:
    return {c.name: c.type for c in result.columns}


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


# --- the same table in every format -----------------------------------------------------------------

TABLE: list[dict[str, object]] = [
    {"id": 1, "name": "张三", "amount": 12.5, "visit_date": dt.date(2025, 1, 3), "flag": True},
    {"id": 2, "name": "李四", "amount": None, "visit_date": dt.date(2025, 2, 14), "flag": False},
    {"id": 3, "name": None, "amount": 0.1, "visit_date": None, "flag": True},
    {"id": 4, "name": 'O\'Brien, "Pat"', "amount": 1e6, "visit_date": dt.date(2025, 12, 31), "flag": None},
    {"id": 5, "name": "王五\n第二行", "amount": -3.25, "visit_date": dt.date(2024, 2, 29), "flag": False},
]
EXPECTED_TYPES = {
    "id": "BIGINT",
    "name": "VARCHAR",
    "amount": "DOUBLE",
    "visit_date": "DATE",
    "flag": "BOOLEAN",
}


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(
    path: Path, rows: list[dict[str, object]] = TABLE, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(list(rows[0]))
        for r in rows:
            w.writerow([_csv_cell(v) for v in r.values()])
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]] = TABLE) -> Path:
    lines = [
        json.dumps(
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()}, ensure_ascii=False
        )
        for r in rows
    ]
    return write(path, "".join(line + "\n" for line in lines))


def write_parquet(path: Path, rows: list[dict[str, object]] = TABLE) -> Path:
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "amount": pa.array([r["amount"] for r in rows], pa.float64()),
            "visit_date": pa.array([r["visit_date"] for r in rows], pa.date32()),
            "flag": pa.array([r["flag"] for r in rows], pa.bool_()),
        }
    )
    pq.write_table(table, path)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def write_table_xlsx(path: Path, rows: list[dict[str, object]] = TABLE) -> Path:
    header: list[object] = list(rows[0])
    return write_xlsx(path, [header] + [list(r.values()) for r in rows])


WRITERS: dict[str, Callable[[Path], Path]] = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "parquet": write_parquet,
    "xlsx": write_table_xlsx,
}


def test_the_same_table_in_every_format_gives_the_same_canonical_rows(tmp_path: Path, work: Path) -> None:
    results = {}
    for fmt, writer in WRITERS.items():
        src = writer(tmp_path / f"table.{fmt}")
        out = tmp_path / f"{fmt}.parquet"
        result = run(src, out, work)
        assert result.format == fmt
        assert result.rows == len(TABLE)
        assert types(result) == EXPECTED_TYPES, fmt
        results[fmt] = text_rows(out)
    assert results["csv"] == results["jsonl"] == results["parquet"] == results["xlsx"]
    assert results["csv"][0] == ("1", "张三", "12.5", "2025-01-03", "true")
    assert results["csv"][2] == ("3", None, "0.1", None, "true")


def test_csv(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write_csv(tmp_path / "t.csv"), out, work)
    assert result == ImportResult(
        rows=5, columns=[Column(n, t) for n, t in EXPECTED_TYPES.items()], format="csv", encoding="utf-8"
    )
    assert rows_of(out)[3] == (4, 'O\'Brien, "Pat"', 1e6, dt.date(2025, 12, 31), None)
    assert rows_of(out)[4][1] == "王五\n第二行"


def test_canonical_parquet_is_zstd(tmp_path: Path, out: Path, work: Path) -> None:
    run(write_csv(tmp_path / "t.csv"), out, work)
    meta = pq.ParquetFile(out).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}


def test_tsv(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write_csv(tmp_path / "t.tsv", delimiter="\t"), out, work)
    assert result.format == "tsv"
    assert types(result) == EXPECTED_TYPES


def test_semicolon_delimited_txt(tmp_path: Path, out: Path, work: Path) -> None:
    src = write(tmp_path / "t.txt", "id;name;score\n1;a,b;1.5\n2;c;2.5\n3;d;3.5\n")
    result = run(src, out, work)
    assert result.format == "csv"
    assert types(result) == {"id": "BIGINT", "name": "VARCHAR", "score": "DOUBLE"}
    assert rows_of(out) == [(1, "a,b", 1.5), (2, "c", 2.5), (3, "d", 3.5)]


def test_format_argument_overrides_the_suffix(tmp_path: Path, out: Path, work: Path) -> None:
    src = write(tmp_path / "export.dat", "id\tname\n1\ta\n2\tb\n")
    result = run(src, out, work, format="tsv")
    assert result.format == "tsv"
    assert rows_of(out) == [(1, "a"), (2, "b")]


def test_jsonl_and_ndjson(tmp_path: Path, out: Path, work: Path) -> None:
    for suffix in ("jsonl", "ndjson"):
        result = run(write_jsonl(tmp_path / f"t.{suffix}"), out, work)
        assert result.format == "jsonl"
        assert result.encoding == "utf-8"
        assert types(result) == EXPECTED_TYPES


def test_parquet(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write_parquet(tmp_path / "t.parquet"), out, work)
    assert (result.format, result.encoding, result.rows) == ("parquet", None, 5)
    assert types(result) == EXPECTED_TYPES


def test_xlsx_cells_become_csv_text(tmp_path: Path, out: Path, work: Path) -> None:
    src = write_xlsx(
        tmp_path / "t.xlsx",
        [
            [" id ", "name", "score", "day", "at", "flag", "code"],
            [1, "张三", 2.0, dt.date(2025, 1, 3), dt.datetime(2025, 1, 3, 10, 30), True, "007"],
            [2, None, 2.5, dt.date(2025, 1, 4), dt.datetime(2025, 1, 4, 11, 0), False, "008"],
            [None, None, None, None, None, None, None],
            [3, "x", None, None, None, None, "009"],
        ],
    )
    result = run(src, out, work)
    assert (result.format, result.encoding, result.rows) == ("xlsx", None, 3)
    assert types(result) == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "score": "DOUBLE",
        "day": "DATE",
        "at": "TIMESTAMP",
        "flag": "BOOLEAN",
        "code": "VARCHAR",
    }
    first = (1, "张三", 2.0, dt.date(2025, 1, 3), dt.datetime(2025, 1, 3, 10, 30), True, "007")
    assert rows_of(out)[0] == first
    assert rows_of(out)[2] == (3, "x", None, None, None, None, "009")


def test_header_names_are_stripped(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write(tmp_path / "t.csv", " id ,\tname \n1,a\n"), out, work)
    assert [c.name for c in result.columns] == ["id", "name"]


def test_leading_zeros_stay_text(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write(tmp_path / "t.csv", "code,n\n007,1\n010,2\n"), out, work)
    assert types(result)["code"] == "VARCHAR"
    assert rows_of(out) == [("007", 1), ("010", 2)]


def test_a_late_value_of_another_type_turns_the_column_to_text(tmp_path: Path, out: Path, work: Path) -> None:
    lines = ["id,amount"] + [f"{'abc' if i == 30000 else i},{i}.5" for i in range(1, 30011)]
    result = run(write(tmp_path / "t.csv", "\n".join(lines) + "\n"), out, work)
    assert types(result) == {"id": "VARCHAR", "amount": "DOUBLE"}
    assert result.rows == 30010
    got = rows_of(out)
    assert got[0] == ("1", 1.5)
    assert got[29999] == ("abc", 30000.5)
    assert got[-1] == ("30010", 30010.5)


def test_a_quoted_field_after_the_sniffer_sample_is_parsed(tmp_path: Path, out: Path, work: Path) -> None:
    lines = ["id,text"] + [f"{i},plain {i}" for i in range(25000)]
    lines += ['25000,"hello, world"', '25001,"say ""hi"""', '25002,"two\nlines"']
    result = run(write(tmp_path / "t.csv", "\n".join(lines) + "\n"), out, work)
    assert result.rows == 25003
    assert rows_of(out)[-3:] == [(25000, "hello, world"), (25001, 'say "hi"'), (25002, "two\nlines")]


def test_leading_blank_lines_are_skipped(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write(tmp_path / "t.csv", "\n\nid,name\n1,a\n"), out, work)
    assert types(result) == {"id": "BIGINT", "name": "VARCHAR"}
    assert rows_of(out) == [(1, "a")]


# --- encodings ---------------------------------------------------------------------------------------

CHINESE = "编号,姓名,城市\n1,张三,北京\n2,李四,上海\n3,王五,广州\n"


def test_gb18030(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write(tmp_path / "t.csv", CHINESE, "gb18030"), out, work)
    assert result.encoding == "gb18030"
    assert [c.name for c in result.columns] == ["编号", "姓名", "城市"]
    assert rows_of(out) == [(1, "张三", "北京"), (2, "李四", "上海"), (3, "王五", "广州")]


def test_utf8_bom(tmp_path: Path, out: Path, work: Path) -> None:
    result = run(write(tmp_path / "t.csv", codecs.BOM_UTF8 + CHINESE.encode()), out, work)
    assert result.encoding == "utf-8-sig"
    assert [c.name for c in result.columns] == ["编号", "姓名", "城市"]
    assert rows_of(out)[0] == (1, "张三", "北京")


@pytest.mark.parametrize(
    "data",
    [
        CHINESE.encode("utf-16"),
        codecs.BOM_UTF16_BE + CHINESE.encode("utf-16-be"),
        codecs.BOM_UTF16_LE + CHINESE.replace("\n", "\r\n").encode("utf-16-le"),
    ],
    ids=["native", "big-endian", "little-endian-crlf"],
)
def test_utf16(tmp_path: Path, out: Path, work: Path, data: bytes) -> None:
    result = run(write(tmp_path / "t.csv", data), out, work)
    assert result.encoding == "utf-16"
    assert [c.name for c in result.columns] == ["编号", "姓名", "城市"]
    assert rows_of(out)[2] == (3, "王五", "广州")


def test_gb18030_after_an_ascii_head(
    tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "HEAD_BYTES", 64)
    text = "id,name\n" + "".join(f"{i},name{i}\n" for i in range(20)) + "20,张三\n21,李四\n"
    result = run(write(tmp_path / "t.csv", text, "gb18030"), out, work)
    assert result.encoding == "gb18030"
    assert rows_of(out)[-2:] == [(20, "张三"), (21, "李四")]


def test_utf16_bytes_are_invalid_in_gb18030_and_utf8() -> None:
    bad = b"\xff\xfe\xfd"
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            (b"abc" + bad + b"def").decode(encoding)


def test_undecodable_bytes_in_the_head(tmp_path: Path, out: Path, work: Path) -> None:
    src = write(tmp_path / "t.csv", b"id,name\n1,abc\xff\xfe\xfddef\n2,x\n")
    error = fails(src, out, work, UndecodableFile, "offset 13", "UTF-8")
    assert error.details["offset"] == 13


def test_undecodable_bytes_after_the_head(
    tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "HEAD_BYTES", 64)
    head = b"id,name\n" + b"".join(b"%d,name%d\n" % (i, i) for i in range(50))
    src = write(tmp_path / "t.csv", head + b"50,abc\xff\xfe\xfddef\n51,x\n")
    fails(src, out, work, UndecodableFile, f"offset {len(head) + 6}")


def test_undecodable_bytes_after_a_gb18030_head(
    tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "HEAD_BYTES", 64)
    head = "编号,姓名\n".encode("gb18030") + b"".join(b"%d,name%d\n" % (i, i) for i in range(50))
    src = write(tmp_path / "t.csv", head + b"50,abc\xff\n")
    fails(src, out, work, UndecodableFile, f"offset {len(head) + 6}", "GB18030")


def test_undecodable_bytes_after_a_utf8_bom(
    tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "HEAD_BYTES", 64)
    head = codecs.BOM_UTF8 + b"id,name\n" + b"".join(b"%d,name%d\n" % (i, i) for i in range(50))
    src = write(tmp_path / "t.csv", head + b"50,abc\xff\n")
    fails(src, out, work, UndecodableFile, f"offset {len(head) + 6}", "UTF-8")


def test_undecodable_utf16(tmp_path: Path, out: Path, work: Path) -> None:
    data = codecs.BOM_UTF16_LE + "id,name\n1,a".encode("utf-16-le") + b"\x00\xdc" + "\n".encode("utf-16-le")
    fails(write(tmp_path / "t.csv", data), out, work, UndecodableFile, "UTF-16")


def test_undecodable_jsonl(tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "HEAD_BYTES", 64)
    head = b'{"a": "x"}\n' * 20
    fails(
        write(tmp_path / "t.jsonl", head + b'{"a": "\xff\xfe"}\n'),
        out,
        work,
        UndecodableFile,
        f"offset {len(head) + 7}",
    )


# --- bad inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet", "t.xlsx"])
def test_zero_bytes(tmp_path: Path, out: Path, work: Path, name: str) -> None:
    fails(write(tmp_path / name, b""), out, work, EmptyFile, name, "empty")


@pytest.mark.parametrize("data", [b"  \n\t\r\n", codecs.BOM_UTF8 + b"\n", " \n".encode("utf-16")])
def test_only_whitespace(tmp_path: Path, out: Path, work: Path, data: bytes) -> None:
    fails(write(tmp_path / "t.csv", data), out, work, EmptyFile, "whitespace")


@pytest.mark.parametrize("data", ["id,name\n", "id,name", "id,name\r\n\r\n"])
def test_header_only(tmp_path: Path, out: Path, work: Path, data: str) -> None:
    fails(write(tmp_path / "t.csv", data), out, work, EmptyFile, "has a header but no rows")


def test_ragged_rows_report_physical_line_numbers(tmp_path: Path, out: Path, work: Path) -> None:
    text = 'id,name,amount\n1,a,1.5\n2,b\n3,"multi\nline",2.5\n4,d,4.5,extra\n5,e,5.5\n'
    error = fails(write(tmp_path / "t.csv", text), out, work, RaggedRows, "lines 3, 6", "header")
    assert isinstance(error, RaggedRows)
    assert error.lines == [3, 6]


def test_ragged_rows_with_crlf(tmp_path: Path, out: Path, work: Path) -> None:
    text = "id,name\r\n1,a\r\n2\r\n3,c\r\n4,d,e\r\n"
    error = fails(write(tmp_path / "t.csv", text), out, work, RaggedRows, "lines 3, 5")
    assert error.details["lines"] == [3, 5]


def test_ragged_rows_report_the_first_twenty(tmp_path: Path, out: Path, work: Path) -> None:
    lines = ["a,b,c"] + [f"{i},{i}" if i % 10 == 0 else f"{i},{i},{i}" for i in range(1, 1001)]
    error = fails(write(tmp_path / "t.csv", "\n".join(lines) + "\n"), out, work, RaggedRows, "first 20")
    assert isinstance(error, RaggedRows)
    assert error.lines == [i + 1 for i in range(10, 201, 10)]


def test_ragged_rows_in_a_gb18030_file(tmp_path: Path, out: Path, work: Path) -> None:
    text = "编号,姓名\n1,张三\n2,李四,多余\n3,王五\n"
    error = fails(write(tmp_path / "t.csv", text, "gb18030"), out, work, RaggedRows, "line 3")
    assert error.details["lines"] == [3]


@pytest.mark.parametrize(
    ("header", "dups"),
    [
        ("id,name,id", "'id', 'id'"),
        ("id,name,ID", "'id', 'ID'"),
        ("id, Name ,name", "'Name', 'name'"),
    ],
)
def test_duplicate_columns(tmp_path: Path, out: Path, work: Path, header: str, dups: str) -> None:
    src = write(tmp_path / "t.csv", f"{header}\n1,2,3\n")
    error = fails(src, out, work, DuplicateColumns, "duplicate", dups)
    assert isinstance(error, DuplicateColumns)
    assert len(error.columns) == 2


def test_duplicate_columns_in_parquet_and_jsonl(tmp_path: Path, out: Path, work: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["id", "ID"])
    pq.write_table(table, tmp_path / "t.parquet")
    fails(tmp_path / "t.parquet", out, work, DuplicateColumns, "'id', 'ID'")
    fails(write(tmp_path / "t.jsonl", '{"id": 1, "ID": 2}\n'), out, work, DuplicateColumns, "'id'", "'ID'")


def test_an_empty_column_name(tmp_path: Path, out: Path, work: Path) -> None:
    fails(write(tmp_path / "t.csv", "id,,name\n1,2,3\n"), out, work, BadFile, "column 2", "empty name")


def test_xlsx_bad_inputs(tmp_path: Path, out: Path, work: Path) -> None:
    fails(write_xlsx(tmp_path / "h.xlsx", [["id", "name"]]), out, work, EmptyFile, "header but no rows")
    fails(write_xlsx(tmp_path / "e.xlsx", []), out, work, EmptyFile, "sheet is empty")
    ragged = write_xlsx(tmp_path / "r.xlsx", [["id", "name"], [1, "a"], [2, "b", "extra"]])
    error = fails(ragged, out, work, RaggedRows, "row 3")
    assert error.details["lines"] == [3]
    fails(write(tmp_path / "bad.xlsx", b"not a zip"), out, work, BadFile, "Excel")


def test_jsonl_bad_inputs(tmp_path: Path, out: Path, work: Path) -> None:
    malformed = write(tmp_path / "m.jsonl", '{"id": 1}\n{"id": 2}\n{"id": x}\n{"id": 4}\n')
    assert fails(malformed, out, work, BadFile, "line 3").details["line"] == 3
    fails(write(tmp_path / "a.jsonl", "[1, 2]\n[3, 4]\n"), out, work, BadFile, "JSON object")
    fails(write(tmp_path / "b.jsonl", "\n \n"), out, work, EmptyFile, "whitespace")


def test_jsonl_late_type_change_is_inferred_from_all_rows(tmp_path: Path, out: Path, work: Path) -> None:
    lines = [json.dumps({"id": i, "v": i}) for i in range(25000)] + [json.dumps({"id": 1, "v": "abc"})]
    result = run(write(tmp_path / "t.jsonl", "\n".join(lines) + "\n"), out, work)
    assert result.rows == 25001
    assert types(result)["id"] == "BIGINT"


def test_parquet_bad_inputs(tmp_path: Path, out: Path, work: Path) -> None:
    fails(write(tmp_path / "x.parquet", b"not parquet at all"), out, work, BadFile, "Parquet")
    pq.write_table(pa.table({"id": pa.array([], pa.int64())}), tmp_path / "e.parquet")
    fails(tmp_path / "e.parquet", out, work, EmptyFile, "no rows")


def test_a_stale_out_is_removed_on_error(tmp_path: Path, out: Path, work: Path) -> None:
    out.write_bytes(b"stale")
    fails(write(tmp_path / "t.csv", "id,name\n"), out, work, EmptyFile)


# --- paths and formats --------------------------------------------------------------------------------


def test_nonexistent_path(tmp_path: Path, out: Path, work: Path) -> None:
    fails(tmp_path / "nope.csv", out, work, InputFileNotFound, "nope.csv", "does not exist")


def test_a_directory(tmp_path: Path, out: Path, work: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    fails(tmp_path / "d.csv", out, work, InputFileNotFound, "is a directory; give a file")


@pytest.mark.parametrize("rel", ["sub/../t.csv", "../t.csv", "sub\\..\\t.csv"])
def test_a_path_with_dotdot(tmp_path: Path, out: Path, work: Path, rel: str) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "t.csv", "id\n1\n")
    fails(Path(f"{tmp_path}/{rel}"), out, work, UnsafePath, "..")


@pytest.mark.parametrize("name", ["t.xls", "t.json", "t"])
def test_unsupported_extension(tmp_path: Path, out: Path, work: Path, name: str) -> None:
    src = write(tmp_path / name, "id\n1\n")
    error = fails(src, out, work, UnsupportedFormat, "unsupported", ".csv", ".xlsx")
    assert (name.rpartition(".")[2] if "." in name else "(no extension)") in error.message


def test_unsupported_format_argument(tmp_path: Path, out: Path, work: Path) -> None:
    fails(write(tmp_path / "t.csv", "id\n1\n"), out, work, UnsupportedFormat, "'xml'", "csv", format="xml")


def test_suffixes() -> None:
    assert {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".parquet", ".xlsx"} == SUFFIXES
