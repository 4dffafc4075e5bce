"""Issue 18, files at rest: a node's home is 0700 and its files 0600 (database, store, key, staging),
set at ``dataex init`` and checked by ``dataex audit verify``; another local user reads nothing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataex.cli.main import app as cli

runner = CliRunner()


def modes(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in [home, *home.rglob("*")]}


@pytest.fixture(autouse=True)
def _loose_umask() -> object:
    """The attack's setting: a shell with the common umask 022 (files 0644, folders 0755)."""
    old = os.umask(0o022)
    yield None
    os.umask(old)


def test_init_and_registration_leave_nothing_readable_by_others(tmp_path: Path) -> None:
    home = tmp_path / "node"
    home.mkdir(mode=0o755)  # an existing, world-readable folder
    r = runner.invoke(cli, ["init", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    token = json.loads(r.output)["operator_token"]
    csv = tmp_path / "visits.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i * 3}\n" for i in range(50)), encoding="utf-8")
    party = runner.invoke(cli, ["party", "add", "H", "--kind", "hospital", "--home", str(home), "--json"])
    assert party.exit_code == 0, party.output
    provider = json.loads(party.output)["token"]
    r = runner.invoke(
        cli,
        [
            "register",
            str(csv),
            "--title",
            "T",
            "--license",
            "CC-BY-4.0",
            "--as",
            provider,
            "--home",
            str(home),
        ],
    )
    assert r.exit_code == 0, r.output
    found = modes(home)
    assert any(name.startswith("store/") and name.endswith(".parquet") for name in found), found
    assert {"dataex.db", "node.key", "node.json", "staging"} <= set(found)
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert loose == {}, loose
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    r = runner.invoke(cli, ["audit", "verify", "--home", str(home), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True, r.output
    assert token  # the operator's token was shown once


def test_audit_verify_reports_a_file_others_can_read(tmp_path: Path) -> None:
    home = tmp_path / "node"
    r = runner.invoke(cli, ["init", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    (home / "dataex.db").chmod(0o644)
    (home / "store").mkdir(exist_ok=True)
    (home / "store").chmod(0o755)
    r = runner.invoke(cli, ["audit", "verify", "--home", str(home), "--json"])
    assert r.exit_code != 0
    problems = json.loads(r.output)["problems"]
    flagged = {Path(p["path"]).name for p in problems if p["code"] == "permissions"}
    # SQLite gives its -wal and -shm files the database's mode: they are flagged with it
    assert {"dataex.db", "store"} <= flagged <= {"dataex.db", "dataex.db-wal", "dataex.db-shm", "store"}, (
        problems
    )
