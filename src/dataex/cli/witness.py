"""``dataex witness``: cosign other nodes' checkpoints, and have this node's log cosigned.

Run by whoever holds the home (the operator). See docs/log.md, "Witnessing".
"""

from __future__ import annotations

from typing import Annotated

import typer

from dataex import witness as service
from dataex.cli.common import Home, Json, open_node
from dataex.cli.output import emit_json, handled, kv, table

witness_app = typer.Typer(
    help="Witnessing (C2SP tlog-witness): cosign other logs' checkpoints; have this log cosigned.",
    no_args_is_help=True,
)


@witness_app.command("key")
def key(home: Home = None, as_json: Json = False) -> None:
    """This node's verifier keys: the log's (checkpoints, type 0x01) and the cosigner's (type 0x04)."""
    with handled(as_json), open_node(home) as ex:
        out = {"log_vkey": service.log_vkey(ex), "cosigner_vkey": service.cosigner_vkey(ex)}
    if as_json:
        emit_json(out)
    else:
        kv("verifier keys", out)


@witness_app.command("trust")
def trust(
    vkey: Annotated[str, typer.Argument(metavar="LOG_VKEY", help="The log's note verifier key")],
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Witness another log: cosign its checkpoints when they extend the ones cosigned before."""
    with handled(as_json), open_node(home) as ex:
        out = service.trust_log(ex, vkey)
    if as_json:
        emit_json(out)
    else:
        kv(f"witnessing {out['origin']}", out)


@witness_app.command("logs")
def logs(home: Home = None, as_json: Json = False) -> None:
    """The logs this node witnesses, with the size it last cosigned."""
    with handled(as_json), open_node(home) as ex:
        rows = service.witnessed_logs(ex)
    if as_json:
        emit_json(rows)
    else:
        table("witnessed logs", ["origin", "size"], [[r["origin"], r["size"]] for r in rows])


@witness_app.command("add")
def add(
    vkey: Annotated[str, typer.Argument(metavar="COSIGNER_VKEY", help="The witness's cosigner key")],
    url: Annotated[str, typer.Option(help="The witness's URL prefix (…/witness on a dataex node)")],
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Pin a witness of this node's log (the only address `cosign` contacts for it)."""
    with handled(as_json), open_node(home) as ex:
        out = service.add_witness(ex, vkey, url)
    if as_json:
        emit_json(out)
    else:
        kv(f"witness {out['name']}", out)


@witness_app.command("list")
def list_(home: Home = None, as_json: Json = False) -> None:
    """The witnesses of this node's log, with the size each last cosigned."""
    with handled(as_json), open_node(home) as ex:
        rows = service.witnesses(ex)
    if as_json:
        emit_json(rows)
    else:
        table(
            "witnesses",
            ["name", "url", "cosigned size"],
            [[r["name"], r["url"], r["cosigned_size"]] for r in rows],
        )


@witness_app.command("cosign")
def cosign(home: Home = None, as_json: Json = False) -> None:
    """Ask every pinned witness to cosign the latest checkpoint; exit 1 if any refused."""
    with handled(as_json), open_node(home) as ex:
        results = service.cosign(ex)
    if as_json:
        emit_json(results)
    else:
        table(
            "cosignatures",
            ["witness", "size", "ok", "error"],
            [[r["witness"], r["size"], r["ok"], r.get("error")] for r in results],
        )
    if any(not r["ok"] for r in results):
        raise typer.Exit(1)


def register_commands(app: typer.Typer) -> None:
    app.add_typer(witness_app, name="witness")
