"""Every ``dataex`` command acts as a party through the one ``--as`` option, or is listed here.

The command tree is walked from ``dataex.cli.main`` (recursively through every group), so a command
added by anyone is checked too. To classify a new command, either
* give it ``token: dataex.cli.common.As = None`` and turn the token into a party with
  ``dataex.cli.common.acting``: it acts as an authenticated party, and the services it calls decide
  what that party may do (through the policy point), or
* list it below: in LOCAL_OPERATOR (run by whoever holds the node's home directory, i.e. the
  operator) or PUBLIC (reads public data only), with the reason.

A command under a group whose callback takes the shared ``--as`` (``dataex remote``) counts as
taking it; the root callback's ``--as`` does not count (it only feeds ``dataex --url`` remote mode).

The second half runs representative party commands against another party's private dataset and
requires exactly the answer an unknown dataset id gets (no existence or metadata leak).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from dataex.cli.common import As

LOG = "the transparency log is public: auditors verify it without trusting the operator"
LOCAL_OPERATOR: dict[str, str] = {
    "init": "creates a node's home (database, store, node key); there is no party yet",
    "serve": "runs the node's HTTP API from its home; each request there authenticates on its own",
    "demo": "runs the scenario on a fresh node of its own (a temporary home unless --home)",
    "reindex": "rebuilds the search index of the whole catalog from the home",
    "trace": "the operator traces a leaked file against every fingerprinted delivery of the home",
    "node upgrade": "migrates the home's database",
    "party add": "mints a party and its token: the operator's job, no party mints another",
    "party list": "the operator's directory of parties",
    "party token rotate": "re-mints a party's token (old token and sessions end): the operator's job",
    "party suspend": "refuses a party's token and sessions at once: the operator's job",
    "party reinstate": "lifts a suspension: the operator's job",
    "datasets list": "the operator's view of the home's catalog (with --url the remote node decides)",
    "datasets show": "the operator's view of the home's catalog (with --url the remote node decides)",
    "cert show": "prints a certificate from the home, private datasets' included",
    "audit verify": "recomputes the log and every stored file's digest: needs the home's store",
    "ledger verify": "checks the ledger invariants of the home's database (operator and auditors)",
    "witness trust": "the operator chooses which logs the node witnesses",
    "witness logs": "the operator's list of logs the node witnesses",
    "witness add": "the operator pins the witnesses of the node's log (and the only URLs it contacts)",
    "witness list": "the operator's list of the log's witnesses and their URLs",
    "witness cosign": "the operator sends the latest checkpoint to the pinned witnesses",
}
PUBLIC: dict[str, str] = {
    "node key": "the node's public key (also GET /.well-known/dataex/node-key)",
    "witness key": "the node's public verifier keys (also in GET /.well-known/dataex/node-key)",
    "cert verify": "verifies a certificate the caller holds; with --key offline, without a node",
    "audit proof": LOG,
    "audit checkpoint": LOG,
    "audit consistency": LOG,
    "offer list": "offers are catalog information (L0), as GET /offers",
    "product show": "products are catalog information (members, split; no data), as GET /products",
    "demand list": "the demand board: wanted data, no dataset (as GET /demands)",
}


SHARED_AS = typing.get_args(As)[1]
"""The ``typer.Option`` object of ``dataex.cli.common.As``, the one ``--as`` definition."""


class Command(Protocol):
    """What the walk reads of a command or group of Typer's (vendored) Click."""

    callback: Callable[..., Any] | None
    params: list[Any]


def _takes_shared_as(callback: Callable[..., Any] | None) -> bool:
    """Whether ``callback`` declares a parameter annotated with the one ``As`` alias."""
    if callback is None:
        return False
    hints = typing.get_type_hints(inspect.unwrap(callback), include_extras=True)
    return any(
        typing.get_origin(h) is Annotated and any(m is SHARED_AS for m in typing.get_args(h)[1:])
        for h in hints.values()
    )


def _is_group(command: Command) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def walk(
    command: Command, path: tuple[str, ...] = (), *, inherited: bool = False
) -> Iterator[tuple[str, Command, bool]]:
    """``(path, command, takes --as)`` of every leaf command under ``command``, recursively."""
    if not _is_group(command):
        yield " ".join(path), command, inherited or _takes_shared_as(command.callback)
        return
    # the root's --as only feeds remote mode (dataex --url); a sub-group's --as is its commands'
    through = inherited or (bool(path) and _takes_shared_as(command.callback))
    commands: dict[str, Command] = command.commands  # type: ignore[attr-defined]
    for name, sub in commands.items():
        yield from walk(sub, (*path, name), inherited=through)


def every_command() -> list[tuple[str, Command, bool]]:
    from dataex.cli.main import app

    return list(walk(get_command(app)))


def unclassified(commands: list[tuple[str, Command, bool]]) -> list[str]:
    return [
        path for path, _, takes_as in commands if not takes_as and path not in {**LOCAL_OPERATOR, **PUBLIC}
    ]


def test_every_command_acts_as_a_party_or_is_listed() -> None:
    commands = every_command()
    assert len(commands) > 50, "the walk did not reach the sub-groups"
    missing = unclassified(commands)
    assert not missing, (
        f"commands neither taking the shared --as (token: As = None, then acting()) nor listed in "
        f"LOCAL_OPERATOR / PUBLIC of {__name__}: {missing}"
    )


def test_the_lists_name_existing_commands_that_take_no_as() -> None:
    takes_as = {path: flag for path, _, flag in every_command()}
    assert set(LOCAL_OPERATOR).isdisjoint(PUBLIC)
    stale = sorted(p for p in {**LOCAL_OPERATOR, **PUBLIC} if p not in takes_as)
    assert not stale, f"listed but no such command: {stale}"
    redundant = sorted(p for p in {**LOCAL_OPERATOR, **PUBLIC} if takes_as[p])
    assert not redundant, f"listed although they take --as (remove them from the lists): {redundant}"


def test_every_as_option_is_the_shared_one() -> None:
    """No command or group declares an ``--as`` of its own (another envvar, help or token check)."""
    from dataex.cli.main import app

    def callbacks(command: Command, path: tuple[str, ...]) -> Iterator[tuple[str, Command]]:
        yield " ".join(path) or "dataex", command
        if _is_group(command):
            for name, sub in command.commands.items():  # type: ignore[attr-defined]
                yield from callbacks(sub, (*path, name))

    own = [
        path
        for path, command in callbacks(get_command(app), ())
        if any("--as" in p.opts for p in command.params) and not _takes_shared_as(command.callback)
    ]
    assert not own, f"declare the option as `token: As = None` (dataex.cli.common): {own}"


def test_a_command_added_later_is_caught() -> None:
    """The walk reaches commands in nested groups, and an unlisted one without --as is reported."""
    app, group, inner = typer.Typer(), typer.Typer(), typer.Typer()

    @app.callback()
    def root(token: As = None) -> None:
        """A root whose --as must not count for its commands."""

    @group.command("acts")
    def acts(token: As = None) -> None:
        """Acts as a party."""

    @group.command("verify")
    def verify() -> None:
        """Listed (``audit verify``)."""

    @inner.command("sneaks-in")
    def sneaks_in(dataset: str) -> None:
        """Added later, unclassified."""

    group.add_typer(inner, name="deeper")
    app.add_typer(group, name="audit")
    found = list(walk(get_command(app)))
    assert {path: flag for path, _, flag in found} == {
        "audit acts": True,
        "audit verify": False,
        "audit deeper sneaks-in": False,
    }
    assert unclassified(found) == ["audit deeper sneaks-in"]


# -- another party's private dataset answers exactly like an unknown id --------------------------------
@dataclass(frozen=True)
class Shelf:
    home: Path
    private_id: str
    unknown_id: str
    owner_token: str
    other_token: str


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Shelf:
    """A hospital's private dataset, and another provider with no rights on it."""
    import pyarrow.csv as pacsv

    from dataex.catalog.metadata import describe
    from dataex.demo.data import hospital_visits
    from dataex.exchange import Exchange

    tmp = tmp_path_factory.mktemp("private-shelf")
    csv = tmp / "visits.csv"
    pacsv.write_csv(hospital_visits(200, seed=11), csv)
    ex, _ = Exchange.init(home=tmp / "node")
    with ex:
        owner, owner_token = ex.create_party("Ruijin Hospital", kind="hospital", role="provider")
        _, other_token = ex.create_party("Huashan Hospital", kind="hospital", role="provider")
        dataset_id = ex.register(csv, owner=owner.id, title="ward notes", license="x").dataset.id
        describe(ex, dataset_id, actor=owner, visibility="private")
    unknown = "ds_" + "0" * (len(dataset_id) - 3)
    return Shelf(tmp / "node", dataset_id, unknown, owner_token, other_token)


def invoke(shelf: Shelf, args: list[str], dataset_id: str, token: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``dataex ARGS`` on the shelf, ``dataset_id`` shown as ``ID``."""
    from dataex.cli.main import app

    argv = [a.replace("{DS}", dataset_id) for a in args] + ["--as", token, "--home", str(shelf.home)]
    env = {"DATAEX_TOKEN": None, "DATAEX_HOME": None, "DATAEX_URL": None}
    result = CliRunner().invoke(app, argv, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout.replace(dataset_id, "ID"), result.stderr.replace(dataset_id, "ID")


PARTY_COMMANDS = [
    pytest.param(["classify", "{DS}"], True, id="classify-show"),
    pytest.param(["croissant", "export", "{DS}"], False, id="croissant-export"),
    pytest.param(["quality", "{DS}"], True, id="quality"),
    pytest.param(["describe", "{DS}", "--keywords", "门诊"], True, id="describe"),
    pytest.param(
        ["offer", "create", "{DS}", "--tier", "L1", "--epsilon", "1", "--purpose", "research"],
        True,
        id="offer-create",
    ),
    pytest.param(["privacy", "set", "{DS}", "--unit", "patient_id"], True, id="privacy-set"),
    pytest.param(["anonymize", "{DS}", "--check", "--qi", "age", "--k", "2"], True, id="anonymize-check"),
    pytest.param(["fingerprint", "set", "{DS}", "--tolerate", "cost=1"], True, id="fingerprint-set"),
    pytest.param(
        ["consent", "withdraw", "--dataset", "{DS}", "--subject-key", "P1", "--column", "patient_id"],
        True,
        id="consent-withdraw",
    ),
    pytest.param(["demand", "for-dataset", "{DS}"], True, id="demand-for-dataset"),
]


@pytest.mark.parametrize(("args", "has_json"), PARTY_COMMANDS)
def test_another_partys_private_dataset_answers_like_an_unknown_id(
    shelf: Shelf, args: list[str], has_json: bool
) -> None:
    for extra in (["--json"], []) if has_json else ([],):
        hidden = invoke(shelf, [*args, *extra], shelf.private_id, shelf.other_token)
        missing = invoke(shelf, [*args, *extra], shelf.unknown_id, shelf.other_token)
        assert hidden[0] != 0, hidden
        assert hidden == missing
    # the private id is real: its owner gets an answer
    code, out, err = invoke(shelf, args, shelf.private_id, shelf.owner_token)
    assert code == 0, out + err
