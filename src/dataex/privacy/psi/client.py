"""The consumer's side of PSI: runs in the consumer's own process; raw identifiers stay here.

:func:`run` reads the consumer's file, normalizes the named column (:mod:`.normalize`), runs the
client half of the protocol (or, for PSI-then-DP, the server half with a fresh key) and talks to
the node through a :class:`Transport`: :class:`HttpTransport` against a remote ``dataex serve``
(httpx), or :class:`LocalTransport` against an in-process ``Node`` (tests, a local home).
Only blinded group elements and set sizes ever leave this module.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import dataex.errors as errors
from dataex.errors import DataexError, InputFileNotFound, InvalidInput, UnknownColumn, UnsupportedFormat
from dataex.privacy.psi import protocol, thendp
from dataex.privacy.psi.normalize import Normalized, detect_type, normalize
from dataex.privacy.psi.service import run_session

if TYPE_CHECKING:
    from dataex.identity.parties import Party
    from dataex.node import Node


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:
        raise InvalidInput(f"a PSI message is not valid base64: {e}") from e


class Transport(Protocol):
    """How the consumer reaches the node: three calls carrying only protocol messages and sizes."""

    def session(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def then_start(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def then_finish(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]: ...


class LocalTransport:
    """Calls the node's services in this process (a local home, or tests)."""

    def __init__(self, node: Node, party: Party) -> None:
        self.node, self.party = node, party

    def session(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
        r = run_session(
            self.node,
            self.party,
            contract_id,
            request=unb64(body["request"]),
            mode=body["mode"],
            id_type=body["id_type"],
            column=body.get("column"),
        )
        return {
            "session_id": r.session_id,
            "setup": b64(r.setup),
            "response": b64(r.response),
            "consumer_items": r.consumer_items,
            "provider_items": r.provider_items,
            "column": r.column,
            "dataset_id": r.dataset_id,
            "setup_sha256": r.setup_sha256,
        }

    def then_start(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
        r = thendp.start(
            self.node,
            self.party,
            contract_id,
            sql=body.get("sql"),
            epsilon=body["epsilon"],
            id_type=body["id_type"],
            column=body.get("column"),
        )
        return {
            "session_id": r.session_id,
            "request": b64(r.request),
            "provider_items": r.provider_items,
            "ticket": r.ticket,
        }

    def then_finish(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return thendp.finish(
            self.node,
            self.party,
            session_id,
            setup=unb64(body["setup"]),
            response=unb64(body["response"]),
            consumer_items=body["consumer_items"],
            ticket=str(body["ticket"]),
        )


class HttpTransport:
    """Calls a remote node's HTTP API with the party's bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 600.0, client: Any = None) -> None:
        import httpx

        self._http = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self._http.post(path, json=body, headers=self._headers)
        data: dict[str, Any] = r.json()
        raise_for_envelope(data, r.status_code)
        return data

    def session(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/contracts/{contract_id}/psi", body)

    def then_start(self, contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/contracts/{contract_id}/psi/then", body)

    def then_finish(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/psi/sessions/{session_id}/finish", body)


def raise_for_envelope(data: dict[str, Any], status: int) -> None:
    """Raises the node's JSON error envelope as the ``DataexError`` subclass its ``code`` names."""
    if status < 400:
        return
    code = data.get("code", "error")
    message = str(data.get("error", f"HTTP {status}"))
    for obj in vars(errors).values():
        if isinstance(obj, type) and issubclass(obj, DataexError) and obj.code == code:
            e = DataexError.__new__(obj)
            DataexError.__init__(e, message, **data.get("details", {}))
            raise e
    raise DataexError(message)


@dataclass(frozen=True)
class PsiResult:
    """What the consumer learns: members (its own canonical identifiers), an exact count (L3/L4),
    a DP count (``mode="dp_count"``: ``count`` is the noisy value, ``answer`` the release) or a DP
    answer. ``provider_items`` is the node's set size rounded up, as the node releases it."""

    contract_id: str
    mode: str
    id_type: str
    consumer_items: int
    provider_items: int
    session_id: str
    count: int | None = None
    members: list[str] | None = None
    answer: dict[str, Any] | None = None
    dropped: dict[str, int] | None = None


def read_column(path: Path, column: str) -> list[str | None]:
    """The values of ``column`` in a CSV/TSV, Parquet or JSON Lines file, as strings."""
    import pyarrow as pa

    if not path.is_file():
        raise InputFileNotFound(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        import pyarrow.csv as pacsv

        parse = pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        with pacsv.open_csv(path, parse_options=parse) as reader:
            _has(reader.schema.names, column)
        convert = pacsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column])
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        _has(pq.read_schema(path).names, column)
        table = pq.read_table(path, columns=[column])
    elif suffix in (".jsonl", ".ndjson"):
        import pyarrow.json as pajson

        table = pajson.read_json(path)
        _has(table.column_names, column)
    else:
        raise UnsupportedFormat(f"PSI input must be .csv, .tsv, .parquet or .jsonl; got {path.name}")
    return [None if v is None else str(v) for v in table.column(column).to_pylist()]


def _has(names: list[str], column: str) -> None:
    if column not in names:
        raise UnknownColumn(f"the input file has no column {column!r}", column=column, available=list(names))


def run(
    transport: Transport,
    contract_id: str,
    *,
    input: Path,
    column: str,
    reveal: str = "count",
    id_type: str | None = None,
    provider_column: str | None = None,
    then: str | None = None,
    epsilon: float | None = None,
) -> PsiResult:
    """Runs one PSI session from the consumer's file; see the module docstring."""
    values = read_column(input, column)
    kind = id_type or detect_type(values)
    mine = normalize(values, kind)
    if reveal not in ("members", "count"):
        raise InvalidInput(f"--reveal must be members or count; got {reveal!r}")
    if then is not None or (reveal == "count" and epsilon is not None):
        if epsilon is None:
            raise InvalidInput("PSI-then-DP needs --epsilon")
        return _then_dp(transport, contract_id, mine, provider_column, then, epsilon)
    if epsilon is not None:
        raise InvalidInput("--epsilon goes with --reveal count (a DP count) or --then; members are exact")
    client = protocol.Client(reveal=reveal == "members")
    body = {
        "mode": reveal,
        "id_type": kind,
        "column": provider_column,
        "request": b64(client.request(mine.items)),
    }
    reply = transport.session(contract_id, body)
    setup, response = unb64(reply["setup"]), unb64(reply["response"])
    result = PsiResult(
        contract_id=contract_id,
        mode=reveal,
        id_type=kind,
        consumer_items=len(mine.items),
        provider_items=int(reply["provider_items"]),
        session_id=str(reply["session_id"]),
        dropped=_dropped(mine),
    )
    if reveal == "members":
        hits = client.intersection(setup, response)
        members = [mine.items[i].split(":", 1)[1] for i in hits]
        return _replace(result, count=len(members), members=members)
    return _replace(result, count=client.size(setup, response))


def _then_dp(
    transport: Transport,
    contract_id: str,
    mine: Normalized,
    provider_column: str | None,
    sql: str | None,
    epsilon: float,
) -> PsiResult:
    body = {"id_type": mine.id_type, "column": provider_column, "sql": sql, "epsilon": epsilon}
    started = transport.then_start(contract_id, body)
    key = protocol.new_key()
    node_items = int(started["provider_items"])
    setup = protocol.server_setup(mine.items, key=key, max_client_items=max(node_items, 1))
    response = protocol.server_answer(unb64(started["request"]), key=key, reveal=True)
    answer = transport.then_finish(
        str(started["session_id"]),
        {
            "setup": b64(setup.setup),
            "response": b64(response),
            "consumer_items": len(mine.items),
            "ticket": started["ticket"],
        },
    )
    return PsiResult(
        contract_id=contract_id,
        mode="then_dp" if sql is not None else "dp_count",
        id_type=mine.id_type,
        consumer_items=len(mine.items),
        provider_items=int(answer.get("provider_items", node_items)),
        session_id=str(started["session_id"]),
        count=None if sql is not None else int(answer["rows"][0]["n"]),
        answer=answer,
        dropped=_dropped(mine),
    )


def _dropped(n: Normalized) -> dict[str, int]:
    return {"empty": n.empty, "invalid": n.invalid, "duplicates": n.duplicates}


def _replace(result: PsiResult, **changes: Any) -> PsiResult:
    return replace(result, **changes)
