"""``dataex psi``, ``dataex compute`` and ``dataex job show``: thin commands over the services.

``psi`` runs the consumer's side in this process (:mod:`dataex.privacy.psi.client`): locally
against the home's node, or with ``--url`` against a remote ``dataex serve``; the input file's
identifiers never leave this process. ``compute`` queues a job and, on a local home, runs it to
its end; with ``--url`` it returns the queued job (follow it with ``job show``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dataex.cli.common import As, Home, Json, acting, open_node, required
from dataex.cli.output import emit_json, handled, kv, to_jsonable
from dataex.errors import Unauthorized

Url = Annotated[str | None, typer.Option("--url", help="Talk to a remote `dataex serve` at this URL.")]


def _needs_consumer() -> Unauthorized:
    """The refusal when a contract's consumer command runs without ``--as``."""
    return Unauthorized("act as the contract's consumer: --as TOKEN")


def _show(value: dict[str, Any], *, as_json: bool, title: str) -> None:
    if as_json:
        emit_json(value)
    else:
        kv(title, to_jsonable(value))


job_app = typer.Typer(help="Compute-to-data jobs.", no_args_is_help=True)


def register_commands(app: typer.Typer) -> None:
    """Adds ``psi``, ``compute`` and ``job show`` to the ``dataex`` application."""
    app.command("psi")(psi)
    app.command("psi-prepare")(psi_prepare)
    app.command("compute")(compute)
    app.add_typer(job_app, name="job")


def psi(
    contract: Annotated[str, typer.Argument(metavar="CONTRACT", help="Contract id (ctr_…)")],
    input: Annotated[Path, typer.Option("--input", help="Your file: CSV/TSV, Parquet or JSON Lines")],
    column: Annotated[str, typer.Option("--column", help="The identifier column of your file")],
    reveal: Annotated[
        str, typer.Option("--reveal", help="members | count (exact: L3/L4; with --epsilon a DP count)")
    ] = "count",
    then: Annotated[
        str | None, typer.Option("--then", help="DP SQL over the matched rows (FROM matched)")
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="ε for a DP count (--reveal count) or --then")
    ] = None,
    id_type: Annotated[str | None, typer.Option("--type", help="Identifier type (default: detected)")] = None,
    provider_column: Annotated[
        str | None, typer.Option("--provider-column", help="The dataset's column (default: by type)")
    ] = None,
    url: Url = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Private set intersection with a contract's dataset: members, count, or a DP aggregate."""
    from dataex.privacy.psi.client import HttpTransport, LocalTransport, Transport, run

    with handled(as_json):
        secret = required(token, _needs_consumer())
        options: dict[str, Any] = {
            "input": input, "column": column, "reveal": reveal, "id_type": id_type,
            "provider_column": provider_column, "then": then, "epsilon": epsilon,
        }  # fmt: skip
        if url:
            result = run(HttpTransport(url, secret), contract, **options)
        else:
            with open_node(home) as ex:
                transport: Transport = LocalTransport(ex, acting(ex, secret, otherwise=_needs_consumer()))
                result = run(transport, contract, **options)
        out = to_jsonable(result)
        _show({"id": result.session_id, **out}, as_json=as_json, title=f"PSI {result.mode}")


def psi_prepare(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id (ds_…)")],
    column: Annotated[str, typer.Option("--column", help="The dataset's identifier column")],
    id_type: Annotated[str, typer.Option("--type", help="Identifier type, e.g. cn_resident_id")],
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Owner: preprocess a column for PSI now, so the first consumer session does not wait."""
    from dataex.privacy.psi.service import prepare

    with handled(as_json), open_node(home) as ex:
        done = prepare(ex, dataset, column=column, id_type=id_type, actor=acting(ex, token))
        _show(to_jsonable(done), as_json=as_json, title="PSI set prepared")


def compute(
    contract: Annotated[str, typer.Argument(metavar="CONTRACT", help="Contract id (ctr_…)")],
    recipe: Annotated[Path, typer.Argument(metavar="RECIPE", help="recipe.yaml")],
    url: Url = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Train a model next to the data from a declarative recipe; only model and metrics return."""
    from dataex.compute import jobs
    from dataex.compute.recipes import MAX_RECIPE_BYTES

    with handled(as_json):
        secret = required(token, _needs_consumer())
        with recipe.open("rb") as f:  # bounded before it is parsed: the service refuses what is over
            text = f.read(MAX_RECIPE_BYTES + 1).decode("utf-8", errors="replace")
        if url:
            job = _http(url, secret).post(f"/contracts/{contract}/compute", json={"recipe": text})
            _show(_checked(job), as_json=as_json, title="job")
            return
        with open_node(home) as ex:
            queued = jobs.submit(ex, acting(ex, secret, otherwise=_needs_consumer()), contract, text)
            done = jobs.run_job(ex, queued.id)
        _show(to_jsonable(done), as_json=as_json, title=f"job {done.id}")


@job_app.command("show")
def job_show(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id (job_…)")],
    url: Url = None,
    token: As = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """A job's state, metrics, outputs (with SHA-256) and usage."""
    from dataex.compute import jobs

    with handled(as_json):
        secret = required(token, _needs_consumer())
        if url:
            _show(_checked(_http(url, secret).get(f"/jobs/{job_id}")), as_json=as_json, title="job")
            return
        with open_node(home) as ex:
            job = jobs.get_job(ex, job_id, actor=acting(ex, secret, otherwise=_needs_consumer()))
        _show(to_jsonable(job), as_json=as_json, title=f"job {job.id}")


def _http(url: str, token: str) -> Any:
    import httpx

    return httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _checked(response: Any) -> dict[str, Any]:
    from dataex.privacy.psi.client import raise_for_envelope

    data: dict[str, Any] = response.json()
    raise_for_envelope(data, response.status_code)
    return data
