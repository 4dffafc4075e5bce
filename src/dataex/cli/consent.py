"""``dataex consent withdraw`` and ``dataex notices``: parse, call dataex.contracts.consent, render."""

from __future__ import annotations

from typing import Annotated

import typer

from dataex.cli.common import As, Home, Json, acting, open_node
from dataex.cli.output import emit_json, handled, kv, table
from dataex.contracts.consent import list_notices, notice_record, withdraw_consent
from dataex.errors import Unauthorized

consent_app = typer.Typer(help="Data subjects' consent (PIPL).", no_args_is_help=True)


@consent_app.command("withdraw")
def withdraw(
    dataset: Annotated[str, typer.Option(help="Dataset id (the withdrawal also covers derived datasets)")],
    subject_key: Annotated[str, typer.Option(help="Value of the subject-key column, e.g. the patient id")],
    column: Annotated[
        str | None, typer.Option(help="Subject-key column [default: the DP privacy unit]")
    ] = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Record a subject's withdrawal; their rows leave every future access; consumers are notified."""
    with handled(as_json), open_node(home) as ex:
        w = withdraw_consent(ex, dataset, subject_key, column=column, actor=acting(ex, token))
    out = {
        "id": w.id,
        "dataset_id": w.dataset_id,
        "column": w.column,
        "subject_hash": w.subject_hash,
        "datasets": w.datasets,
        "notices": w.notices,
        "created": w.created,
        "unreached": w.unreached,
    }
    if as_json:
        emit_json(out)
    else:
        kv("consent withdrawn" if w.created else "already withdrawn", out)


def notices(token: As = None, home: Home = None, as_json: Json = False) -> None:
    """Notices to the acting party, e.g. to delete a withdrawn subject's records."""
    with handled(as_json), open_node(home) as ex:
        party = acting(ex, token, otherwise=Unauthorized("notices belong to a party: pass --as TOKEN"))
        items = [notice_record(n) for n in list_notices(ex, actor=party)]
    if as_json:
        emit_json(items)
    else:
        table(
            "notices",
            ["id", "contract", "kind", "message"],
            [[n["id"], n["contract_id"], n["kind"], n["message"]] for n in items],
        )


def register_commands(app: typer.Typer) -> None:
    """Adds ``consent withdraw`` and ``notices``."""
    app.add_typer(consent_app, name="consent")
    app.command("notices")(notices)
