"""The SDK's objects: datasets, offers, contracts, quality reports, each rendered in notebooks.

Every object is built from the JSON-shaped values a transport returns and keeps its client, so
``ds.quality()``, ``ds.offers`` and ``contract.query(...)`` go through the same transport.

DP answers come back as a pandas DataFrame: one row per group, the released columns in the order of
the query, and for every column X that carries a 95% noise interval two more columns, ``X_ci_low``
and ``X_ci_high`` (group keys have none). ``df.attrs`` holds ``epsilon_charged``,
``epsilon_remaining``, ``cached``, ``query_hash``, ``contract_id``, ``dataset_id`` and ``notes``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, Literal, Protocol

from dataex.errors import ContractNotApproved, WaitTimeout

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from dataex.sdk.transport import Transport


class HasTransport(Protocol):
    """What an object needs of the :class:`dataex.sdk.client.Client` that built it: its transport."""

    @property
    def transport(self) -> Transport: ...


FINAL_STATES = frozenset({"rejected", "expired", "revoked", "exhausted"})
USABLE_STATES = frozenset({"approved", "active"})
"""``active``: approved, and (for priced offers) paid; both let the consumer use the contract."""
_POLL_FIRST, _POLL_MAX = 0.05, 5.0


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _rows_html(title: str, values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in values.items()
    )
    return f"<div><strong>{escape(title)}</strong><table>{rows}</table></div>"


@dataclass(frozen=True)
class Offer:
    """One offer of a dataset at one access tier."""

    id: str
    dataset_id: str
    provider_id: str
    tier: str
    purposes: list[str]
    price: dict[str, Any]
    epsilon: float | None
    approval: str
    expires_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Offer:
        return cls(
            id=body["id"],
            dataset_id=body["dataset_id"],
            provider_id=body["provider_id"],
            tier=body["tier"],
            purposes=list(body["purposes"]),
            price=dict(body["price"]),
            epsilon=body.get("epsilon"),
            approval=body["approval"],
            expires_at=_time(body.get("expires_at")),
            raw=body,
        )

    def _repr_html_(self) -> str:
        return _rows_html(
            f"Offer {self.id}",
            {"dataset": self.dataset_id, "tier": self.tier, "purposes": ", ".join(self.purposes),
             "price (fen)": self.price, "ε": self.epsilon, "approval": self.approval},
        )  # fmt: skip


class Dataset:
    """A dataset in the catalog. From ``search`` it also carries ``score`` and ``snippet``."""

    def __init__(self, client: HasTransport, body: dict[str, Any], *, full: bool) -> None:
        self._client = client
        self._body = body
        self._full = full
        self.id: str = body["id"] if "id" in body else body["dataset_id"]
        self.title: str = body["title"]
        self.owner_id: str = body["owner_id"]
        self.license: str = body["license"]
        self.score: float | None = body.get("score")
        self.snippet: str | None = body.get("snippet")

    @classmethod
    def from_json(cls, client: HasTransport, body: dict[str, Any]) -> Dataset:
        return cls(client, body, full=True)

    @classmethod
    def from_hit(cls, client: HasTransport, hit: dict[str, Any]) -> Dataset:
        return cls(client, hit, full=False)

    def __repr__(self) -> str:
        return f"<Dataset {self.id} {self.title!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def _details(self) -> dict[str, Any]:
        if not self._full:
            self._body = {**self._client.transport.get_dataset(self.id), **self._body}
            self._full = True
        return self._body

    @property
    def rows(self) -> int:
        return int(self._details()["rows"])

    @property
    def columns(self) -> list[dict[str, Any]]:
        return list(self._details()["columns"])

    @property
    def digest(self) -> str:
        return str(self._details()["digest"])

    @property
    def registered_at(self) -> datetime | None:
        return _time(self._details().get("registered_at"))

    @property
    def offers(self) -> list[Offer]:
        """The dataset's offers (catalog information: anyone may list them)."""
        return [Offer.from_json(o) for o in self._client.transport.list_offers(dataset_id=self.id)]

    def quality(self) -> QualityReport:
        """The stored quality report (the full view for the owner and the operator, else public)."""
        return QualityReport(self._client.transport.quality(self.id))

    def set_privacy(
        self,
        *,
        unit: str,
        max_contributions: int = 1,
        bounds: dict[str, tuple[float, float]] | None = None,
        domains: dict[str, list[str]] | None = None,
        key_threshold: int | None = None,
    ) -> dict[str, Any]:
        """The owner declares the privacy unit, clipping bounds and key domains DP queries need."""
        body = {
            "unit": unit,
            "max_contributions": max_contributions,
            "bounds": {k: [float(lo), float(hi)] for k, (lo, hi) in (bounds or {}).items()},
            "domains": domains or {},
            "key_threshold": key_threshold,
        }
        return self._client.transport.set_privacy(self.id, body)

    def offer(
        self,
        tier: str,
        *,
        purposes: list[str],
        price: int | str | dict[str, Any] = 0,
        epsilon: float | None = None,
        delta: float | None = None,
        expires: str | None = None,
        approval: Literal["manual", "auto"] = "manual",
        **options: Any,
    ) -> Offer:
        """The owner offers the dataset at ``tier`` (see docs/contracts.md for every option)."""
        body = {
            "dataset_id": self.id,
            "tier": tier,
            "purposes": purposes,
            "price": price,
            "epsilon": epsilon,
            "delta": delta,
            "expires": expires,
            "approval": approval,
            **options,
        }
        return Offer.from_json(self._client.transport.create_offer(body))

    def _repr_html_(self) -> str:
        values: dict[str, Any] = {"title": self.title, "owner": self.owner_id, "license": self.license}
        if self.score is not None:
            values["score"] = round(self.score, 3)
        if self._full:
            values["rows"] = self._body["rows"]
            values["columns"] = ", ".join(str(c.get("name")) for c in self._body["columns"])
        html = _rows_html(f"Dataset {self.id}", values)
        if self.snippet:  # the node escapes the snippet and wraps terms in <mark>
            html += f"<p>{self.snippet}</p>"
        return html


class Contract:
    """A contract between the acting party and a provider, under one offer."""

    def __init__(self, client: HasTransport, body: dict[str, Any]) -> None:
        self._client = client
        self._update(body)

    @classmethod
    def from_json(cls, client: HasTransport, body: dict[str, Any]) -> Contract:
        return cls(client, body)

    def _update(self, body: dict[str, Any]) -> None:
        self.raw = body
        self.id: str = body["id"]
        self.offer_id: str = body["offer_id"]
        self.dataset_id: str = body["dataset_id"]
        self.provider_id: str = body["provider_id"]
        self.consumer_id: str = body["consumer_id"]
        self.tier: str = body["tier"]
        self.purpose: str = body["purpose"]
        self.state: str = body["state"]
        self.reason: str | None = body.get("reason")
        self.remaining: dict[str, Any] = dict(body.get("remaining") or {})
        self.expires_at = _time(body.get("expires_at"))

    def __repr__(self) -> str:
        return f"<Contract {self.id} {self.tier} {self.state}>"

    def refresh(self) -> Contract:
        self._update(self._client.transport.get_contract(self.id))
        return self

    def approve(self, reason: str | None = None) -> Contract:
        """The provider approves (raises ``InvalidTransition`` from a state that does not allow it)."""
        self._update(self._client.transport.decide(self.id, "approve", reason=reason))
        return self

    def reject(self, reason: str | None = None) -> Contract:
        self._update(self._client.transport.decide(self.id, "reject", reason=reason))
        return self

    def revoke(self, reason: str | None = None) -> Contract:
        self._update(self._client.transport.decide(self.id, "revoke", reason=reason))
        return self

    def wait_until_approved(self, timeout: float = 600.0, *, poll: float = _POLL_FIRST) -> Contract:
        """Polls (backing off from ``poll`` up to 5 s) until approved or active; at most ``timeout`` s.

        Raises ``ContractNotApproved`` on a final state (rejected, expired…), ``WaitTimeout`` when the
        time is up.
        """
        deadline = time.monotonic() + timeout
        delay = max(poll, 0.01)
        while True:
            if self.state in USABLE_STATES:
                return self
            if self.state in FINAL_STATES:
                raise ContractNotApproved(
                    f"contract {self.id} is {self.state}, not approved"
                    + (f": {self.reason}" if self.reason else ""),
                    contract_id=self.id,
                    state=self.state,
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(
                    f"contract {self.id} is still {self.state} after {timeout:g} s",
                    contract_id=self.id,
                    state=self.state,
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX)
            self.refresh()

    def query(self, sql: str, epsilon: float) -> pd.DataFrame:
        """A differentially private answer as a DataFrame with ``X_ci_low``/``X_ci_high`` columns."""
        answer = self._client.transport.query(self.id, sql=sql, epsilon=epsilon)
        frame = answer_frame(answer)
        if answer.get("epsilon_remaining") is not None:
            self.remaining["epsilon"] = answer["epsilon_remaining"]
        return frame

    def extract(self, format: Literal["arrow", "pandas"] = "arrow") -> pa.Table | pd.DataFrame:
        """The contract's fingerprinted rows (L3/L4 contracts; every extract is logged)."""
        if format not in ("arrow", "pandas"):
            from dataex.errors import InvalidInput

            raise InvalidInput(f"unknown format {format!r}; use 'arrow' or 'pandas'", format=format)
        table = self._client.transport.extract(self.id)
        return table if format == "arrow" else table.to_pandas()

    def _repr_html_(self) -> str:
        return _rows_html(
            f"Contract {self.id}",
            {"state": self.state, "tier": self.tier, "dataset": self.dataset_id, "purpose": self.purpose,
             "provider": self.provider_id, "consumer": self.consumer_id,
             "remaining": {k: v for k, v in self.remaining.items() if v is not None}},
        )  # fmt: skip


class QualityReport:
    """A dataset's quality report (GB/T 36344 dimensions, grade A–D); ``raw`` is the whole report."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = body
        self.dataset_id: str = body["dataset_id"]
        self.grade: str = body["grade"]
        self.score: float = float(body["score"])
        self.dimensions: dict[str, float] = dict(body["dimensions"])
        self.view: str = body["view"]

    def __repr__(self) -> str:
        return f"<QualityReport {self.dataset_id} grade {self.grade} ({self.score:.1f})>"

    def _repr_html_(self) -> str:
        from dataex.quality.report import render_html

        return render_html(self.raw)


def answer_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """A DP answer (``columns``, ``rows``, ``intervals``) as a DataFrame; see the module docstring."""
    import pandas as pd

    columns: list[str] = list(answer["columns"])
    rows: list[dict[str, Any]] = list(answer["rows"])
    intervals: list[dict[str, Any]] = list(answer["intervals"])
    with_ci = [c for c in columns if any((iv or {}).get(c) is not None for iv in intervals)]
    data: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in columns}
    for c in with_ci:
        spans = [(iv or {}).get(c) for iv in intervals]
        data[f"{c}_ci_low"] = [None if s is None else s[0] for s in spans]
        data[f"{c}_ci_high"] = [None if s is None else s[1] for s in spans]
    order = [x for c in columns for x in ((c, f"{c}_ci_low", f"{c}_ci_high") if c in with_ci else (c,))]
    frame = pd.DataFrame(data, columns=order)
    frame.attrs.update(
        {
            key: answer.get(key)
            for key in (
                "contract_id", "dataset_id", "epsilon_charged", "epsilon_remaining", "cached",
                "query_hash", "notes",
            )
        }
    )  # fmt: skip
    return frame
