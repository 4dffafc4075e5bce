"""The one client surface of the SDK, whatever the transport (in-process or HTTP).

A :class:`Client` holds a :class:`Transport` that speaks in plain JSON-shaped values (dicts, lists,
ISO 8601 strings): :mod:`dataex.sdk.local` calls the services in-process, :mod:`dataex.sdk.remote`
calls the HTTP API. The objects of :mod:`dataex.sdk.objects` are built from those values, so both
transports return the same types and ``except dataex.BudgetExhausted`` works the same with either.

Errors only a client can meet (the node is down, speaks a newer API, sends something that is not the
envelope: ``NodeUnreachable``, ``BadResponse``, ``IncompatibleNode``, ``UnsupportedOperation``,
``WaitTimeout``, ``ContractNotApproved``) live in the one hierarchy of :mod:`dataex.errors` with the
others, and are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataex.errors import (
    BadResponse,
    ContractNotApproved,
    DataexError,
    IncompatibleNode,
    InvalidInput,
    NodeUnreachable,
    UnsupportedOperation,
    WaitTimeout,
)
from dataex.sdk.transport import Transport

if TYPE_CHECKING:
    from dataex.sdk.objects import Contract, Dataset, Offer

API_VERSION = 1
"""The HTTP API version this client speaks (``GET /version`` → ``{"api": 1, …}``)."""

__all__ = [
    "API_VERSION",
    "BadResponse",
    "Client",
    "ContractNotApproved",
    "IncompatibleNode",
    "NodeUnreachable",
    "Transport",
    "UnsupportedOperation",
    "WaitTimeout",
    "error_classes",
    "error_from_envelope",
    "validation_error",
]


# -- the envelope → the matching error class ---------------------------------------------------------
def error_classes() -> dict[str, type[DataexError]]:
    """Every ``DataexError`` subclass by its ``code`` (walked recursively; the first class wins)."""
    found: dict[str, type[DataexError]] = {DataexError.code: DataexError}
    todo: list[type[DataexError]] = [DataexError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.setdefault(sub.code, sub)
            todo.append(sub)
    return found


def error_from_envelope(body: dict[str, Any]) -> DataexError:
    """The ``DataexError`` subclass named by the envelope's ``code`` (unknown code: ``DataexError``).

    The subclasses' own constructors take their details as keywords; the error is rebuilt without
    calling them, with ``message``, ``details`` and every detail as an attribute (``e.dataset_id``).
    """
    code = body.get("code")
    cls = error_classes().get(code, DataexError) if isinstance(code, str) else DataexError
    message = str(body.get("error") or body.get("message") or f"the node refused the request ({code})")
    raw = body.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    error = cls.__new__(cls)
    DataexError.__init__(error, message, **details)
    for key, value in details.items():
        if key not in ("message", "details", "args"):
            setattr(error, key, value)
    return error


def validation_error(body: dict[str, Any]) -> InvalidInput:
    """FastAPI's own ``{"detail": [...]}`` (request validation) as ``InvalidInput``."""
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = [
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
            for d in detail
            if isinstance(d, dict)
        ]
        message = "; ".join(parts) or "the request is invalid"
    else:
        message = str(detail or "the request is invalid")
    return InvalidInput(message, detail=detail)


class Client:
    """One node, seen by one party. Build it with ``dataex.sdk.open`` or ``dataex.sdk.connect``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @property
    def transport(self) -> Transport:
        return self._t

    def __repr__(self) -> str:
        return f"<dataex.Client {self._t.where}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._t.close()

    def whoami(self) -> dict[str, Any]:
        """The acting party (``id``, ``name``, ``kind``, ``role``)."""
        return self._t.whoami()

    # -- catalog -----------------------------------------------------------------------------------------
    def search(self, q: str, *, limit: int = 20) -> list[Dataset]:
        """Datasets matching ``q`` (Chinese and/or English), best first; each carries its ``score``."""
        from dataex.sdk.objects import Dataset

        result = self._t.search(q, limit=limit)
        return [Dataset.from_hit(self, hit) for hit in result["hits"]]

    def datasets(self, *, owner: str | None = None) -> list[Dataset]:
        from dataex.sdk.objects import Dataset

        return [Dataset.from_json(self, d) for d in self._t.list_datasets(owner=owner)]

    def dataset(self, dataset_id: str) -> Dataset:
        """Raises ``DatasetNotFound``."""
        from dataex.sdk.objects import Dataset

        return Dataset.from_json(self, self._t.get_dataset(dataset_id))

    def register(
        self,
        path: str | Path,
        title: str,
        license: str,
        *,
        rights: list[str] | None = None,
        owner: str | None = None,
    ) -> Dataset:
        """Registers a data file for the acting party (the same content again returns the same dataset)."""
        path = Path(path)
        if not path.is_file():
            from dataex.errors import InputFileNotFound

            raise InputFileNotFound(f"{path} does not exist or is not a regular file", path=str(path))
        registered = self._t.register(path, title=title, license=license, rights=rights, owner=owner)
        return self.dataset(str(registered["id"]))

    # -- contracts ------------------------------------------------------------------------------------
    def request(self, offer: Offer | str, purpose: str, *, note: str = "") -> Contract:
        """Requests a contract under ``offer`` for ``purpose``; auto-approved offers come back approved."""
        from dataex.sdk.objects import Contract, Offer

        offer_id = offer.id if isinstance(offer, Offer) else offer
        return Contract.from_json(self, self._t.request_contract(offer_id, purpose=purpose, note=note))

    def contract(self, contract_id: str) -> Contract:
        """Raises ``ContractNotFound``."""
        from dataex.sdk.objects import Contract

        return Contract.from_json(self, self._t.get_contract(contract_id))

    def contracts(self, *, dataset_id: str | None = None) -> list[Contract]:
        """The contracts the acting party is a side of."""
        from dataex.sdk.objects import Contract

        return [Contract.from_json(self, c) for c in self._t.list_contracts(dataset_id=dataset_id)]
