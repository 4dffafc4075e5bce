"""``dataex wallet|product|value|ledger``: parse, call one dataex.market service, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataex.cli.common import OPERATOR, As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, report, table, to_jsonable
from dataex.market import products, settlement, valuation

wallet_app = typer.Typer(help="Prepaid wallets, in fen (1 yuan = 100 fen).", no_args_is_help=True)
product_app = typer.Typer(help="Joint data products and their revenue split.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry settlement ledger.", no_args_is_help=True)


def register_commands(app: typer.Typer) -> None:
    """Adds ``wallet deposit|show``, ``product create|show|buy``, ``value``, ``ledger show|verify|fee``."""
    app.add_typer(wallet_app, name="wallet")
    app.add_typer(product_app, name="product")
    app.command("value")(value)
    app.add_typer(ledger_app, name="ledger")


@wallet_app.command("deposit")
def wallet_deposit(
    party: str, amount: str, token: As = None, home: Home = None, as_json: Json = False
) -> None:
    """Credit AMOUNT fen to a party's wallet (operator)."""
    with handled(as_json), open_node(home) as ex:
        out = settlement.deposit(ex, party, amount, actor=acting(ex, token, otherwise=OPERATOR))
    emit_json(out) if as_json else kv("deposit", out)


@wallet_app.command("show")
def wallet_show(
    party: Annotated[str | None, typer.Argument(help="Party id [default: the acting party]")] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Show a wallet: balances (wallet, revenue, due) and orders."""
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token, otherwise=OPERATOR)
        out = settlement.wallet_view(ex, party or actor.id, actor=actor)
    emit_json(out) if as_json else kv(f"wallet {out['id']}", out["balances"])


@product_app.command("create")
def product_create(
    title: Annotated[str, typer.Option(help="The product's title")],
    dataset: Annotated[list[str], typer.Option(help="A member dataset (repeat)")],
    split: Annotated[str, typer.Option(help="equal, rows or shapley")] = "rows",
    price: Annotated[int, typer.Option(help="Price in fen")] = 0,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Create a joint product from datasets of one schema."""
    with handled(as_json), open_node(home) as ex:
        out = products.create_product(
            ex,
            title=title,
            dataset_ids=dataset,
            split=split,
            price_fen=price,
            actor=acting(ex, token, otherwise=OPERATOR),
        )
    emit_json(out) if as_json else kv("product created", to_jsonable(out))


@product_app.command("show")
def product_show(
    product: Annotated[str | None, typer.Argument(help="Product id [default: list all]")] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Show a product (members, duplicates, split) or list products."""
    with handled(as_json), open_node(home) as ex:
        if product is None:
            listed = products.list_products(ex)
            if as_json:
                emit_json(listed)
            else:
                table(
                    "products",
                    ["id", "title", "split", "price"],
                    [[p.id, p.title, p.split, p.price_fen] for p in listed],
                )
            return
        out = products.get_product(ex, product)
    emit_json(out) if as_json else kv(f"product {out.id}", to_jsonable(out))


@product_app.command("buy")
def product_buy(product: str, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Pay a product's price from your wallet; its providers share the revenue."""
    with handled(as_json), open_node(home) as ex:
        out = products.buy_product(ex, product, actor=acting(ex, token, otherwise=OPERATOR))
    emit_json(out) if as_json else kv("product bought", out)


def value(
    target_id: Annotated[str, typer.Argument(metavar="DATASET_OR_PRODUCT")],
    target: Annotated[str, typer.Option(help="The label column")],
    validation: Annotated[Path, typer.Option(help="Validation set (.parquet or .csv)")],
    method: Annotated[str, typer.Option(help="knn-shapley, loo or tmc-shapley")] = "knn-shapley",
    k: Annotated[int, typer.Option(help="Neighbours (K)")] = 10,
    feature: Annotated[
        list[str] | None, typer.Option(help="A feature column (repeat) [default: numeric]")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write your rows with a `value` column (.csv/.parquet)")
    ] = None,
    permutations: Annotated[int, typer.Option(help="Permutations (tmc-shapley)")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the permutations (tmc-shapley)")] = 0,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Value a dataset's or product's rows on a validation set (per-row values to owners only)."""
    with handled(as_json), open_node(home) as ex:
        result = valuation.value(
            ex,
            target_id,
            target=target,
            validation=validation,
            method=method,
            k=k,
            features=feature or None,
            actor=acting(ex, token, otherwise=OPERATOR),
            out=out,
            permutations=permutations,
            seed=seed,
        )
    summary = {k_: v for k_, v in to_jsonable(result).items() if k_ != "rows"}
    emit_json(summary) if as_json else kv(f"valuation {result.id}", summary)


@ledger_app.command("show")
def ledger_show(
    party: Annotated[str | None, typer.Option(help="Only this party's accounts and postings")] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Show accounts and postings (a party sees its own; operator and auditors see all)."""
    with handled(as_json), open_node(home) as ex:
        out = settlement.ledger_statement(ex, actor=acting(ex, token, otherwise=OPERATOR), party_id=party)
    if as_json:
        emit_json(out)
    else:
        table("accounts", ["account", "balance (fen)"], [[a, b] for a, b in out["accounts"].items()])


@ledger_app.command("verify")
def ledger_verify(home: Home = None, as_json: Json = False) -> None:
    """Check every ledger invariant and tie each posting to its log entry."""
    with handled(as_json), open_node(home) as ex:
        out = settlement.verify_ledger(ex)
    report(out, as_json=as_json, what="ledger")


@ledger_app.command("fee")
def ledger_fee(bps: int, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Set the exchange's fee rate in basis points (operator)."""
    with handled(as_json), open_node(home) as ex:
        out = settlement.set_fee(ex, bps, actor=acting(ex, token, otherwise=OPERATOR))
    emit_json(out) if as_json else kv("fee", out)
