"""Issue 20, import rows: encodings by evidence, no silent reinterpretation, named lines, wide files.

Each test is one row of the issue's table: the input that used to be garbled, retyped or refused
without a line, and the outcome the importer now guarantees, through ``import_table``.
"""

from __future__ import annotations

import datetime as dt
import time
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest

from dataex.errors import BadFile, DataexError, InvalidInput, UndecodableFile
from dataex.storage import importer
from dataex.storage.importer import MAX_COLUMNS, ImportOptions, ImportResult, import_table


@pytest.fixture
def work(tmp_path: Path) -> Path:
    d = tmp_path / "scratch"
    d.mkdir()
    return d


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out.parquet"


def run(src: Path, out: Path, work: Path, **kw: object) -> ImportResult:
    result = import_table(src, out, work_dir=work, **kw)  # type: ignore[arg-type]
    assert out.is_file()
    assert list(work.iterdir()) == []
    return result


def fails(
    src: Path, out: Path, work: Path, error: type[DataexError], *words: str, **kw: object
) -> DataexError:
    with pytest.raises(error) as info:
        import_table(src, out, work_dir=work, **kw)  # type: ignore[arg-type]
    message = info.value.message
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert not out.exists() and list(work.iterdir()) == []
    return info.value


def column(path: Path, name: str) -> list[object]:
    with duckdb.connect() as con:
        return [r[0] for r in con.execute(f'SELECT "{name}" FROM read_parquet(?)', [str(path)]).fetchall()]


def hotels(days: int = 638) -> str:
    """Paris hotel statistics as the city's open-data portal exports them: ';', DD-MM-YY, accents."""
    lines = ["Date;Année;Arrondissement;Catégorie;Nuitées;Taux d'occupation"]
    start = dt.date(2013, 1, 1)
    for i in range(days):
        day = start + dt.timedelta(days=i % 365)
        category = ("Hôtel 2 étoiles", "Hôtel 3 étoiles", "Résidence hôtelière")[i % 3]
        lines.append(f"{day:%d-%m-%y};{day.year};{i % 20 + 1}e;{category};{1000 + i};{60 + i % 30},5")
    return "\n".join(lines) + "\n"


# --- encodings by evidence ------------------------------------------------------------------------


def test_latin1_french_file_is_read_as_western_not_gb18030(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "hotels.csv"
    src.write_bytes(hotels().encode("latin-1"))
    result = run(src, out, work)
    assert result.encoding == "cp1252"
    assert [c.name for c in result.columns][:4] == ["Date", "Année", "Arrondissement", "Catégorie"]
    assert set(column(out, "Catégorie")) == {"Hôtel 2 étoiles", "Hôtel 3 étoiles", "Résidence hôtelière"}
    enc = result.report["encoding"]
    assert enc["name"] == "cp1252" and enc["by"] == "evidence"
    assert enc["evidence"]["gb18030"]["score"] < 0.5  # decodes, but as CJK glued to ASCII letters
    assert enc["evidence"]["windows-1252"]["score"] == 1.0


def test_accent_before_a_space_is_read_the_same_way(tmp_path: Path, out: Path, work: Path) -> None:
    # "café " has é then a space: not valid GB18030, so it used to be refused while "Année" was garbled
    src = tmp_path / "t.csv"
    src.write_bytes("nom;ville\ncafé de la gare;Orléans\nchez René ;Besançon\n".encode("cp1252"))
    result = run(src, out, work)
    assert result.encoding == "cp1252"
    assert column(out, "ville") == ["Orléans", "Besançon"]


def test_real_chinese_gb18030_is_still_detected(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    text = "编号,姓名,诊断,备注\n" + "".join(f"{i},张三{i},高血压,复诊患者\n" for i in range(30))
    src.write_bytes(text.encode("gb18030"))
    result = run(src, out, work)
    assert result.encoding == "gb18030"
    assert result.report["encoding"]["evidence"]["gb18030"]["score"] == 1.0
    assert column(out, "诊断")[0] == "高血压"


def test_shift_jis_is_refused_not_garbled(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes("名前,都市\nさとう,とうきょう\nすずき,おおさか\n".encode("shift_jis"))
    error = fails(src, out, work, UndecodableFile, "--encoding", "GB18030", "Windows-1252")
    assert isinstance(error.details["offset"], int)


def test_encoding_override(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes("名前,都市\nさとう,とうきょう\n".encode("shift_jis"))
    result = run(src, out, work, options=ImportOptions(encoding="shift_jis"))
    assert result.encoding == "shift_jis" and result.report["encoding"]["by"] == "given (--encoding)"
    assert column(out, "都市") == ["とうきょう"]
    fails(src, out, work, BadFile, "unknown encoding", options=ImportOptions(encoding="klingon"))


# --- no silent reinterpretation -------------------------------------------------------------------


def test_two_digit_year_dates_stay_text(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "hotels.csv"
    src.write_bytes(hotels().encode("latin-1"))
    result = run(src, out, work)
    assert {c.name: c.type for c in result.columns}["Date"] == "VARCHAR"
    assert column(out, "Date")[:2] == ["01-01-13", "02-01-13"]  # as written, not 2001-01-13
    [decision] = [d for d in result.report["decisions"] if d["column"] == "Date"]
    assert decision["kind"] == "ambiguous_dates" and decision["format"] == "%y-%m-%d"


def test_day_month_order_kept_only_when_the_column_tells(tmp_path: Path, out: Path, work: Path) -> None:
    ambiguous = tmp_path / "a.csv"
    ambiguous.write_text("d,v\n01/02/2024,1\n03/04/2024,2\n05/06/2024,3\n")
    result = run(ambiguous, out, work)
    assert result.columns[0].type == "VARCHAR"
    assert result.report["decisions"][0]["kind"] == "ambiguous_dates"
    out.unlink()
    clear = tmp_path / "c.csv"
    clear.write_text("d,v\n01/02/2024,1\n25/04/2024,2\n05/06/2024,3\n")
    result = run(clear, out, work)
    assert result.columns[0].type == "DATE" and result.report["decisions"] == []
    assert column(out, "d")[1] == dt.date(2024, 4, 25)


@pytest.mark.parametrize(
    ("bad", "kind"), [("thirty", "mostly_numeric"), ("2025-13-45", "mostly_dates")], ids=["number", "date"]
)
def test_one_bad_value_is_reported_with_its_line(
    tmp_path: Path, out: Path, work: Path, bad: str, kind: str
) -> None:
    values = [str(20 + i) if kind == "mostly_numeric" else f"2025-01-{i + 1:02d}" for i in range(12)]
    values[7] = bad
    src = tmp_path / "t.csv"
    # a quoted field spanning two lines before the bad value: lines are physical, not records
    src.write_text(
        'id,note,v\n0,"two\nlines",'
        + values[0]
        + "\n"
        + "".join(f"{i},n,{values[i]}\n" for i in range(1, 12))
    )
    result = run(src, out, work)
    [decision] = result.report["decisions"]
    assert decision["kind"] == kind and decision["column"] == "v"
    assert decision["failing"] == 1 and decision["of"] == 12
    assert decision["rows"] == [8] and decision["lines"] == [10] and decision["samples"] == [bad]
    out.unlink()
    error = fails(
        src, out, work, BadFile, "'v'", "line 10", repr(bad), "--strict", options=ImportOptions(strict=True)
    )
    assert error.details["lines"] == [10]


def test_a_text_column_is_not_reported(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("id,city\n" + "".join(f"{i},city{i}\n" for i in range(20)))
    assert run(src, out, work).report["decisions"] == []


# --- named lines ------------------------------------------------------------------------------------


def test_unterminated_quote_names_its_line(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text('a,b\n1,x\n2,"y\n3,z\n4,w\n')
    error = fails(src, out, work, BadFile, "line 3", "never closed")
    assert error.details["line"] == 3


def test_crlf_file_with_one_lf_line_names_it(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes(b"a,b\r\n1,2\r\n3,4\n5,6\r\n7,8\r\n")
    error = fails(src, out, work, BadFile, "line 3", "LF", "CRLF")
    assert error.details["line"] == 3


def test_comment_lines_are_named_then_skipped_on_request(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("# exported 2025-01-01\n# by HIS\na,b\n1,2\n3,4\n")
    fails(src, out, work, BadFile, "line 1", "comment", "--comment '#'")
    result = run(src, out, work, options=ImportOptions(comment="#"))
    assert [c.name for c in result.columns] == ["a", "b"] and result.rows == 2
    assert result.report["dialect"]["comment"] == "#"


def test_preamble_is_named_then_skipped_on_request(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("Hospital report 2024\nGenerated by HIS v3\n\na,b,c\n1,2,3\n4,5,6\n")
    error = fails(src, out, work, BadFile, "preamble", "line 4", "--skip-rows 3")
    assert error.details["header_line"] == 4
    result = run(src, out, work, options=ImportOptions(skip_rows=3))
    assert [c.name for c in result.columns] == ["a", "b", "c"] and result.rows == 2
    with pytest.raises(InvalidInput):
        import_table(src, out, work_dir=work, options=ImportOptions(skip_rows=-1))


# --- wide files, workbooks --------------------------------------------------------------------------


def test_wide_file_is_refused_by_the_column_cap_at_once(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "wide.csv"
    width = 9074
    src.write_text(
        "\n".join(",".join(f"c{j}" if i == 0 else str(i * j) for j in range(width)) for i in range(5))
    )
    t0 = time.perf_counter()
    error = fails(src, out, work, BadFile, "9,074 columns", f"at most {MAX_COLUMNS:,}")
    assert time.perf_counter() - t0 < 2.0
    assert error.details["columns"] == width


def test_file_at_the_column_cap_imports_quickly(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "wide.csv"
    src.write_text(
        "\n".join(",".join(f"c{j}" if i == 0 else str(i * j) for j in range(MAX_COLUMNS)) for i in range(5))
    )
    t0 = time.perf_counter()
    result = run(src, out, work)
    assert len(result.columns) == MAX_COLUMNS and result.rows == 4
    assert time.perf_counter() - t0 < 20.0


def test_xlsx_that_decompresses_past_the_cap_is_refused(tmp_path: Path, out: Path, work: Path) -> None:
    src = tmp_path / "bomb.xlsx"
    rows = 4_000_000
    with zipfile.ZipFile(src, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            row = b'<row><c t="n"><v>1</v></c></row>' + b" " * 50  # 80 bytes a row
            for _ in range(rows // 1000):
                f.write(row * 1000)
            f.write(b"</sheetData></worksheet>")
    assert src.stat().st_size < 1_500_000  # about a megabyte for 320 MB of XML
    error = fails(src, out, work, BadFile, "decompresses to", "export the sheet as CSV")
    assert error.details["uncompressed"] > importer.MAX_XLSX_UNCOMPRESSED


def test_xlsx_with_more_rows_than_excel_allows_is_refused(
    tmp_path: Path, out: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for i in range(12):
        ws.append(["id", "v"] if i == 0 else [i, i * 2])
    wb.save(src)
    monkeypatch.setattr(importer, "MAX_XLSX_ROWS", 10)  # the real cap is Excel's 1,048,576 rows
    fails(src, out, work, BadFile, "more than 10 rows")
