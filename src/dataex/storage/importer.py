"""Import a user's data file as one canonical Parquet file.

``import_table`` reads CSV/TSV, JSON Lines, Parquet or the first sheet of an ``.xlsx`` workbook and
writes exactly one zstd-compressed Parquet file holding the table: the columns in file order, named
as in the header (stripped of surrounding whitespace), typed as DuckDB infers them. Everything
streams: DuckDB reads and writes in chunks, text that is not UTF-8 is transcoded chunk by chunk to
a scratch file, and a workbook is written row by row to a scratch CSV that is then imported like
any CSV. For a clean UTF-8 CSV the import costs one ``COPY (SELECT ... FROM read_csv(...)) TO ...``
plus a header read and a dialect sniff of the first rows.

Every problem with the input is raised as a ``BadFile`` (or a subclass), an ``UnsafePath`` or an
``InputFileNotFound`` with a one-line message that says what is wrong and what to do; ``out`` and all
scratch files are removed on every error. The rules are documented in ``docs/import.md``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import stat
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import python_calamine

from dataex.engines.sql import quote_ident, quote_literal
from dataex.errors import (
    BadFile,
    DataexError,
    DuplicateColumns,
    EmptyFile,
    InputFileNotFound,
    InvalidInput,
    RaggedRows,
    UndecodableFile,
    UnsafePath,
    UnsupportedFormat,
)

FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "parquet", "xlsx")
_SUFFIX_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
}
SUFFIXES: frozenset[str] = frozenset(_SUFFIX_FORMATS)
"""The file name suffixes ``import_table`` recognises (lower case, with the dot)."""
_FORMAT_ALIASES: dict[str, str] = {"txt": "csv", "ndjson": "jsonl"}

HEAD_BYTES = 1 << 20
"""How much of a text file is read up front to detect its encoding and parse its header."""
CHUNK_BYTES = 4 << 20
MAX_REPORTED_LINES = 20
_REJECTS_LIMIT = 1000
_DELIMITER_CANDIDATES = (",", "\t", ";", "|")
_RAGGED = frozenset({"MISSING COLUMNS", "TOO MANY COLUMNS"})
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_BOM_LABELS = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16"}


@dataclass(frozen=True)
class Column:
    """One column of the canonical table."""

    name: str
    type: str  # DuckDB type name, e.g. "BIGINT", "VARCHAR", "DOUBLE", "DATE"


@dataclass(frozen=True)
class ImportResult:
    """What ``import_table`` wrote."""

    rows: int
    columns: list[Column]
    format: str  # one of FORMATS
    encoding: str | None  # "utf-8", "utf-8-sig", "gb18030", "cp1252", "utf-16", a given one; None: binary
    report: dict[str, Any] = field(default_factory=dict, compare=False)
    """The import report: the encoding and its evidence, the dialect, and every decision taken
    about a column (``decisions``), as documented in docs/import.md."""


@dataclass(frozen=True)
class ImportOptions:
    """What the user may tell the importer (``dataex register --encoding/--skip-rows/--comment/--strict``)."""

    encoding: str | None = None  # a Python codec name; None: detect by evidence
    skip_rows: int = 0  # physical lines before the header to skip (a preamble)
    comment: str | None = None  # lines starting with this character are skipped
    strict: bool = False  # refuse a column that is numeric or dates but for a few values

    def checked(self) -> ImportOptions:
        if not 0 <= self.skip_rows <= MAX_SKIP_ROWS:
            raise InvalidInput(f"--skip-rows must be between 0 and {MAX_SKIP_ROWS}; got {self.skip_rows}")
        if self.comment is not None and (len(self.comment) != 1 or self.comment in '\r\n"\x00'):
            raise InvalidInput(f"--comment takes one character such as '#'; got {self.comment[:10]!r}")
        if self.encoding is not None and not 0 < len(self.encoding) <= 40:
            raise InvalidInput("--encoding takes a codec name such as utf-8, gb18030 or cp1252")
        return self


MAX_SKIP_ROWS = 1000
MAX_COLUMNS = 2000
"""The column cap: a table with more columns is refused before it is parsed (docs/import.md)."""
MAX_XLSX_ROWS = 1_048_576
"""Excel's own row limit: a workbook whose first sheet has more rows is refused."""
MAX_XLSX_UNCOMPRESSED = 256 << 20
"""A workbook whose parts decompress to more than this many bytes is refused before it is read."""
NEAR_TYPED_SHARE = 0.05
"""A text column is reported as "numeric/dates but for a few values" when at most this share
(or 2 values) of its non-empty values fail to parse and at least 3 parse."""


def import_table(
    path: Path,
    out: Path,
    *,
    work_dir: Path,
    format: str | None = None,
    options: ImportOptions | None = None,
) -> ImportResult:
    """Import the table in ``path`` into the Parquet file ``out``.

    ``format`` overrides the format implied by the file name suffix. ``work_dir`` receives scratch
    files (transcoded text, a workbook's CSV, DuckDB spill files), all deleted before returning.
    Raises a ``DataexError`` subclass on any problem, leaving neither ``out`` nor scratch files.
    """
    opts = (options or ImportOptions()).checked()
    source = _checked_path(path)
    fmt = _resolve_format(source, format)
    if source.stat().st_size == 0:
        raise EmptyFile(f"{source.name} is empty (0 bytes); give a file that holds a table")
    scratch = _Scratch(Path(work_dir))
    done = False
    try:
        result = _IMPORTERS[fmt](source, Path(out), scratch, fmt, opts)
        done = True
        return result
    except OSError as e:
        raise DataexError(
            f"could not import {source.name}: {e.strerror or e}; check disk space and permissions"
        ) from e
    finally:
        scratch.cleanup()
        if not done:
            with contextlib.suppress(OSError):
                Path(out).unlink(missing_ok=True)


# --- paths, formats, scratch -------------------------------------------------------------------


def _checked_path(path: Path) -> Path:
    text = os.fspath(path)
    if ".." in re.split(r"[\\/]", text):
        raise UnsafePath(f"path {text!r} contains a '..' component; give a path without '..'")
    try:
        info = os.stat(text)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise InputFileNotFound(f"{text} does not exist; check the path") from e
    except OSError as e:
        raise InputFileNotFound(
            f"cannot access {text}: {e.strerror}; check the path and its permissions"
        ) from e
    if stat.S_ISDIR(info.st_mode):
        raise InputFileNotFound(f"{text} is a directory; give a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileNotFound(f"{text} is not a regular file; give a file")
    return Path(text)


def _resolve_format(path: Path, format: str | None) -> str:
    supported = ", ".join(sorted(SUFFIXES))
    if format is not None:
        key = format.strip().lower().lstrip(".")
        fmt = _FORMAT_ALIASES.get(key, key)
        if fmt not in FORMATS:
            raise UnsupportedFormat(f"unsupported format {format!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise UnsupportedFormat(
            f"cannot import {path.name}: unsupported file type {suffix or '(no extension)'}; "
            f"supported: {supported}"
        )
    return _SUFFIX_FORMATS[suffix]


class _Scratch:
    """Names scratch paths in ``work_dir`` and deletes them all in ``cleanup``."""

    def __init__(self, work_dir: Path) -> None:
        self._dir = work_dir
        self._paths: list[Path] = []

    def path(self, suffix: str) -> Path:
        p = self._dir / f"dataex-import-{uuid.uuid4().hex}{suffix}"
        self._paths.append(p)
        return p

    def cleanup(self) -> None:
        for p in reversed(self._paths):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink(missing_ok=True)


@contextmanager
def _duckdb(scratch: _Scratch) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET temp_directory = {quote_literal(scratch.path('.duckdb-tmp'))}")
        yield con
    finally:
        con.close()


def _options(options: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _first_line(error: BaseException, *, hide: Path | None = None, name: str = "") -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    text = text.strip().rstrip(".")
    return text.replace(str(hide), name) if hide is not None else text


def _copy(con: duckdb.DuckDBPyConnection, select: str, out: Path) -> int:
    row = con.execute(
        f"COPY ({select}) TO {quote_literal(out)} (FORMAT parquet, COMPRESSION zstd)"
    ).fetchone()
    return int(row[0]) if row is not None else 0


def _aliased(source: str, duck_names: Sequence[str], names: Sequence[str]) -> str:
    cols = ", ".join(f"{quote_ident(d)} AS {quote_ident(n)}" for d, n in zip(duck_names, names, strict=True))
    return f"SELECT {cols} FROM {source}"


def _describe(con: duckdb.DuckDBPyConnection, out: Path) -> list[Column]:
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(out)})").fetchall()
    return [Column(str(r[0]), str(r[1])) for r in rows]


def _canonical_names(raw: Sequence[str], name: str) -> list[str]:
    """The header's names stripped; raises on an empty name or names equal ignoring case."""
    names = [r.strip() for r in raw]
    for i, n in enumerate(names):
        if not n:
            raise BadFile(f"{name}: column {i + 1} has an empty name; give every column a name in the header")
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.lower(), []).append(n)
    dups = [n for group in groups.values() if len(group) > 1 for n in group]
    if dups:
        raise DuplicateColumns(
            f"{name} has duplicate column names {', '.join(repr(d) for d in dups)} (compared ignoring case); "
            "rename them so every column name is unique",
            columns=dups,
        )
    return names


def _finish(
    name: str,
    rows: int,
    columns: list[Column],
    fmt: str,
    encoding: str | None,
    *,
    header: bool,
    report: dict[str, Any] | None = None,
) -> ImportResult:
    if rows == 0:
        if header:
            raise EmptyFile(f"{name} has a header but no rows; add data rows below the header")
        raise EmptyFile(f"{name} has no rows; give a file with at least one record")
    report = {"encoding": None, "decisions": [], **(report or {})}
    return ImportResult(rows=rows, columns=columns, format=fmt, encoding=encoding, report=report)


# --- text encodings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    """A text file as DuckDB will read it."""

    path: Path  # UTF-8 (possibly with a BOM): the original file, or a transcoded scratch copy
    encoding: str  # the original file's encoding
    head: str  # the first HEAD_BYTES of the original, decoded, without a BOM
    whole: bool  # ``head`` holds the whole file
    how: dict[str, Any] = field(default_factory=dict)  # how the encoding was chosen (import report)


class _NotUtf8(Exception):  # private control flow: never escapes this module
    """A file whose head is UTF-8 has bytes further on that are not."""


def _read_head(path: Path) -> tuple[bytes, bool]:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        whole = len(head) < HEAD_BYTES or not f.read(1)
    return head, whole


def _decode(data: bytes, encoding: str, *, final: bool) -> str:
    return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)


def _undecodable(name: str, offset: int, bom: str | None = None, evidence: str = "") -> UndecodableFile:
    """``bom`` names the encoding a byte-order mark declared ("UTF-8", "UTF-16"), if any."""
    if bom is None:
        what = "is not valid UTF-8, GB18030 or UTF-16 (with a byte-order mark)"
    else:
        what = f"starts with a {bom} byte-order mark but is not valid {bom}"
    return UndecodableFile(
        f"{name} {what}{evidence}: the byte at offset {offset} cannot be decoded; "
        "re-save the file as UTF-8 or give its encoding (--encoding)",
        offset=offset,
    )


# Evidence for a legacy encoding (a file that is not UTF-8 and has no byte-order mark). GB18030 is
# chosen only when the decoded non-ASCII characters are overwhelmingly CJK *and* encoded in the
# common two-byte GB2312 area (both bytes A1-FE): Latin-1 "Année" decodes in GB18030 as "Ann閑" -
# CJK, but its second byte is the ASCII "e". Windows-1252 is chosen when the non-ASCII characters
# are letters or usual Western symbols standing alone or in pairs between ASCII text ("Année",
# "Ça", "n°"), which Chinese text read as Windows-1252 ("ÖÐ¹ú…") is not. Otherwise: refused.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_WESTERN_SYMBOLS = frozenset("€£¥§°±²³µ·«»–—‘’‚“”„…•¿¡©®™½¼¾×÷¢¹º\u00a0")
_RARE_LETTERS = frozenset("ÿþÞðÐƒŸ")  # letters that mostly come from binary bytes or UTF-16 marks
GB18030_MIN_SCORE = 0.9
"""Share of non-ASCII characters that must be CJK in the GB2312 two-byte area to choose GB18030."""
WESTERN_MIN_SCORE = 0.9
"""Share of non-ASCII characters that must be plausible Western text to choose Windows-1252."""
_WESTERN = "cp1252"


class _Evidence:
    """Counts, for one candidate encoding, how plausible the decoded non-ASCII text is."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.failed_at: int | None = None
        self.done = 0
        self.non_ascii = 0
        self.plausible = 0
        self.cjk = 0

    def feed(self, chunk: bytes, *, final: bool) -> None:
        if self.failed_at is not None:
            return
        pending = len(self.decoder.getstate()[0])
        try:
            text = self.decoder.decode(chunk, final=final)
        except UnicodeDecodeError as e:
            self.failed_at = self.done - pending + e.start
            return
        self.done += len(chunk)
        for run in _NON_ASCII_RUN.findall(text):
            self.non_ascii += len(run)
            if self.encoding == "gb18030":
                cjk = [c for c in run if _CJK.match(c)]
                self.cjk += len(cjk)
                self.plausible += sum(1 for c in cjk if _gb2312(c))
            elif len(run) <= 2:
                self.plausible += sum(
                    1 for c in run if (c.isalpha() and c not in _RARE_LETTERS) or c in _WESTERN_SYMBOLS
                )

    @property
    def score(self) -> float:
        if self.failed_at is not None:
            return 0.0
        return self.plausible / self.non_ascii if self.non_ascii else 1.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"decodes": self.failed_at is None, "score": round(self.score, 4)}
        if self.failed_at is not None:
            out["first_bad_byte"] = self.failed_at
        if self.encoding == "gb18030" and self.non_ascii:
            out["cjk_share"] = round(self.cjk / self.non_ascii, 4)
        return out


def _gb2312(char: str) -> bool:
    data = char.encode("gb18030")
    return len(data) == 2 and 0xA1 <= data[0] <= 0xFE and 0xA1 <= data[1] <= 0xFE


def _legacy(chunks: Iterable[tuple[bytes, bool]], name: str, utf8_bad: int) -> tuple[str, dict[str, Any]]:
    """Chooses GB18030 or Windows-1252 for bytes that are not UTF-8, by evidence; else refuses."""
    candidates = [_Evidence("gb18030"), _Evidence(_WESTERN)]
    for chunk, final in chunks:
        for c in candidates:
            c.feed(chunk, final=final)
    gb, western = candidates
    evidence = {"utf-8": {"decodes": False, "first_bad_byte": utf8_bad}, "gb18030": gb.summary()}
    evidence["windows-1252"] = western.summary()
    if gb.failed_at is None and gb.score >= GB18030_MIN_SCORE and gb.score >= western.score:
        return "gb18030", evidence
    if western.failed_at is None and western.score >= WESTERN_MIN_SCORE:
        return _WESTERN, evidence
    offsets = [utf8_bad] + [c.failed_at for c in candidates if c.failed_at is not None]
    scores = f" (read as GB18030 {gb.score:.0%} plausible, as Windows-1252 {western.score:.0%})"
    raise _undecodable(name, max(offsets), evidence=scores)


def _detect(head: bytes, whole: bool, name: str) -> tuple[str, str, dict[str, Any]]:
    """The encoding of a file starting with ``head``, the decoded head and how it was chosen."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            try:
                return encoding, _decode(head, encoding, final=whole), {"by": "byte-order mark"}
            except UnicodeDecodeError as e:
                raise _undecodable(name, e.start, _BOM_LABELS[encoding]) from e
    try:
        return "utf-8", _decode(head, "utf-8", final=whole), {"by": "valid UTF-8"}
    except UnicodeDecodeError as e:
        utf8_bad = e.start
    encoding, evidence = _legacy([(head, whole)], name, utf8_bad)
    return encoding, _decode(head, encoding, final=whole), {"by": "evidence", "evidence": evidence}


def _given(head: bytes, whole: bool, name: str, given: str) -> tuple[str, str, dict[str, Any]]:
    try:
        encoding = codecs.lookup(given).name
    except LookupError as e:
        raise BadFile(
            f"unknown encoding {given!r}; give a name such as utf-8, gb18030, cp1252 or latin-1"
        ) from e
    if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    try:
        text = _decode(head, encoding, final=whole)
    except UnicodeDecodeError as e:
        raise UndecodableFile(
            f"{name} is not valid {given}: the byte at offset {e.start} cannot be decoded; check --encoding",
            offset=e.start,
        ) from e
    return encoding, text.lstrip("\ufeff"), {"by": "given (--encoding)"}


def _transcode(src: Path, dst: Path | None, encoding: str) -> int | None:
    """Streams ``src`` through a strict ``encoding`` decoder, writing UTF-8 to ``dst`` if given.

    Returns the byte offset of the first undecodable byte, or None if the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    done = 0
    with src.open("rb") as fin, dst.open("wb") if dst is not None else contextlib.nullcontext() as fout:
        while True:
            chunk = fin.read(CHUNK_BYTES)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                return done - pending + e.start
            if fout is not None:
                fout.write(text.encode("utf-8"))
            if not chunk:
                return None
            done += len(chunk)


def _is_blank(path: Path, encoding: str, head: str, whole: bool) -> bool:
    if head.strip():
        return False
    if whole:
        return True
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            if decoder.decode(chunk).strip():
                return False
    return True


def _open_text(path: Path, scratch: _Scratch, name: str, suffix: str, given: str | None = None) -> _Text:
    """Detects the encoding of ``path`` (or takes ``given``) and transcodes it to UTF-8 if needed."""
    head_bytes, whole = _read_head(path)
    if given is not None:
        encoding, head, how = _given(head_bytes, whole, name, given)
    else:
        encoding, head, how = _detect(head_bytes, whole, name)
    how = {"name": encoding, **how}
    if _is_blank(path, encoding, head, whole):
        raise EmptyFile(f"{name} holds only whitespace; give a file that holds a table")
    if encoding in ("utf-8", "utf-8-sig"):
        return _Text(path, encoding, head, whole, how)
    dst = scratch.path(suffix)
    bad = _transcode(path, dst, encoding)
    if bad is not None:
        if given is not None:
            raise UndecodableFile(
                f"{name} is not valid {given}: the byte at offset {bad} cannot be decoded; check --encoding",
                offset=bad,
            )
        raise _undecodable(name, bad, _BOM_LABELS.get(encoding), _label(encoding))
    return _Text(dst, encoding, head, whole, how)


def _label(encoding: str) -> str:
    return {"gb18030": " (read as GB18030)", _WESTERN: " (read as Windows-1252)"}.get(encoding, "")


def _chunks(path: Path) -> Iterator[tuple[bytes, bool]]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk, False
    yield b"", True


def _legacy_fallback(path: Path, scratch: _Scratch, name: str, suffix: str) -> _Text:
    """Re-reads a file whose head looked like UTF-8 in the legacy encoding the whole file supports."""
    utf8_bad = _transcode(path, None, "utf-8") or 0
    encoding, evidence = _legacy(_chunks(path), name, utf8_bad)
    dst = scratch.path(suffix)
    bad = _transcode(path, dst, encoding)
    if bad is not None:  # unreachable: the evidence pass decoded the whole file
        raise _undecodable(name, bad)
    head_bytes, whole = _read_head(path)
    how = {"name": encoding, "by": "evidence", "evidence": evidence}
    return _Text(dst, encoding, _decode(head_bytes, encoding, final=whole), whole, how)


def _invalid_encoding(text: _Text, name: str) -> NoReturn:
    """DuckDB met bytes that are not UTF-8 in ``text.path``."""
    if text.encoding == "utf-8" and text.how.get("by") != "given (--encoding)":
        raise _NotUtf8
    bad = _transcode(text.path, None, "utf-8")
    if bad is None:
        raise BadFile(f"{name}: DuckDB reports invalid UTF-8 but none was found; re-save the file as UTF-8")
    if text.how.get("by") == "given (--encoding)":
        raise UndecodableFile(
            f"{name} is not valid UTF-8: the byte at offset {bad} cannot be decoded; check --encoding",
            offset=bad,
        )
    raise _undecodable(name, bad, _BOM_LABELS.get(text.encoding))


# --- CSV and TSV ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dialect:
    options: dict[str, str]  # read_csv options (SQL) that fix the dialect
    delimiter: str
    quote: str
    escape: str
    newline: bytes
    names: list[str]  # DuckDB's column names
    types: list[str] = field(default_factory=list)  # the sniffed types
    date_format: str | None = None  # the sniffed DATE format, e.g. "%d-%m-%Y"
    timestamp_format: str | None = None


@dataclass(frozen=True)
class _Reject:
    line: int  # DuckDB's line number: counts records, not physical lines
    byte: int | None  # DuckDB's line_byte_position
    column: str | None
    kind: str
    message: str


def _import_csv(source: Path, out: Path, scratch: _Scratch, fmt: str, opts: ImportOptions) -> ImportResult:
    name = source.name
    options = {"delim": quote_literal("\t")} if fmt == "tsv" else {"quote": quote_literal('"')}
    text = _open_text(source, scratch, name, ".csv", opts.encoding)
    try:
        rows, columns, report = _delimited_to_parquet(text, out, scratch, name, options, opts)
    except _NotUtf8:
        text = _legacy_fallback(source, scratch, name, ".csv")
        rows, columns, report = _delimited_to_parquet(text, out, scratch, name, options, opts)
    report = {"encoding": text.how, **report}
    return _finish(name, rows, columns, fmt, text.encoding, header=True, report=report)


def _delimited_to_parquet(
    text: _Text,
    out: Path,
    scratch: _Scratch,
    name: str,
    options: dict[str, str],
    opts: ImportOptions,
    *,
    lines: bool = True,
) -> tuple[int, list[Column], dict[str, Any]]:
    skip = _skipped_lines(text.head, opts.skip_rows)
    header_line = _header_line(text, skip, opts, name, options)
    comment = quote_literal(opts.comment) if opts.comment else "''"
    options = {**options, "skip": str(skip), "comment": comment}
    decisions: list[dict[str, Any]] = []
    with _duckdb(scratch) as con:
        dialect = _sniff(con, text, options, name, skip)
        names = _canonical_names(_header_fields(text, dialect, name, skip, opts.comment), name)
        _check_width(len(names), name)
        if len(names) != len(dialect.names):
            raise _preamble(text, skip, name) or BadFile(
                f"{name}: the header (line {header_line}) has {len(names)} fields but DuckDB found "
                f"{len(dialect.names)} columns with delimiter {dialect.delimiter!r}; "
                "check the delimiter and quoting",
                line=header_line,
            )
        as_text = _ambiguous_dates(con, text, dialect, decisions)
        ambiguous = set(as_text)
        for attempt in range(len(names) + 1):
            select = _csv_select(text.path, dialect, names, as_text, attempt)
            try:
                rows = _copy(con, select, out)
            except duckdb.Error as e:
                reason = _first_line(e, hide=text.path, name=name)
                raise BadFile(f"cannot read {name} as CSV: {reason}") from e
            rejects = _rejects(con, attempt)
            if not rejects:
                columns = _describe(con, out)
                skipped = {n for d, n in zip(dialect.names, names, strict=True) if d in ambiguous}
                located = _Locator(text, dialect, skip, opts.comment) if lines else None
                decisions += _near_typed(con, out, columns, skipped, located)
                _refuse_if_strict(decisions, opts, name)
                report = {"dialect": _dialect_report(dialect, skip, opts), "decisions": decisions}
                return rows, columns, report
            failed = _cast_failures(rejects, text, dialect, name, skip)
            if failed <= as_text:
                break
            as_text |= failed
    raise BadFile(f"{name}: DuckDB keeps rejecting rows after reading columns as text; check the file")


def _check_width(count: int, name: str) -> None:
    if count > MAX_COLUMNS:
        raise BadFile(
            f"{name} has {count:,} columns; at most {MAX_COLUMNS:,} are accepted - split the table "
            "or transpose it (one row per variable)",
            columns=count,
        )


def _dialect_report(dialect: _Dialect, skip: int, opts: ImportOptions) -> dict[str, Any]:
    return {
        "delimiter": dialect.delimiter,
        "quote": dialect.quote or None,
        "escape": dialect.escape or None,
        "newline": "\\r" if dialect.newline == b"\r" else "\\n",
        "skipped_lines": skip,
        "comment": opts.comment,
        "date_format": dialect.date_format,
        "timestamp_format": dialect.timestamp_format,
    }


def _head_lines(head: str) -> list[str]:
    return head.split("\n")


def _skipped_lines(head: str, skip_rows: int) -> int:
    """Lines before the header: the ``skip_rows`` asked for plus the blank lines after them.

    DuckDB must be told to skip blank lines before the header, or it may take one as the header.
    """
    lines = _head_lines(head)
    count = min(skip_rows, len(lines))
    while count < len(lines) and not lines[count].strip("\r"):
        count += 1
    return count


_COMMENT_LIKE = ("#", "//", "%")


def _header_line(text: _Text, skip: int, opts: ImportOptions, name: str, options: dict[str, str]) -> int:
    """The 1-based line of the header; refuses a comment line where the header should be, and a
    header wider than the column cap (before DuckDB parses anything)."""
    lines = _head_lines(text.head)
    number = skip
    if opts.comment:
        while number < len(lines) and lines[number].startswith(opts.comment):
            number += 1
    if number < len(lines):
        first = lines[number].lstrip("\ufeff")
        if not opts.comment and first.startswith(_COMMENT_LIKE):
            mark = next(c for c in _COMMENT_LIKE if first.startswith(c))
            raise BadFile(
                f"{name}: line {number + 1} starts with {mark!r} and looks like a comment, not a header; "
                f"give --comment '{mark[0]}' to skip comment lines, or --skip-rows N to skip N lines",
                line=number + 1,
            )
        delimiter = "\t" if options.get("delim") == quote_literal("\t") else _header_delimiter(first)
        if delimiter is not None:
            _check_width(first.count(delimiter) + 1, name)
    return number + 1


def _sniff(
    con: duckdb.DuckDBPyConnection, text: _Text, options: dict[str, str], name: str, skip: int
) -> _Dialect:
    dialect = _sniff_once(con, text, options, name, skip)
    if len(dialect.names) == 1 and "delim" not in options:
        # With few rows and ragged ones the sniffer can settle on "one column, no delimiter";
        # a header that contains a usual delimiter says otherwise.
        guess = _header_delimiter(_head_lines(text.head)[skip] if skip < len(_head_lines(text.head)) else "")
        if guess is not None:
            dialect = _sniff_once(con, text, {**options, "delim": quote_literal(guess)}, name, skip)
        else:
            problem = _preamble(text, skip, name)
            if problem is not None:
                raise problem
    return dialect


def _sniff_once(
    con: duckdb.DuckDBPyConnection, text: _Text, options: dict[str, str], name: str, skip: int
) -> _Dialect:
    path = text.path
    opts = {"header": "true", "store_rejects": "true", **options}
    sql = (
        f"SELECT Delimiter, Quote, Escape, NewLineDelimiter, Columns, DateFormat, TimestampFormat "
        f"FROM sniff_csv({quote_literal(path)}, {_options(opts)})"
    )
    try:
        row = con.execute(sql).fetchone()
    except duckdb.Error as e:
        raise _layout_problem(text, skip, name) or BadFile(
            f"cannot read {name} as CSV: {_first_line(e, hide=path, name=name)}; "
            "check the delimiter and quoting"
        ) from e
    if row is None:
        raise BadFile(f"cannot read {name} as CSV: DuckDB could not sniff its layout")
    delimiter, quote, escape = (_unempty(v) for v in row[:3])
    if quote == '"' and not escape:
        escape = '"'  # RFC 4180: a quote inside a quoted field is doubled
    fixed = {"skip": options["skip"], "comment": options["comment"], "delim": quote_literal(delimiter)}
    if quote:
        fixed["quote"] = quote_literal(quote)
    if escape:
        fixed["escape"] = quote_literal(escape)
    newline = b"\r" if str(row[3]) == "\\r" else b"\n"
    columns = [(str(c["name"]), str(c["type"])) for c in row[4]]
    return _Dialect(
        fixed,
        delimiter,
        quote,
        escape,
        newline,
        [c for c, _ in columns],
        types=[t for _, t in columns],
        date_format=_unempty(row[5]) or None,
        timestamp_format=_unempty(row[6]) or None,
    )


def _layout_problem(text: _Text, skip: int, name: str) -> BadFile | None:
    """When DuckDB cannot sniff the layout: the line at fault, if the head shows one."""
    lines = _head_lines(text.head)
    if not text.whole:
        lines = lines[:-1]
    crlf = [i for i, line in enumerate(lines[:-1]) if line.endswith("\r")]
    lf = [i for i, line in enumerate(lines[:-1]) if not line.endswith("\r")]
    if crlf and lf:
        odd, other = (lf, "CRLF") if len(lf) < len(crlf) else (crlf, "LF")
        mine = "LF" if other == "CRLF" else "CRLF"
        at = odd[0] + 1
        return BadFile(
            f"{name}: line {at} ends with {mine} but the other lines with {other}; "
            "use one line ending throughout the file",
            line=at,
        )
    opened: int | None = None
    for i, line in enumerate(lines[skip:], start=skip + 1):
        if line.count('"') % 2:
            opened = i if opened is None else None
    if opened is not None:
        return BadFile(
            f'{name}: line {opened}: a quoted field is opened with " and never closed; '
            'close the quote (a " inside a quoted field is written "")',
            line=opened,
        )
    return _preamble(text, skip, name)


def _preamble(text: _Text, skip: int, name: str) -> BadFile | None:
    """Title or note lines before the header: the line where the table seems to start."""
    lines = [line.rstrip("\r") for line in _head_lines(text.head)[:200]]
    if not text.whole:
        lines = lines[:-1]
    body = [line for line in lines[skip:] if line.strip()]
    delimiter = _header_delimiter("\n".join(body[len(body) // 2 :]) if body else "")
    if delimiter is None:
        return None
    counts = [line.count(delimiter) if line.strip() else -1 for line in lines]
    tail = [c for c in counts[skip:] if c >= 0]
    width = Counter(tail).most_common(1)[0][0] if tail else 0
    if width == 0 or counts[skip] == width:
        return None
    start = next((i for i in range(skip, len(counts)) if counts[i] == width), None)
    if start is None or start == skip:
        return None
    return BadFile(
        f"{name}: lines {skip + 1}-{start} look like a preamble (titles or notes) before the header on "
        f"line {start + 1}; give --skip-rows {start} to skip them",
        line=skip + 1,
        header_line=start + 1,
    )


def _unempty(value: object) -> str:
    text = str(value) if value is not None else ""
    return "" if text == "(empty)" else text


def _header_delimiter(head: str) -> str | None:
    line = head.lstrip("\r\n").split("\n", 1)[0] if "\n" in head.lstrip("\r\n") else head
    counts = {d: line.count(d) for d in _DELIMITER_CANDIDATES}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def _header_fields(text: _Text, dialect: _Dialect, name: str, skip: int, comment: str | None) -> list[str]:
    """The raw fields of the header record, parsed with the sniffed dialect."""
    if len(dialect.delimiter) != 1 or len(dialect.quote) > 1 or len(dialect.escape) > 1:
        return list(dialect.names)
    lines = text.head.split("\n")[skip:]
    if comment:
        while lines and lines[0].startswith(comment):
            lines = lines[1:]
    rest = "\n".join(lines)
    buffer = io.StringIO(rest, newline="")
    reader = csv.reader(
        buffer,
        delimiter=dialect.delimiter,
        quotechar=dialect.quote or None,
        quoting=csv.QUOTE_MINIMAL if dialect.quote else csv.QUOTE_NONE,
        escapechar=dialect.escape if dialect.escape and dialect.escape != dialect.quote else None,
        doublequote=dialect.escape in ("", dialect.quote),
        strict=False,
    )
    try:
        for row in reader:
            if not row:
                continue
            if not text.whole and buffer.tell() >= len(rest):
                raise BadFile(f"{name}: the header is longer than {HEAD_BYTES} bytes; check the delimiter")
            return row
    except csv.Error as e:
        raise BadFile(f"{name}: cannot parse the header row: {e}; check the delimiter and quoting") from e
    raise EmptyFile(f"{name} has no header row; give a file with a header row and data rows")


# --- dates and near-typed columns ----------------------------------------------------------------


def _swapped(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _ambiguous_dates(
    con: duckdb.DuckDBPyConnection, text: _Text, dialect: _Dialect, decisions: list[dict[str, Any]]
) -> set[str]:
    """Date/timestamp columns whose sniffed format is ambiguous: read as text (DuckDB names).

    A two-digit year (``%y``) is always ambiguous. A day-month order (``%d``/``%m`` not after
    ``%Y``) is ambiguous unless some value fails to parse with day and month swapped.
    """
    out: set[str] = set()
    for kind, fmt in (("DATE", dialect.date_format), ("TIMESTAMP", dialect.timestamp_format)):
        if not fmt:
            continue
        cols = [c for c, t in zip(dialect.names, dialect.types, strict=True) if t.upper().startswith(kind)]
        if kind == "DATE":
            cols = [c for c, t in zip(dialect.names, dialect.types, strict=True) if t.upper() == "DATE"]
        if not cols:
            continue
        if "%y" in fmt:
            for c in cols:
                decisions.append(_date_decision(c, fmt, "a two-digit year: the century cannot be told"))
                out.add(c)
            continue
        if "%d" not in fmt or "%m" not in fmt or (fmt.startswith("%Y") and fmt.index("%m") < fmt.index("%d")):
            continue
        swapped = _swapped(fmt)
        opts = {"header": "true", **dialect.options, "all_varchar": "true"}
        source = f"read_csv({quote_literal(text.path)}, {_options(opts)})"
        checks = ", ".join(
            f"count(*) FILTER (WHERE try_strptime(trim({quote_ident(c)}), {quote_literal(swapped)}) IS NULL "
            f"AND trim({quote_ident(c)}) <> '')"
            for c in cols
        )
        row = con.execute(f"SELECT {checks} FROM {source}").fetchone()
        assert row is not None
        for c, failing in zip(cols, row, strict=True):
            if not failing:
                reason = f"every value also reads as {swapped}: day and month cannot be told apart"
                decisions.append(_date_decision(c, fmt, reason))
                out.add(c)
    return out


def _date_decision(column: str, fmt: str, reason: str) -> dict[str, Any]:
    return {"kind": "ambiguous_dates", "column": column, "format": fmt, "kept_as": "VARCHAR"} | {
        "reason": reason
    }


class _Locator:
    """Maps 0-based data-row indexes to 1-based physical lines by re-reading the CSV in Python."""

    def __init__(self, text: _Text, dialect: _Dialect, skip: int, comment: str | None) -> None:
        self.text, self.dialect, self.skip, self.comment = text, dialect, skip, comment

    def lines(self, rows: Sequence[int]) -> list[int]:
        wanted = sorted(set(rows))
        if not wanted or len(self.dialect.delimiter) != 1 or len(self.dialect.quote) > 1:
            return []
        state = {"line": 0, "first": 0, "new": True}

        def physical() -> Iterator[str]:
            with self.text.path.open(encoding="utf-8-sig", newline="") as f:
                for line in f:
                    state["line"] += 1
                    if state["line"] <= self.skip or not line.strip("\r\n"):
                        continue
                    if self.comment and line.startswith(self.comment):
                        continue
                    if state["new"]:
                        state["first"], state["new"] = state["line"], False
                    yield line

        d = self.dialect
        reader = csv.reader(
            physical(),
            delimiter=d.delimiter,
            quotechar=d.quote or None,
            quoting=csv.QUOTE_MINIMAL if d.quote else csv.QUOTE_NONE,
            escapechar=d.escape if d.escape and d.escape != d.quote else None,
            doublequote=d.escape in ("", d.quote),
            strict=False,
        )
        found: dict[int, int] = {}
        index = -1  # the header
        for _ in reader:
            if index in wanted:
                found[index] = state["first"]
                if len(found) == len(wanted):
                    break
            index += 1
            state["new"] = True
        return [found[r] for r in rows if r in found]


def _near_typed(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    columns: list[Column],
    skipped: set[str],
    locator: _Locator | None,
) -> list[dict[str, Any]]:
    """Text columns that would be numbers or ISO dates but for a few values, with where they are."""
    text_cols = [c.name for c in columns if c.type == "VARCHAR" and c.name not in skipped]
    if not text_cols:
        return []
    src = f"read_parquet({quote_literal(out)}, file_row_number = true)"
    exprs = []
    for c in text_cols:
        v = f"nullif(trim({quote_ident(c)}), '')"
        exprs.append(f"count({v}), count(TRY_CAST({v} AS DOUBLE)), count(TRY_CAST({v} AS DATE))")
    counts = con.execute(f"SELECT {', '.join(exprs)} FROM {src}").fetchone()
    assert counts is not None
    out_decisions: list[dict[str, Any]] = []
    for i, c in enumerate(text_cols):
        total, numbers, dates = (int(x) for x in counts[3 * i : 3 * i + 3])
        for kind, good, cast in (("mostly_numeric", numbers, "DOUBLE"), ("mostly_dates", dates, "DATE")):
            bad = total - good
            if good >= 3 and 1 <= bad <= max(2, NEAR_TYPED_SHARE * total):
                v = f"nullif(trim({quote_ident(c)}), '')"
                found = con.execute(
                    f"SELECT file_row_number, {v} FROM {src} WHERE {v} IS NOT NULL "
                    f"AND TRY_CAST({v} AS {cast}) IS NULL ORDER BY file_row_number LIMIT {MAX_REPORTED_LINES}"
                ).fetchall()
                rows = [int(r[0]) for r in found]
                decision: dict[str, Any] = {
                    "kind": kind,
                    "column": c,
                    "kept_as": "VARCHAR",
                    "failing": bad,
                    "of": total,
                    "rows": [r + 1 for r in rows],
                    "samples": list(dict.fromkeys(str(r[1])[:40] for r in found))[:5],
                }
                if locator is not None:
                    decision["lines"] = locator.lines(rows)
                out_decisions.append(decision)
                break
    return out_decisions


def _refuse_if_strict(decisions: list[dict[str, Any]], opts: ImportOptions, name: str) -> None:
    near = [d for d in decisions if d["kind"] in ("mostly_numeric", "mostly_dates")]
    if not opts.strict or not near:
        return
    d = near[0]
    what = "numbers" if d["kind"] == "mostly_numeric" else "dates (YYYY-MM-DD)"
    where = f"line{'s' if len(d.get('lines', d['rows'])) > 1 else ''} " if "lines" in d else "row(s) "
    at = ", ".join(str(n) for n in d.get("lines", d["rows"]))
    raise BadFile(
        f"{name}: column {d['column']!r} holds {what} except {d['failing']} of {d['of']} values "
        f"({where}{at}: {', '.join(repr(v) for v in d['samples'])}); fix those values, or register "
        "without --strict to keep the column as text",
        column=d["column"],
        lines=d.get("lines", []),
        rows=d["rows"],
    )


def _csv_select(path: Path, dialect: _Dialect, names: list[str], as_text: set[str], attempt: int) -> str:
    opts = {
        "header": "true",
        **dialect.options,
        "store_rejects": "true",
        "rejects_table": quote_literal(f"dataex_rejects_{attempt}"),
        "rejects_scan": quote_literal(f"dataex_scans_{attempt}"),
        "rejects_limit": str(_REJECTS_LIMIT),
    }
    if as_text:
        opts["types"] = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in sorted(as_text)) + "}"
    return _aliased(f"read_csv({quote_literal(path)}, {_options(opts)})", dialect.names, names)


def _rejects(con: duckdb.DuckDBPyConnection, attempt: int) -> list[_Reject]:
    rows = con.execute(
        "SELECT line, line_byte_position, column_name, error_type, error_message "
        f"FROM dataex_rejects_{attempt} ORDER BY line"
    ).fetchall()
    return [_Reject(int(r[0]), None if r[1] is None else int(r[1]), r[2], str(r[3]), str(r[4])) for r in rows]


def _cast_failures(rejects: list[_Reject], text: _Text, dialect: _Dialect, name: str, skip: int) -> set[str]:
    """The columns whose values failed the sniffed type; raises for every other kind of reject."""
    if any(r.kind == "INVALID ENCODING" for r in rejects):
        _invalid_encoding(text, name)
    ragged = [r for r in rejects if r.kind in _RAGGED]
    if ragged:
        raise _preamble(text, skip, name) or _ragged_rows(ragged, text.path, dialect, name)
    other = [r for r in rejects if r.kind != "CAST"]
    if other:
        line = _physical_lines(text.path, other[:1], dialect.newline)[0]
        reason = other[0].message.strip().rstrip(".")
        raise BadFile(f"{name}: line {line}: {reason}; fix that line", line=line)
    return {r.column for r in rejects if r.column is not None}


def _ragged_rows(ragged: list[_Reject], path: Path, dialect: _Dialect, name: str) -> RaggedRows:
    unique = list({r.line: r for r in ragged}.values())
    lines = _physical_lines(path, unique[:MAX_REPORTED_LINES], dialect.newline)
    shown = ", ".join(str(n) for n in lines)
    more = f" (first {MAX_REPORTED_LINES} shown)" if len(unique) > MAX_REPORTED_LINES else ""
    return RaggedRows(
        f"{name} has rows whose number of fields differs from the header's {len(dialect.names)}: "
        f"line{'s' if len(lines) > 1 else ''} {shown}{more}; fix or remove those rows",
        lines=lines,
    )


def _physical_lines(path: Path, rejects: Sequence[_Reject], newline: bytes) -> list[int]:
    """1-based line numbers in ``path`` of the rejected records (DuckDB counts records, not lines).

    DuckDB's ``line_byte_position`` is the 1-based offset where it starts the record (for CRLF
    files: the LF ending the previous line), so the newlines among the first
    ``line_byte_position`` bytes, plus one, give the line. Checked for LF and CRLF files in tests.
    """
    ends = [r.byte for r in rejects]
    if any(e is None for e in ends):
        return [r.line for r in rejects]
    counts = _count_before(path, [e for e in ends if e is not None], newline)
    return [c + 1 for c in counts]


def _count_before(path: Path, ends: list[int], newline: bytes) -> list[int]:
    """For each offset in ``ends`` (ascending), the number of ``newline`` bytes before it."""
    result: list[int] = []
    seen = 0
    start = 0
    with path.open("rb") as f:
        while len(result) < len(ends):
            chunk = f.read(CHUNK_BYTES)
            stop = start + len(chunk)
            while len(result) < len(ends) and (ends[len(result)] <= stop or not chunk):
                result.append(seen + chunk.count(newline, 0, max(0, ends[len(result)] - start)))
            seen += chunk.count(newline)
            start = stop
    return result


# --- JSON Lines ---------------------------------------------------------------------------------


class _Pairs(list[tuple[str, object]]):
    """The key/value pairs of one JSON object, in order (duplicates kept)."""


def _import_jsonl(source: Path, out: Path, scratch: _Scratch, fmt: str, opts: ImportOptions) -> ImportResult:
    name = source.name
    text = _open_text(source, scratch, name, ".jsonl", opts.encoding)
    _check_json_head(text, name)
    try:
        rows, columns = _json_to_parquet(text, out, scratch, name)
    except _NotUtf8:
        text = _legacy_fallback(source, scratch, name, ".jsonl")
        rows, columns = _json_to_parquet(text, out, scratch, name)
    return _finish(name, rows, columns, fmt, text.encoding, header=False, report={"encoding": text.how})


def _check_json_head(text: _Text, name: str) -> None:
    """Each line must be an object; keys in the head must be unique ignoring case."""
    start = text.head.lstrip()
    if not start.startswith("{"):
        raise BadFile(
            f"{name}: each line must be a JSON object ({{...}}) but the file starts with "
            f"{start[:20]!r}; give one object per line"
        )
    lines = text.head.split("\n")
    if not text.whole:
        lines = lines[:-1]
    seen: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_Pairs)
        except json.JSONDecodeError:
            return  # DuckDB reports the line
        if isinstance(obj, _Pairs):
            _check_keys([k for k, _ in obj], seen, name)


def _check_keys(keys: Iterable[str], seen: dict[str, str], name: str) -> None:
    local: set[str] = set()
    for key in keys:
        folded = key.strip().lower()
        first = seen.setdefault(folded, key)
        if folded in local or first != key:
            dups = [first, key]
            raise DuplicateColumns(
                f"{name} has duplicate keys {first!r} and {key!r} (compared ignoring case); "
                "rename them so every key is unique",
                columns=dups,
            )
        local.add(folded)


def _json_to_parquet(text: _Text, out: Path, scratch: _Scratch, name: str) -> tuple[int, list[Column]]:
    with _duckdb(scratch) as con:
        for sample in ("", ", sample_size=-1"):
            source = f"read_json({quote_literal(text.path)}, format='newline_delimited'{sample})"
            try:
                described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                _check_json_shape(described, name)
                _check_width(len(described), name)
                duck = [str(r[0]) for r in described]
                rows = _copy(con, _aliased(source, duck, _canonical_names(duck, name)), out)
            except duckdb.Error as e:
                message = str(e)
                if "invalid utf-8" in message.lower():
                    _invalid_encoding(text, name)
                if "transform error" in message.lower() and not sample:
                    continue  # a value past DuckDB's type sample: infer types from the whole file
                raise _json_error(e, text.path, name) from e
            return rows, _describe(con, out)
    raise BadFile(f"cannot read {name} as JSON Lines; check that every line is one JSON object")


def _check_json_shape(described: list[tuple[object, ...]], name: str) -> None:
    only = described[0] if len(described) == 1 else None
    if only is not None and str(only[0]) == "json" and str(only[1]).startswith(("MAP(", "JSON")):
        raise BadFile(
            f"{name}: no columns could be inferred from the JSON objects (no keys, or too many "
            "different keys); give every line the same keys"
        )


def _json_error(error: duckdb.Error, path: Path, name: str) -> BadFile:
    message = _first_line(error, hide=path, name=name)
    found = re.search(r"in line (\d+)", message)
    if found is None:
        return BadFile(f"cannot read {name} as JSON Lines: {message}")
    reason = message.rsplit(": ", 1)[-1].strip().rstrip(".")
    line = int(found.group(1))
    if message.startswith("Malformed JSON"):
        line = _malformed_line(path, line)
    return BadFile(f"{name}: line {line} is not a valid JSON object ({reason}); fix that line", line=line)


def _malformed_line(path: Path, reported: int) -> int:
    """DuckDB 2.0 reports a malformed line one too far: check which of the two lines is broken."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number < reported - 1:
                continue
            if number > reported:
                break
            if raw.strip() and not _parses(raw):
                return number
    return reported


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return True


# --- Parquet ------------------------------------------------------------------------------------


def _import_parquet(
    source: Path, out: Path, scratch: _Scratch, fmt: str, _opts: ImportOptions
) -> ImportResult:
    name = source.name
    try:
        raw = list(pq.read_schema(source).names)
    except (pa.ArrowException, OSError) as e:
        raise BadFile(f"cannot read {name} as Parquet: {_first_line(e)}; give a valid Parquet file") from e
    _check_width(len(raw), name)
    names = _canonical_names(raw, name)
    with _duckdb(scratch) as con:
        read = f"read_parquet({quote_literal(source)})"
        try:
            duck = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()]
            rows = _copy(con, _aliased(read, duck, names), out)
        except duckdb.Error as e:
            reason = _first_line(e, hide=source, name=name)
            raise BadFile(f"cannot read {name} as Parquet: {reason}; give a valid Parquet file") from e
        columns = _describe(con, out)
    return _finish(name, rows, columns, fmt, None, header=False)


# --- xlsx ---------------------------------------------------------------------------------------


def _import_xlsx(source: Path, out: Path, scratch: _Scratch, fmt: str, opts: ImportOptions) -> ImportResult:
    name = source.name
    converted = scratch.path(".csv")
    _check_xlsx_size(source, name)
    _xlsx_to_csv(source, converted, name)
    head_bytes, whole = _read_head(converted)
    text = _Text(converted, "utf-8", _decode(head_bytes, "utf-8", final=whole), whole)
    options = {"delim": quote_literal(","), "quote": quote_literal('"'), "escape": quote_literal('"')}
    sheet_opts = ImportOptions(strict=opts.strict)
    rows, columns, report = _delimited_to_parquet(text, out, scratch, name, options, sheet_opts, lines=False)
    return _finish(name, rows, columns, fmt, None, header=True, report=report)


def _check_xlsx_size(source: Path, name: str) -> None:
    """Refuses a workbook that would decompress to more than MAX_XLSX_UNCOMPRESSED bytes."""
    try:
        with zipfile.ZipFile(source) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise BadFile(f"cannot read {name} as an Excel workbook: {e}; give a valid .xlsx file") from e
    if total > MAX_XLSX_UNCOMPRESSED:
        raise BadFile(
            f"{name} decompresses to {total:,} bytes, more than the {MAX_XLSX_UNCOMPRESSED:,} accepted; "
            "export the sheet as CSV instead",
            uncompressed=total,
        )


def _xlsx_to_csv(source: Path, dst: Path, name: str) -> None:
    """Streams the first sheet's rows into a UTF-8 CSV; the first non-empty row is the header."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(os.fspath(source))
    except python_calamine.CalamineError as e:
        raise BadFile(f"cannot read {name} as an Excel workbook: {e}; give a valid .xlsx file") from e
    try:
        sheet = workbook.get_sheet_by_index(0)
        first_row = sheet.start[0] + 1 if sheet.start is not None else 1
        with dst.open("w", encoding="utf-8", newline="") as f:
            _write_sheet(sheet.iter_rows(), csv.writer(f, lineterminator="\n"), first_row, name)
    except python_calamine.CalamineError as e:
        raise BadFile(f"cannot read {name} as an Excel workbook: {e}; give a valid .xlsx file") from e
    finally:
        workbook.close()


def _write_sheet(rows: Iterable[Sequence[object]], writer: _RowWriter, first_row: int, name: str) -> None:
    width = 0
    ragged: list[int] = []
    for index, cells in enumerate(rows):
        if index >= MAX_XLSX_ROWS:
            raise BadFile(
                f"{name}: the first sheet has more than {MAX_XLSX_ROWS:,} rows (Excel's own limit); "
                "export it as CSV instead"
            )
        if index == 0:
            _check_width(len(cells), name)
        values = [_cell_text(c) for c in cells]
        if not any(values):
            continue
        if width == 0:
            width = max(i for i, v in enumerate(values) if v) + 1
            writer.writerow(values[:width])
        elif any(values[width:]):
            ragged.append(first_row + index)
            if len(ragged) > MAX_REPORTED_LINES:
                break
        else:
            writer.writerow(values[:width] + [""] * (width - len(values)))
    if width == 0:
        raise EmptyFile(f"{name}: the first sheet is empty; put a header row and data rows in it")
    if ragged:
        lines = ragged[:MAX_REPORTED_LINES]
        raise RaggedRows(
            f"{name} has rows with values to the right of the last header column: "
            f"row{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}; "
            "give those columns a header or remove the values",
            lines=lines,
        )


class _RowWriter(Protocol):
    """The part of ``csv.writer`` that ``_write_sheet`` uses."""

    def writerow(self, row: Iterable[Any], /) -> Any: ...


def _cell_text(value: object) -> str:
    """A cell as CSV text: integral floats as ints, dates and times in ISO format, empty as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


_Importer = Callable[[Path, Path, _Scratch, str, ImportOptions], ImportResult]
_IMPORTERS: dict[str, _Importer] = {
    "csv": _import_csv,
    "tsv": _import_csv,
    "jsonl": _import_jsonl,
    "parquet": _import_parquet,
    "xlsx": _import_xlsx,
}
