"""``dataex``: every command parses its options, calls one Exchange service and renders the result."""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from dataex.cli import remote
from dataex.cli.common import As, Home, Json, acting, open_node, settings
from dataex.cli.output import emit_json, handled, kv, out_console, report, table, to_jsonable
from dataex.errors import InputFileNotFound
from dataex.exchange import Exchange
from dataex.storage.importer import ImportOptions

app = typer.Typer(
    help="dataex: a data element exchange for AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
party_app = typer.Typer(help="Parties: providers, consumers, auditors.", no_args_is_help=True)
datasets_app = typer.Typer(help="Registered datasets.", no_args_is_help=True)
cert_app = typer.Typer(help="Registration certificates (JWS).", no_args_is_help=True)
audit_app = typer.Typer(help="The transparency log: verify, prove, checkpoints.", no_args_is_help=True)
node_app = typer.Typer(help="The node itself.", no_args_is_help=True)
app.add_typer(party_app, name="party")
app.add_typer(datasets_app, name="datasets")
app.add_typer(cert_app, name="cert")
app.add_typer(audit_app, name="audit")
app.add_typer(node_app, name="node")


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", envvar="DATAEX_URL", help="Talk to a remote `dataex serve` instead")
    ] = None,
    token: As = None,
) -> None:
    """dataex: a data element exchange for AI."""
    remote.use_remote(ctx, url, token)


def main() -> None:
    app()


# -- node ----------------------------------------------------------------------------------------
@app.command()
def init(
    home: Home = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db [default: SQLite in the home]"
        ),
    ] = None,
    store: Annotated[str | None, typer.Option(help="Data store directory or fsspec URL")] = None,
    name: Annotated[str, typer.Option(help="Node name")] = "dataex-node",
    as_json: Json = False,
) -> None:
    """Create a node: metadata database, data store, Ed25519 node key (mode 0600), operator token."""
    with handled(as_json):
        ex, token = Exchange.init(settings(home, db_url=db, store_url=store, node_name=name))
        with ex:
            out = {
                "id": ex.node_id,
                "name": ex.name,
                "origin": ex.origin,
                "home": str(ex.settings.home.resolve()),
                "public_key": ex.key.jwk(),
                "operator_token": token,
            }
    if as_json:
        emit_json(out)
    else:
        kv("node created", out)
        out_console.print("The operator token is shown once; keep it to call the HTTP API as the operator.")


@node_app.command("key")
def node_key(home: Home = None, as_json: Json = False) -> None:
    """Print the node's public key as a JWK (also at GET /.well-known/dataex/node-key)."""
    with handled(as_json), open_node(home) as ex:
        emit_json({**ex.key.jwk(), "origin": ex.origin, "node_id": ex.node_id})


@node_app.command("upgrade")
def node_upgrade(home: Home = None, as_json: Json = False) -> None:
    """Bring the node's database to this dataex's newest migration (back the node up first)."""
    with handled(as_json):
        ex, before, after = Exchange.upgrade(settings(home))
        ex.close()
    out = {"from": before, "to": after, "upgraded": before != after}
    if as_json:
        emit_json(out)
    else:
        kv("node database", out)


# -- parties -------------------------------------------------------------------------------------
@party_app.command("add")
def party_add(
    name: str,
    kind: Annotated[
        str,
        typer.Option(help="hospital, enterprise, government, insurer, research, ai_team, individual, other"),
    ] = "other",
    role: Annotated[str, typer.Option(help="provider, consumer, auditor, operator")] = "provider",
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Add a party and print its API token ONCE (the node stores only its hash)."""
    with handled(as_json), open_node(home) as ex:
        party, token = ex.create_party(name, kind=kind, role=role)
    out = {"id": party.id, "name": party.name, "kind": party.kind, "role": party.role, "token": token}
    if as_json:
        emit_json(out)
    else:
        kv("party added", out)
        out_console.print("The token is shown once.")


@party_app.command("list")
def party_list(home: Home = None, as_json: Json = False) -> None:
    """List parties."""
    with handled(as_json), open_node(home) as ex:
        parties = ex.list_parties()
    if as_json:
        emit_json(parties)
    else:
        table("parties", ["id", "name", "kind", "role"], [[p.id, p.name, p.kind, p.role] for p in parties])


party_token_app = typer.Typer(help="A party's API token: rotate it.", no_args_is_help=True)
party_app.add_typer(party_token_app, name="token")


@party_token_app.command("rotate")
def party_token_rotate(party_id: str, home: Home = None, as_json: Json = False) -> None:
    """Give a party a new API token, printed ONCE; the old token and its console sessions end at once."""
    from dataex.identity.parties import rotate_token
    from dataex.ledger.log import iso

    with handled(as_json), open_node(home) as ex, ex.transaction() as s:
        party, token, expires = rotate_token(s, party_id, token_ttl_days=ex.settings.token_ttl_days)
        expires_at = iso(expires) if expires is not None else None
        ex.log.append(
            s, "party.token_rotated", {"party_id": party.id, "expires_at": expires_at}, actor="operator"
        )
        ex.log.checkpoint(s)
    out = {"id": party.id, "name": party.name, "token": token, "expires_at": expires_at}
    if as_json:
        emit_json(out)
    else:
        kv("token rotated", out)
        out_console.print("The token is shown once.")


def _suspension(party_id: str, suspended: bool, home: Path | None, as_json: bool) -> None:
    from dataex.identity.parties import set_suspended

    event = "party.suspended" if suspended else "party.reinstated"
    with handled(as_json), open_node(home) as ex, ex.transaction() as s:
        party = set_suspended(s, party_id, suspended)
        ex.log.append(s, event, {"party_id": party.id}, actor="operator")
        ex.log.checkpoint(s)
    out = {"id": party.id, "name": party.name, "suspended": suspended}
    if as_json:
        emit_json(out)
    else:
        kv(event.replace("party.", "party "), out)


@party_app.command("suspend")
def party_suspend(party_id: str, home: Home = None, as_json: Json = False) -> None:
    """Suspend a party: its token and its console sessions are refused at once (logged)."""
    _suspension(party_id, True, home, as_json)


@party_app.command("reinstate")
def party_reinstate(party_id: str, home: Home = None, as_json: Json = False) -> None:
    """Reinstate a suspended party's token (its ended console sessions stay ended; logged)."""
    _suspension(party_id, False, home, as_json)


# -- datasets ------------------------------------------------------------------------------------
@app.command()
def register(
    file: Path,
    owner: Annotated[str | None, typer.Option(help="Owner party id (operator only; default: --as)")] = None,
    title: Annotated[str, typer.Option(help="Dataset title")] = "",
    license: Annotated[str, typer.Option(help="License, e.g. CC-BY-4.0 or proprietary")] = "",
    rights: Annotated[
        str, typer.Option(help="Rights claimed, comma-separated: holding,processing_use,product_operation")
    ] = "holding,processing_use,product_operation",
    derived_from: Annotated[str | None, typer.Option(help="Id of the dataset this one derives from")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding, e.g. cp1252 or gb18030 [default: detected by evidence]")
    ] = None,
    skip_rows: Annotated[int, typer.Option(help="Lines before the header to skip (a preamble)")] = 0,
    comment: Annotated[
        str | None, typer.Option(help="Skip lines starting with this character, e.g. '#'")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse a column that is numeric or dates but for a few values")
    ] = False,
    visibility: Annotated[
        str, typer.Option(help="public, or private: never published; the log carries commitments")
    ] = "public",
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Import a CSV/TSV/JSONL/Parquet/XLSX file, digest it, check originality, certify and log it."""
    with handled(as_json), open_node(home) as ex:
        actor = acting(ex, token)
        if owner is None and actor is not None:
            owner = actor.id  # the policy lets only the operator name another owner
        if owner is None:
            raise InputFileNotFound("say who owns the data: --owner PARTY_ID (or act as the owner with --as)")
        with out_console.status(f"registering {file.name} …") if not as_json else nullcontext():
            reg = ex.register(
                file,
                owner=owner,
                title=title,
                license=license,
                rights=[r.strip() for r in rights.split(",") if r.strip()],
                derived_from=derived_from,
                actor=actor.id if actor else "operator",
                acting=actor,
                import_options=ImportOptions(encoding, skip_rows, comment, strict),
                visibility=visibility,
            )
    d = reg.dataset
    out: dict[str, Any] = {
        "id": d.id,
        "digest": d.digest,
        "rows": d.rows,
        "columns": len(d.columns),
        "owner": d.owner_id,
        "created": reg.created,
        "log_index": d.log_index,
        "certificate": d.certificate,
        "import": reg.report,
    }
    if as_json:
        emit_json(out)
    else:
        for decision in reg.report.get("decisions", []):
            out_console.print(f"[yellow]import:[/] {_decision_text(decision)}")
        out.pop("import")
        kv("dataset registered" if reg.created else "already registered (same owner, same content)", out)


def _decision_text(d: dict[str, Any]) -> str:
    where = d.get("lines") or d.get("rows") or []
    at = f" at line(s) {', '.join(map(str, where))}" if where else ""
    if d["kind"] == "ambiguous_dates":
        return f"column {d['column']!r} kept as text: {d['reason']}"
    what = "numbers" if d["kind"] == "mostly_numeric" else "dates"
    return f"column {d['column']!r} kept as text: {d['failing']} of {d['of']} values are not {what}{at}"


@datasets_app.command("list")
def datasets_list(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Only this owner's datasets")] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """List datasets."""
    if (node := remote.remote_of(ctx)) is not None:
        remote.datasets_list(node, owner=owner, as_json=as_json)
        return
    with handled(as_json), open_node(home) as ex:
        items = ex.list_datasets(owner=owner)
    if as_json:
        emit_json([_public(d) for d in items])
    else:
        table(
            "datasets",
            ["id", "title", "owner", "rows", "digest"],
            [[d.id, d.title, d.owner_id, d.rows, d.digest[:23] + "…"] for d in items],
        )


@datasets_app.command("show")
def datasets_show(ctx: typer.Context, dataset_id: str, home: Home = None, as_json: Json = False) -> None:
    """Show one dataset."""
    if (node := remote.remote_of(ctx)) is not None:
        remote.datasets_show(node, dataset_id, as_json=as_json)
        return
    with handled(as_json), open_node(home) as ex:
        d = ex.get_dataset(dataset_id)
    if as_json:
        emit_json(_public(d))
    else:
        kv(d.title, _public(d))


def _public(d: Any) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable(d)
    out.pop("certificate", None)
    return out


# -- certificates --------------------------------------------------------------------------------
@cert_app.command("show")
def cert_show(dataset_id: str, home: Home = None, as_json: Json = False) -> None:
    """Print a dataset's registration certificate (compact JWS)."""
    with handled(as_json), open_node(home) as ex:
        d = ex.get_dataset(dataset_id)
    if as_json:
        emit_json({"id": d.id, "certificate": d.certificate})
    else:
        print(d.certificate)


@cert_app.command("verify")
def cert_verify(
    file: Annotated[Path, typer.Argument(help="File holding the JWS, or - for stdin")],
    key: Annotated[
        Path | None, typer.Option(help="Node public key JWK file: verify offline, without a node")
    ] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Verify a certificate: signature, and on the issuing node its dataset and log inclusion."""
    with handled(as_json):
        token = _read_text(file)
        if key is not None:
            from dataex.catalog.certificates import verify_certificate
            from dataex.identity.keys import load_public_jwk

            payload, problems = verify_certificate(token, load_public_jwk(json.loads(_read_text(key))))
            result: dict[str, Any] = {
                "ok": payload is not None and not problems,
                "problems": problems,
                "payload": payload,
            }
        else:
            with open_node(home) as ex:
                result = ex.verify_certificate(token)
    report(result, as_json=as_json, what="certificate")


def _read_text(path: Path) -> str:
    import sys

    if str(path) == "-":
        return sys.stdin.read()
    if not path.is_file():
        raise InputFileNotFound(f"{path} does not exist or is not a file")
    return path.read_text(encoding="utf-8")


# -- audit ---------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A checkpoint note saved earlier; the log must still be consistent with it"),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A witness's cosigner vkey: require its cosignature over the recomputed log"),
    ] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Recompute the whole log, every checkpoint, and every stored file's digest."""
    with handled(as_json), open_node(home) as ex:
        texts = [_read_text(p) for p in checkpoint or []]
        result = ex.audit(checkpoints=texts, witnesses=witness or []).to_dict()
    report(result, as_json=as_json, what="audit")


@audit_app.command("proof")
def audit_proof(index: int, home: Home = None, as_json: Json = False) -> None:
    """Inclusion proof of a log entry against the latest signed checkpoint."""
    with handled(as_json), open_node(home) as ex:
        proof = ex.prove_inclusion(index)
    if as_json:
        emit_json(proof)
    else:
        kv(f"log entry {index}", proof)


@audit_app.command("open")
def audit_open(index: int, token: As = None, home: Home = None, as_json: Json = False) -> None:
    """The openings of a log entry's sealed fields (salt, value), for a party with a right to see them."""
    from dataex.audit import openings_for

    with handled(as_json), open_node(home) as ex:
        out = openings_for(ex, acting(ex, token), index)
    if as_json:
        emit_json(out)
    else:
        table(
            f"log entry {index}: openings",
            ["field", "value", "salt", "commitment"],
            [
                [o["field"], json.dumps(o["value"], ensure_ascii=False), o["salt"], o["commitment"]]
                for o in out["openings"]
            ],
        )


@audit_app.command("checkpoint")
def audit_checkpoint(home: Home = None, as_json: Json = False) -> None:
    """Print the latest signed checkpoint (C2SP signed note); keep it to check the log later."""
    with handled(as_json), open_node(home) as ex:
        text = ex.latest_checkpoint()
    if as_json:
        emit_json({"checkpoint": text})
    else:
        print(text, end="")


@audit_app.command("consistency")
def audit_consistency(old_size: int, new_size: int, home: Home = None, as_json: Json = False) -> None:
    """Consistency proof between two signed checkpoints."""
    with handled(as_json), open_node(home) as ex:
        proof = ex.prove_consistency(old_size, new_size)
    if as_json:
        emit_json(proof)
    else:
        kv(f"consistency {old_size} → {new_size}", proof)


# -- serve and demo ------------------------------------------------------------------------------
@app.command()
def serve(
    home: Home = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; each opens the node (uvicorn's --workers)")
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the web console (/login)."""
    import uvicorn

    with handled(False):
        ex = open_node(home)
    if workers == 1:
        from dataex.compute.runner import warm
        from dataex.server import create_app

        warm()  # the compute worker pool imports scikit-learn now, not on the first job
        uvicorn.run(create_app(ex), host=host, port=port)
        return
    os.environ["DATAEX_HOME"] = str(ex.settings.home.resolve())  # the workers' app_from_env opens it
    ex.close()
    uvicorn.run("dataex.server:app_from_env", factory=True, workers=workers, host=host, port=port)


@app.command()
def demo(home: Home = None, as_json: Json = False) -> None:
    """Run the end-to-end demo scenario on a fresh node (a temporary directory unless --home)."""
    from dataex.demo.scenario import run_demo

    with handled(as_json):
        summary = run_demo(home, echo=None if as_json else out_console.print)
    if as_json:
        emit_json(summary)


def _register_domains() -> None:
    """Adds the commands each domain module contributes."""
    from dataex.cli import (
        anonymize,
        catalog,
        compute,
        consent,
        contracts,
        delivery,
        dp,
        market,
        privacy,
        quality,
        remote,
        search,
        witness,
    )

    for module in (
        catalog,
        search,
        privacy,
        quality,
        anonymize,
        contracts,
        dp,
        delivery,
        compute,
        consent,
        market,
        remote,
        witness,
    ):
        module.register_commands(app)


_register_domains()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
