"""``dataex classify``: show, compute or override a dataset's personal-information classification;
and how a dataset's lifetime ε account is printed (``dataex privacy show`` / ``privacy set``)."""

from __future__ import annotations

from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, out_console, table
from dataex.contracts import budget
from dataex.errors import InvalidInput
from dataex.privacy import classify as service


def classify(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    set_: Annotated[
        str | None, typer.Option("--set", metavar="FIELD=TYPE", help="Override one field's type")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why the override is right (required with --set)")] = "",
    refresh: Annotated[bool, typer.Option("--refresh", help="Recompute even if already classified")] = False,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Per field: detected type, confidence, category and grade; the dataset's grade. Never values."""
    with handled(as_json), open_node(home) as ex:
        party = acting(ex, token)
        actor = party.id if party is not None else service.OPERATOR
        if set_ is not None:
            field, eq, kind = set_.partition("=")
            if not eq or not field.strip() or not kind.strip():
                raise InvalidInput(f"--set takes FIELD=TYPE, e.g. id_no=cn_resident_id; got {set_!r}")
            result = service.override(ex, dataset_id, field.strip(), kind.strip(), reason=reason, actor=actor)
        elif refresh or (found := service.find_classification(ex, dataset_id, viewer=party)) is None:
            result = service.classify_dataset(ex, dataset_id, actor=actor)
        else:
            result = found
    out = {"id": dataset_id, **result.to_dict(), "minors": result.minors, "overrides": result.overrides}
    if as_json:
        emit_json(out)
        return
    kv(f"classification of {dataset_id}", {"grade": result.grade, "minors under 14": result.minors})
    table(
        "fields",
        ["name", "type", "confidence", "category", "grade", "note"],
        [[f["name"], f["type"], f["confidence"], f["category"], f["grade"], _note(f)] for f in result.fields],
    )
    if set_ is not None:
        out_console.print("override stored and logged")


def _note(field: dict[str, object]) -> str:
    spans = field.get("spans")
    if isinstance(spans, dict):
        return ", ".join(f"{k}: {v}" for k, v in spans.items())
    return str(field.get("note") or "")


def show_account(account: budget.Account) -> None:
    """A dataset's lifetime ε account, as `dataex privacy show` and `privacy set` print it."""
    per_party = account.epsilon_cap_per_party
    kv(
        f"privacy account of {account.dataset_id}",
        {
            "ε cap (all consumers)": f"{account.epsilon_cap:g} (set by the {account.epsilon_cap_source})",
            "ε cap per party": "none (the total applies)"
            if per_party is None
            else f"{per_party:g} (set by the {account.epsilon_cap_per_party_source})",
            "ε spent": f"{account.epsilon_spent:g}",
            "ε remaining": f"{account.epsilon_remaining:g}",
        },
    )
    if account.parties:
        table(
            "ε spent by party",
            ["party", "ε spent", "ε remaining"],
            [
                [p["party_id"], f"{p['epsilon_spent']:g}", _left(p["epsilon_remaining"])]
                for p in account.parties
            ],
        )
    if account.sources:
        table(
            "accounts of the data it derives from",
            ["dataset", "ε cap", "ε spent", "ε remaining"],
            [
                [
                    a["dataset_id"],
                    *(f"{a[k]:g}" for k in ("epsilon_cap", "epsilon_spent", "epsilon_remaining")),
                ]
                for a in account.sources
            ],
        )


def _left(value: object) -> str:
    return "–" if value is None else f"{value:g}"


def register_commands(app: typer.Typer) -> None:
    """Adds ``classify`` to the ``dataex`` application."""
    app.command("classify")(classify)
