"""Extracts: the rows an L3/L4 contract allows, fingerprinted for that contract, charged and logged.

``extract(node, contract_id, actor=consumer, out=path, format="parquet"|"csv"|"xlsx")``:

1. ``authorize(node, consumer, "extract", dataset, {contract_id})`` (logged either way); only the
   contract's consumer may extract.
2. **L3 rule**: an L3 contract's dataset must be a de-identified release — produced by the
   anonymizer (a ``dataset.anonymized`` log entry names it) or derived from such a release.
3. The dataset must have declared tolerable columns (``dataex fingerprint set``), none of them
   protected (quasi-identifiers, sensitive attributes, personal fields): every extract is
   fingerprinted.
4. Rows of subjects who withdrew consent are excluded (:func:`excluded_subjects`).
5. The contract's Tardos codeword is embedded, the file written next to ``out`` and hashed.
   Parquet and CSV extracts stream: :data:`BATCH_ROWS` rows are read, fingerprinted and written at
   a time (the float columns' decimals, which the row identity needs, are read first, alone).
6. Rows are charged with ``budget.charge`` (which settles per-row prices through the market in the
   same transaction) — only rows not charged before: re-delivering the same table to the same
   contract (a second extract, a Delta Sharing read) does not charge twice. Over the row limit:
   ``BudgetExhausted`` and nothing is delivered.
7. ``extract.delivered`` is logged with the file's SHA-256, then the file is moved to ``out``.

Every refusal after step 1 is logged as ``extract.refused`` with the reason.

Files are safe to open in a spreadsheet (docs/security.md): a CSV's text cells and column names that
begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading ``'`` (OWASP's CSV
injection advice; :func:`neutralize`, text columns only: numbers stay numbers); an .xlsx writes every
text cell as a string, never as a formula. Parquet is written as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import func, select

from dataex.catalog.datasets import get_dataset_row
from dataex.contracts import budget, consent
from dataex.db.models import ContractRow, ExtractRow, FingerprintRow
from dataex.delivery import tardos
from dataex.delivery.fingerprint import GAMMA, SCHEME, Embedded, embed, load_or_create_secret
from dataex.delivery.rowkey import source_decimals
from dataex.delivery.tolerances import find_tolerances, is_deidentified, protected_columns
from dataex.engines.sql import quote_literal
from dataex.errors import (
    ContractNotFound,
    DataexError,
    ExtractRefused,
    FingerprintUnavailable,
    InvalidInput,
)
from dataex.identity.parties import Party, new_id
from dataex.ledger.log import utc_now
from dataex.policy import authorize
from dataex.storage.store import sha256_file

if TYPE_CHECKING:
    from dataex.node import Node

FORMATS: Final = ("parquet", "csv", "xlsx")
XLSX_MAX_ROWS: Final = 1_048_575
BATCH_ROWS: Final = 1 << 20
"""Rows read, fingerprinted and written at a time (Parquet and CSV extracts stream)."""


@dataclass(frozen=True)
class ExtractResult:
    id: str
    contract_id: str
    dataset_id: str
    consumer_id: str
    channel: str
    format: str
    rows: int
    rows_charged: int
    marked_cells: int
    sha256: str
    path: Path
    log_index: int


def scheme() -> dict[str, object]:
    return {"scheme": SCHEME, "code_length": tardos.CODE_LENGTH, "cutoff": tardos.CUTOFF, "gamma": GAMMA}


def excluded_subjects(node: Node, dataset_id: str) -> str | None:
    """CONSENT HOOK: a DuckDB predicate keeping rows of subjects who did not withdraw (None: all).

    The single place where extracts ask the consent service (dataex.contracts.consent).
    """
    with node.session() as s:
        return consent.exclusion_predicate(node, s, dataset_id)


def extract(
    node: Node, contract_id: str, *, actor: Party, out: Path, format: str = "parquet"
) -> ExtractResult:
    """Delivers the contract's fingerprinted rows to ``out``; see the module docstring."""
    if format not in FORMATS:
        raise InvalidInput(f"unknown extract format {format!r}; use one of {', '.join(FORMATS)}")
    return deliver(node, contract_id, actor=actor, out=out, format=format, channel="file")


def deliver(
    node: Node, contract_id: str, *, actor: Party, out: Path, format: str, channel: str
) -> ExtractResult:
    """Steps 1-7 for any channel (``file`` or ``delta-sharing``)."""
    with node.session() as s:
        contract = s.get(ContractRow, contract_id)
        if contract is None:
            raise ContractNotFound(contract_id)
        dataset_id, consumer_id, tier = contract.dataset_id, contract.consumer_id, contract.tier
    authorize(node, actor, "extract", dataset_id, {"contract_id": contract_id}).raise_if_denied()
    refuse = _refuser(node, actor, contract_id, dataset_id, channel)
    if actor.id != consumer_id:
        refuse(ExtractRefused("only the contract's consumer may extract its rows", contract_id=contract_id))
    with node.session() as s:
        if tier == "L3" and not is_deidentified(s, dataset_id):
            refuse(
                ExtractRefused(
                    f"contract {contract_id} is L3 but dataset {dataset_id} is not a de-identified release: "
                    "offer the anonymizer's derived dataset at L3",
                    contract_id=contract_id,
                )
            )
        tolerances = find_tolerances(s, dataset_id)
        clash = sorted({t.column for t in tolerances} & protected_columns(s, dataset_id))
        charged_before = int(
            s.scalar(select(func.sum(ExtractRow.rows_charged)).where(ExtractRow.contract_id == contract_id))
            or 0
        )
    if not tolerances:
        refuse(
            FingerprintUnavailable(
                f"dataset {dataset_id} declares no tolerable columns, and every extract is fingerprinted: "
                f"its owner runs `dataex fingerprint set {dataset_id} --tolerate COLUMN=UNITS`",
                dataset_id=dataset_id,
            )
        )
    if clash:
        refuse(FingerprintUnavailable(f"tolerable columns {clash} are protected", dataset_id=dataset_id))
    secret = load_or_create_secret(node.settings.home)
    codeword = tardos.codeword(secret, contract_id, tardos.biases(secret))
    fingerprint = partial(embed, secret=secret, tolerances=tolerances, codeword=codeword)
    source = _source(node, dataset_id)
    decimals = _decimals(source)  # of the whole source, as trace() computes them
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{new_id('tmp')}")
    try:
        with _rows(source, excluded_subjects(node, dataset_id)) as reader:
            if format == "xlsx":
                table = reader.read_all()
                if table.num_rows > XLSX_MAX_ROWS:
                    refuse(
                        InvalidInput(
                            f"{table.num_rows} rows do not fit in one .xlsx sheet; use parquet or csv"
                        )
                    )
                marked = fingerprint(table, decimals=decimals)
                write_table(marked.table, tmp, format)
                rows, marked_cells = table.num_rows, marked.marked_cells
            else:
                rows, marked_cells = _write_stream(reader, tmp, format, fingerprint, decimals)
        sha = sha256_file(tmp)
        to_charge = max(0, rows - charged_before)
        if to_charge:
            try:
                budget.authorize_and_charge(node, actor, "extract", contract_id, rows=to_charge)
            except DataexError as e:
                refuse(e)
        result = _record(
            node,
            actor,
            contract_id,
            dataset_id,
            channel,
            format,
            rows,
            to_charge,
            marked_cells,
            sha,
            out,
        )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _refuser(
    node: Node, actor: Party, contract_id: str, dataset_id: str, channel: str
) -> Callable[[DataexError], NoReturn]:
    """Logs ``extract.refused`` (its own transaction) and raises the error."""

    def refuse(error: DataexError) -> NoReturn:
        record = {"contract_id": contract_id, "dataset_id": dataset_id, "channel": channel}
        node.log.refusal(node.transaction, "extract.refused", error, actor=actor.id, data=record)
        raise error

    return refuse


def _source(node: Node, dataset_id: str) -> str:
    with node.session() as s:
        return node.store.url(get_dataset_row(s, dataset_id).file_sha256)


def _decimals(path: str) -> dict[str, int]:
    """The decimals of the source's float columns (read alone: the other columns stay on disk)."""
    schema = pq.read_schema(path)
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    return source_decimals(pq.read_table(path, columns=floats)) if floats else {}


@contextmanager
def _rows(path: str, predicate: str | None) -> Iterator[pa.RecordBatchReader]:
    """The source's rows in batches of up to BATCH_ROWS, without those ``predicate`` excludes."""
    if predicate is None:
        parquet = pq.ParquetFile(path)
        yield pa.RecordBatchReader.from_batches(parquet.schema_arrow, parquet.iter_batches(BATCH_ROWS))
        return
    import duckdb

    with duckdb.connect() as con:
        query = f"SELECT * FROM read_parquet({quote_literal(path)}) WHERE {predicate}"
        yield con.sql(query).to_arrow_reader(BATCH_ROWS)


def _write_stream(
    reader: pa.RecordBatchReader,
    path: Path,
    format: str,
    fingerprint: Callable[..., Embedded],
    decimals: dict[str, int],
) -> tuple[int, int]:
    """Fingerprints and writes ``reader`` batch by batch (Parquet or CSV); rows and marked cells."""
    import pyarrow.csv as pacsv

    rows = marked = 0
    csv = format != "parquet"
    writer = (
        pacsv.CSVWriter(path, neutralize(reader.schema.empty_table()).schema)
        if csv
        else pq.ParquetWriter(path, reader.schema)
    )
    with writer:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            done = fingerprint(pa.Table.from_batches([batch]), decimals=decimals)
            writer.write_table(neutralize(done.table) if csv else done.table)
            rows += batch.num_rows
            marked += done.marked_cells
    return rows, marked


FORMULA_START: Final = r"^[=+\-@\t\r]"  # what a spreadsheet may read as a formula (OWASP)


def _risky(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def neutralize(table: pa.Table) -> pa.Table:
    """CSV injection, the OWASP way: every text cell (and column name) that begins with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so a spreadsheet shows it
    as text instead of running it. Only text columns: a negative number stays a number."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            text = column.cast(kind) if pa.types.is_dictionary(field.type) else column
            risky = pc.match_substring_regex(text, FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", kind), text, ""), text)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=[_risky(n) for n in table.column_names])


def _write_xlsx(table: pa.Table, path: Path) -> None:
    """One sheet, a header row, every text cell written as a string (never a formula, even when it
    begins with ``=``); numbers, booleans and times as themselves (times in UTC, without zone)."""
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
    except ImportError as e:
        raise InvalidInput("writing .xlsx needs openpyxl: pip install openpyxl") from e
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")

    def cell(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, bytes):
            value = value.hex()
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"  # openpyxl would make "=..." a formula
        return written

    sheet.append([cell(name) for name in table.column_names])
    for batch in table.to_batches(BATCH_ROWS):
        for row in batch.to_pylist():
            sheet.append([cell(v) for v in row.values()])
    book.save(path)


def write_table(table: pa.Table, path: Path, format: str) -> None:
    """Writes ``table`` as Parquet, CSV (UTF-8, header; text neutralized) or .xlsx (one sheet; text
    as strings, never formulas)."""
    if format == "parquet":
        pq.write_table(table, path)
    elif format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(neutralize(table), path)
    else:
        _write_xlsx(table, path)


def _record(
    node: Node,
    actor: Party,
    contract_id: str,
    dataset_id: str,
    channel: str,
    format: str,
    rows: int,
    charged: int,
    marked: int,
    sha: str,
    out: Path,
) -> ExtractResult:
    now = utc_now()
    extract_id = new_id("ext")
    with node.transaction() as s:
        if s.get(FingerprintRow, contract_id) is None:
            s.add(
                FingerprintRow(
                    contract_id=contract_id,
                    dataset_id=dataset_id,
                    consumer_id=actor.id,
                    scheme=scheme(),
                    created_at=now,
                )
            )
        record = {
            "extract_id": extract_id,
            "contract_id": contract_id,
            "dataset_id": dataset_id,
            "consumer_id": actor.id,
            "channel": channel,
            "format": format,
            "rows": rows,
            "rows_charged": charged,
            "marked_cells": marked,
            "sha256": sha,
            "fingerprint": scheme(),
        }
        entry = node.log.append(s, "extract.delivered", record, actor=actor.id)
        s.add(
            ExtractRow(
                id=extract_id,
                contract_id=contract_id,
                dataset_id=dataset_id,
                consumer_id=actor.id,
                channel=channel,
                format=format,
                rows=rows,
                rows_charged=charged,
                marked_cells=marked,
                file_sha256=sha,
                created_at=now,
                log_index=entry.index,
            )
        )
        node.log.checkpoint(s)
    return ExtractResult(
        extract_id,
        contract_id,
        dataset_id,
        actor.id,
        channel,
        format,
        rows,
        charged,
        marked,
        sha,
        out,
        entry.index,
    )
