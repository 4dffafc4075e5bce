"""``dataex extract``, ``dataex trace``, ``dataex contract profile``, ``dataex fingerprint set``.

Parse, call one dataex.delivery service, render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.contracts import contract_app
from dataex.cli.output import emit_json, handled, kv, out_console, table, to_jsonable
from dataex.errors import Unauthorized

fingerprint_app = typer.Typer(help="Fingerprint settings of datasets.", no_args_is_help=True)


def _needs_party() -> Unauthorized:
    """The refusal when a delivery command runs without ``--as``."""
    return Unauthorized("this command acts as a party: give --as TOKEN (or $DATAEX_TOKEN)")


def register_commands(app: typer.Typer) -> None:
    """Adds ``extract``, ``trace`` and ``fingerprint set`` to ``app``.

    ``contract profile`` joins dataex.cli.contracts' ``contract`` group, which that module's
    ``register_commands`` adds to ``app``.
    """
    app.command("extract")(extract_cmd)
    app.command("trace")(trace_cmd)
    app.add_typer(fingerprint_app, name="fingerprint")


def extract_cmd(
    contract: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the extract")],
    format: Annotated[str, typer.Option("--format", help="parquet, csv or xlsx")] = "parquet",
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Extract a contract's rows (L3/L4), fingerprinted for the contract; rows are charged."""
    from dataex.delivery.extracts import extract

    with handled(as_json), open_node(home) as ex:
        result = extract(
            ex, contract, actor=acting(ex, token, otherwise=_needs_party()), out=out, format=format
        )
    if as_json:
        emit_json(result)
    else:
        kv("extract delivered", to_jsonable(result))


def trace_cmd(file: Path, home: Home = None, as_json: Json = False) -> None:
    """Trace a leaked file back to the contract it was delivered under (or "no match")."""
    from dataex.delivery.trace import trace

    with handled(as_json), open_node(home) as ex:
        result = trace(ex, file)
    if as_json:
        emit_json(result)
        return
    if result.status == "no_match":
        out_console.print(f"no match: {result.reason}")
        return
    rows = [
        [a.contract_id, a.consumer_id, a.scheme, f"{a.score:.1f}", f"{a.false_accusation_bound:.3g}"]
        for a in result.matches
    ]
    table(
        f"traced to dataset {result.dataset_id}",
        ["contract", "consumer", "scheme", "score", "false accusation ≤"],
        rows,
    )


@contract_app.command("profile")
def contract_profile(
    contract: str,
    endpoint: Annotated[str, typer.Option(help="The node's Delta Sharing endpoint as consumers reach it")] = (
        "http://127.0.0.1:8000/delta-sharing"
    ),
    token: As = None,
    home: Home = None,
) -> None:
    """Print a Delta Sharing profile for the contract (a new bearer token; the old one stops working)."""
    from dataex.delivery.sharing import issue_profile

    with handled(False), open_node(home) as ex:
        profile = issue_profile(
            ex, contract, actor=acting(ex, token, otherwise=_needs_party()), endpoint=endpoint
        )
    out_console.print(json.dumps(profile, indent=2), highlight=False, markup=False)


@fingerprint_app.command("set")
def fingerprint_set(
    dataset: str,
    tolerate: Annotated[
        list[str], typer.Option("--tolerate", help="COLUMN=UNITS of its last digit, e.g. cost=1")
    ],
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Declare the columns (and amounts) fingerprint marks may change in a dataset you own."""
    from dataex.delivery.tolerances import parse_spec, set_tolerances

    with handled(as_json), open_node(home) as ex:
        result = set_tolerances(
            ex, dataset, parse_spec(tolerate), actor=acting(ex, token, otherwise=_needs_party())
        )
    declared = {t.column: t.to_dict() for t in result}
    if as_json:
        emit_json({"id": dataset, "tolerances": declared})
    else:
        kv(f"fingerprint tolerances of {dataset}", dict(declared))
