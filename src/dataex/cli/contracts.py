"""``dataex offer …`` and ``dataex contract …``: parse, call one dataex.contracts service, render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from dataex.cli.common import OPERATOR, As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, table, to_jsonable
from dataex.contracts import lifecycle
from dataex.contracts.lifecycle import Contract
from dataex.contracts.offers import create_offer, list_offers

Reason = Annotated[str | None, typer.Option(help="Why (recorded in the log)")]

offer_app = typer.Typer(help="Offers of datasets at access tiers.", no_args_is_help=True)
contract_app = typer.Typer(help="Contracts under offers.", no_args_is_help=True)


def register_commands(app: typer.Typer) -> None:
    """Adds ``offer create|list`` and ``contract request|approve|reject|revoke|show|odrl`` to ``app``."""
    app.add_typer(offer_app, name="offer")
    app.add_typer(contract_app, name="contract")


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@offer_app.command("create")
def offer_create(
    dataset: str,
    tier: Annotated[str, typer.Option(help="L0, L1 (DP), L2 (compute), L3 (de-identified), L4 (full)")],
    purpose: Annotated[str, typer.Option(help="Allowed purposes, comma-separated")],
    expires: Annotated[str | None, typer.Option(help="YYYY-MM-DD (end of day, UTC)")] = None,
    price: Annotated[
        str,
        typer.Option(
            help="fen (2000), yuan per unit (0.02/row, 5/epsilon, 5/job), "
            "or a per-ε schedule of ε=fen points: schedule:0.5=1000,1=1800,2=3400"
        ),
    ] = "0",
    epsilon: Annotated[float | None, typer.Option(help="ε budget (L1)")] = None,
    delta: Annotated[float | None, typer.Option(help="δ budget (L1)")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Rows that may leave (L3/L4)")] = None,
    max_queries: Annotated[int | None, typer.Option(help="Queries or jobs (L1/L2)")] = None,
    prohibit: Annotated[str | None, typer.Option(help="redistribution,reidentification,linking")] = None,
    approval: Annotated[str, typer.Option(help="manual or auto")] = "manual",
    legal_basis: Annotated[str | None, typer.Option(help="e.g. consent (some L3/L4 offers)")] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Offer a dataset you own at one access tier."""
    with handled(as_json), open_node(home) as ex:
        offer = create_offer(
            ex,
            dataset,
            actor=acting(ex, token, otherwise=OPERATOR),
            tier=tier,
            purposes=_csv(purpose),
            expires=expires,
            price=int(price) if price.isdigit() else price,
            epsilon=epsilon,
            delta=delta,
            max_rows=max_rows,
            max_queries=max_queries,
            prohibitions=_csv(prohibit),
            approval=approval,
            legal_basis=legal_basis,
        )
    if as_json:
        emit_json(offer)
    else:
        kv("offer created", {k: v for k, v in to_jsonable(offer).items() if k != "policy"})


@offer_app.command("list")
def offer_list(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset's offers")] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """List offers (catalog information)."""
    with handled(as_json), open_node(home) as ex:
        offers = list_offers(ex, dataset_id=dataset)
    if as_json:
        emit_json(offers)
    else:
        rows = [[o.id, o.dataset_id, o.tier, ",".join(o.purposes), o.price, o.approval] for o in offers]
        table("offers", ["id", "dataset", "tier", "purposes", "price", "approval"], rows)


@contract_app.command("request")
def contract_request(
    offer: str,
    purpose: Annotated[str, typer.Option(help="One of the offer's purposes")],
    note: Annotated[str, typer.Option(help="A note to the provider")] = "",
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Request a contract under an offer."""
    with handled(as_json), open_node(home) as ex:
        contract = lifecycle.request_contract(
            ex, offer, actor=acting(ex, token, otherwise=OPERATOR), purpose=purpose, note=note
        )
    _render(contract, as_json, "contract requested")


@contract_app.command("approve")
def contract_approve(
    contract: str, reason: Reason = None, token: As = None, home: Home = None, as_json: Json = False
) -> None:
    """Approve a contract."""
    _decide(lifecycle.approve_contract, contract, reason=reason, token=token, home=home, as_json=as_json)


@contract_app.command("reject")
def contract_reject(
    contract: str, reason: Reason = None, token: As = None, home: Home = None, as_json: Json = False
) -> None:
    """Reject a contract."""
    _decide(lifecycle.reject_contract, contract, reason=reason, token=token, home=home, as_json=as_json)


@contract_app.command("revoke")
def contract_revoke(
    contract: str, reason: Reason = None, token: As = None, home: Home = None, as_json: Json = False
) -> None:
    """Revoke a contract."""
    _decide(lifecycle.revoke_contract, contract, reason=reason, token=token, home=home, as_json=as_json)


def _decide(
    service: Callable[..., Contract],
    contract: str,
    *,
    reason: str | None,
    token: str | None,
    home: Path | None,
    as_json: bool,
) -> None:
    with handled(as_json), open_node(home) as ex:
        result = service(ex, contract, actor=acting(ex, token, otherwise=OPERATOR), reason=reason)
    _render(result, as_json, f"contract {result.state}")


@contract_app.command("show")
def contract_show(contract: str, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Show a contract: state, remaining budget, rows and queries, the ODRL agreement."""
    with handled(as_json), open_node(home) as ex:
        result = lifecycle.get_contract(ex, contract, actor=acting(ex, token, otherwise=OPERATOR))
    _render(result, as_json, f"contract {result.id}")


@contract_app.command("odrl")
def contract_odrl(contract: str, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Print the contract's W3C ODRL 2.2 Agreement (JSON-LD)."""
    with handled(as_json), open_node(home) as ex:
        doc = lifecycle.contract_odrl(ex, contract, actor=acting(ex, token, otherwise=OPERATOR))
    emit_json(doc)


def _render(contract: Contract, as_json: bool, title: str) -> None:
    if as_json:
        emit_json(contract)
    else:
        kv(title, {k: v for k, v in to_jsonable(contract).items() if k != "agreement"})
