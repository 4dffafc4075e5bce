"""The in-process transport: the same services the HTTP API calls, on a node opened from its home.

Each method calls one service, as the matching API route does, and returns the JSON-shaped value the
route would send (dataclasses as dicts, times as ISO 8601 strings), so objects built on top cannot
tell the transports apart. Without a token the local operator acts (as in the CLI).
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataex.exchange import Exchange
from dataex.identity.parties import Party

if TYPE_CHECKING:
    import pyarrow as pa

_DEFAULT_RIGHTS = ["holding", "processing_use", "product_operation"]


def plain(value: Any) -> Any:
    """A service value as the API would serialize it: dicts, lists, ISO 8601 strings (``Z`` for UTC)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


class LocalTransport:
    """Calls the services of an ``Exchange`` in this process, as the party ``token`` names."""

    def __init__(self, ex: Exchange, token: str | None = None, *, owns: bool = False) -> None:
        self.ex = ex
        self.where = str(ex.settings.home)
        self._owns = owns
        self.party: Party = ex.authenticate(token) if token else _operator(ex)

    def close(self) -> None:
        if self._owns:
            self.ex.close()

    def whoami(self) -> dict[str, Any]:
        out: dict[str, Any] = plain(self.party)
        return out

    # -- catalog -----------------------------------------------------------------------------------------
    def search(self, q: str, *, limit: int) -> dict[str, Any]:
        from dataex.catalog.search import search

        out: dict[str, Any] = plain(search(self.ex, q, limit=limit, actor=self.party))
        return out

    def list_datasets(self, *, owner: str | None) -> list[dict[str, Any]]:
        from dataex.catalog import datasets

        return [_public_dataset(d) for d in datasets.list_datasets(self.ex, owner=owner, viewer=self.party)]

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        from dataex.catalog import datasets

        return _public_dataset(datasets.get_dataset(self.ex, dataset_id, viewer=self.party))

    def register(
        self, path: Path, *, title: str, license: str, rights: list[str] | None, owner: str | None
    ) -> dict[str, Any]:
        reg = self.ex.register(
            path,
            owner=owner or self.party.id,
            title=title,
            license=license,
            rights=rights if rights is not None else list(_DEFAULT_RIGHTS),
            actor=self.party.id,
            source_name=path.name,
            acting=self.party,
        )
        d = reg.dataset
        return {"id": d.id, "digest": d.digest, "rows": d.rows, "created": reg.created}

    def quality(self, dataset_id: str) -> dict[str, Any]:
        from dataex.quality import get_report

        out: dict[str, Any] = plain(get_report(self.ex, dataset_id, viewer=self.party))
        return out

    def set_privacy(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        from dataex.privacy.dp import set_privacy

        bounds = {k: (float(v[0]), float(v[1])) for k, v in body.get("bounds", {}).items()}
        out: dict[str, Any] = plain(
            set_privacy(self.ex, dataset_id, actor=self.party, **{**body, "bounds": bounds})
        )
        return out

    # -- offers and contracts ---------------------------------------------------------------------------
    def list_offers(self, *, dataset_id: str | None) -> list[dict[str, Any]]:
        from dataex.contracts.offers import list_offers

        out: list[dict[str, Any]] = plain(list_offers(self.ex, viewer=self.party, dataset_id=dataset_id))
        return out

    def create_offer(self, body: dict[str, Any]) -> dict[str, Any]:
        from dataex.contracts.offers import create_offer

        options = {k: v for k, v in body.items() if k != "dataset_id"}
        if options.get("duties") is None:
            options.pop("duties", None)
        out: dict[str, Any] = plain(create_offer(self.ex, body["dataset_id"], actor=self.party, **options))
        return out

    def request_contract(self, offer_id: str, *, purpose: str, note: str) -> dict[str, Any]:
        from dataex.contracts import lifecycle

        out: dict[str, Any] = plain(
            lifecycle.request_contract(self.ex, offer_id, actor=self.party, purpose=purpose, note=note)
        )
        return out

    def get_contract(self, contract_id: str) -> dict[str, Any]:
        from dataex.contracts import lifecycle

        out: dict[str, Any] = plain(lifecycle.get_contract(self.ex, contract_id, actor=self.party))
        return out

    def list_contracts(self, *, dataset_id: str | None) -> list[dict[str, Any]]:
        from dataex.contracts import lifecycle

        out: list[dict[str, Any]] = plain(
            lifecycle.list_contracts(self.ex, actor=self.party, dataset_id=dataset_id)
        )
        return out

    def decide(self, contract_id: str, event: str, *, reason: str | None) -> dict[str, Any]:
        from dataex.contracts import lifecycle

        step = {
            "approve": lifecycle.approve_contract,
            "reject": lifecycle.reject_contract,
            "revoke": lifecycle.revoke_contract,
        }[event]
        out: dict[str, Any] = plain(step(self.ex, contract_id, actor=self.party, reason=reason))
        return out

    # -- data -------------------------------------------------------------------------------------------
    def query(self, contract_id: str, *, sql: str, epsilon: float) -> dict[str, Any]:
        from dataex.privacy.dp import query

        out: dict[str, Any] = plain(query(self.ex, contract_id, sql, epsilon=epsilon, actor=self.party))
        return out

    def extract(self, contract_id: str) -> pa.Table:
        import pyarrow.parquet as pq

        from dataex.delivery.extracts import extract

        with tempfile.TemporaryDirectory(prefix="dataex-extract-") as tmp:
            out = Path(tmp) / f"{contract_id}.parquet"
            extract(self.ex, contract_id, actor=self.party, out=out, format="parquet")
            return pq.read_table(out)


def _public_dataset(d: Any) -> dict[str, Any]:
    """What ``DatasetPublic`` shows of a dataset (the certificate has its own route)."""
    out: dict[str, Any] = plain(d)
    out.pop("certificate", None)
    return out


def _operator(ex: Exchange) -> Party:
    for party in ex.list_parties():
        if party.is_operator:
            return party
    from dataex.errors import IntegrityError

    raise IntegrityError(f"the node at {ex.settings.home} has no operator party")  # pragma: no cover
