"""``dataex privacy set`` and ``dataex query``: parse, call one dataex.privacy.dp service, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, out_console, table
from dataex.cli.privacy import show_account
from dataex.contracts import budget
from dataex.errors import InputFileNotFound, InvalidInput, Unauthorized
from dataex.privacy.dp import query as dp_query
from dataex.privacy.dp import set_privacy


def parse_bounds(items: list[str]) -> dict[str, tuple[float, float]]:
    """``col=lo:hi`` items as a dict."""
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        column, eq, pair = item.partition("=")
        lo, colon, hi = pair.partition(":")
        try:
            if not (eq and colon and column.strip()):
                raise ValueError(item)
            out[column.strip()] = (float(lo), float(hi))
        except ValueError as e:
            raise InvalidInput(f"--bounds takes COLUMN=LO:HI, e.g. cost=0:20000; got {item!r}") from e
    return out


def parse_domains(items: list[str]) -> dict[str, list[str]]:
    """``col=a,b,c`` or ``col=@file.txt`` (one value a line) items as a dict."""
    out: dict[str, list[str]] = {}
    for item in items:
        column, eq, spec = item.partition("=")
        if not eq or not column.strip() or not spec:
            raise InvalidInput(f"--domain takes COLUMN=a,b,c or COLUMN=@file.txt; got {item!r}")
        if spec.startswith("@"):
            path = Path(spec[1:])
            if not path.is_file():
                raise InputFileNotFound(f"domain file {path} does not exist or is not a file")
            values = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        else:
            values = [v.strip() for v in spec.split(",")]
        out[column.strip()] = [v for v in values if v]
    return out


privacy_app = typer.Typer(
    help="Privacy metadata for differentially private SQL, and the dataset's lifetime ε account.",
    no_args_is_help=True,
)


def register_commands(app: typer.Typer) -> None:
    """Adds ``privacy set`` and ``query`` to the ``dataex`` application."""
    app.add_typer(privacy_app, name="privacy")
    app.command("query")(query_command)


@privacy_app.command("set")
def privacy_set(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    unit: Annotated[str | None, typer.Option(help="Privacy unit column, or 'row'")] = None,
    max_contributions: Annotated[int, typer.Option(help="Rows a unit may contribute to a query")] = 1,
    bounds: Annotated[
        list[str] | None, typer.Option("--bounds", metavar="COL=LO:HI", help="Clipping bounds (repeat)")
    ] = None,
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", metavar="COL=a,b|@file", help="Public GROUP BY keys (repeat)"),
    ] = None,
    key_threshold: Annotated[
        int | None,
        typer.Option(help="Allow GROUP BY without a domain: keys pass a noisy threshold >= this"),
    ] = None,
    not_null: Annotated[
        list[str] | None,
        typer.Option(
            "--not-null",
            metavar="COL",
            help="A bounded column with no missing values: AVG over it shares COUNT(*) (repeat)",
        ),
    ] = None,
    epsilon_cap: Annotated[
        str | None,
        typer.Option(help="Lifetime ε cap of the dataset: all consumers together, every contract"),
    ] = None,
    epsilon_cap_per_party: Annotated[
        str | None, typer.Option(help="Lifetime ε cap of each party on the dataset, across its contracts")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Declare a dataset's privacy unit, contribution bound, clipping bounds and public domains,
    and/or its lifetime ε account's caps (--epsilon-cap, --epsilon-cap-per-party)."""
    caps = epsilon_cap is not None or epsilon_cap_per_party is not None
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token, otherwise=Unauthorized("act as the dataset's owner: --as TOKEN"))
        if unit is None and not caps:
            raise InvalidInput("give --unit (DP metadata) and/or --epsilon-cap / --epsilon-cap-per-party")
        if unit is None and (bounds or domain or not_null or key_threshold is not None):
            raise InvalidInput("--bounds, --domain, --key-threshold and --not-null need --unit")
        for cap, name in ((epsilon_cap, "--epsilon-cap"), (epsilon_cap_per_party, "--epsilon-cap-per-party")):
            if cap is not None:
                budget.cap_units(cap, name)  # refused before anything is stored
        result = None
        if unit is not None:
            result = set_privacy(
                ex,
                dataset,
                actor=actor,
                unit=unit,
                max_contributions=max_contributions,
                bounds=parse_bounds(bounds or []),
                domains=parse_domains(domain or []),
                key_threshold=key_threshold,
                not_null=not_null or [],
            )
        account = None
        if caps:
            account = budget.set_account(
                ex, dataset, actor=actor, epsilon_cap=epsilon_cap, epsilon_cap_per_party=epsilon_cap_per_party
            )
    out: dict[str, object] = {"id": dataset}
    if result is not None:
        out |= {**result.to_dict(), "log_index": result.log_index}
    if account is not None:
        out["account"] = account.to_dict()
    if as_json:
        emit_json(out)
        return
    if result is not None:
        shown = {k: v for k, v in out.items() if k != "account"}
        kv("privacy metadata set", {**shown, "domains": {k: len(v) for k, v in result.domains.items()}})
    if account is not None:
        show_account(account)


@privacy_app.command("show")
def privacy_show(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """The dataset's lifetime ε account: caps, ε spent in total and by each party (owner or operator)."""
    with handled(as_json), open_node(home) as ex:
        account = budget.get_account(ex, dataset, viewer=acting(ex, token))
    if as_json:
        emit_json(account.to_dict())
        return
    show_account(account)


@privacy_app.command("defaults")
def privacy_defaults(
    epsilon_cap: Annotated[
        str, typer.Option(help="Default lifetime ε cap of a dataset whose owner set none")
    ],
    epsilon_cap_per_party: Annotated[
        str | None, typer.Option(help="Default per-party cap (omit: none, the total applies)")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Set the node's default lifetime ε caps of datasets (operator)."""
    with handled(as_json), open_node(home) as ex:
        out = budget.set_defaults(
            ex,
            actor=acting(ex, token, otherwise="operator"),
            epsilon_cap=epsilon_cap,
            epsilon_cap_per_party=epsilon_cap_per_party,
        )
    if as_json:
        emit_json(out)
    else:
        kv("node default ε caps set", out)


def query_command(
    contract: Annotated[str, typer.Argument(metavar="CONTRACT", help="Contract id (ctr_…)")],
    sql: Annotated[str, typer.Argument(metavar="SQL", help="One aggregate SELECT over the dataset")],
    epsilon: Annotated[float, typer.Option(help="ε to spend on this query")] = 0.0,
    engine: Annotated[str | None, typer.Option(help="duckdb (default) or spark")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show the plan; charges nothing")] = False,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Ask a differentially private SQL question under an L1 contract."""
    with handled(as_json), open_node(home) as ex:
        answer = dp_query(
            ex,
            contract,
            sql,
            epsilon=epsilon,
            actor=acting(ex, token, otherwise=Unauthorized("act as the contract's consumer: --as TOKEN")),
            engine=engine,
            explain=explain,
        )
    if as_json:
        emit_json(answer.to_dict())
        return
    if answer.explain is not None:
        kv("plan (nothing charged)", {k: v for k, v in answer.explain.items() if k != "measurements"})
        table(
            "measurements",
            ["name", "statistic", "column", "ε", "sensitivity", "noise scale", "95% ±"],
            [
                [
                    m["name"],
                    m["statistic"],
                    m["column"],
                    m["epsilon"],
                    m["sensitivity"],
                    m.get("laplace_scale", m.get("gumbel_scale")),
                    m.get("ci95_half_width", ""),
                ]
                for m in answer.explain["measurements"]
            ],
        )
        return
    rows = [
        [*(r[c] for c in answer.columns), *(str(i.get(c) or "") for c in answer.columns if c in i)]
        for r, i in zip(answer.rows, answer.intervals, strict=True)
    ]
    noisy = [c for c in answer.columns if answer.intervals and c in answer.intervals[0]]
    table("answer", [*answer.columns, *(f"{c} 95%" for c in noisy)], rows)
    out_console.print(
        f"ε charged {answer.epsilon_charged:g}, remaining {answer.epsilon_remaining}"
        + (" (cached answer)" if answer.cached else "")
    )
