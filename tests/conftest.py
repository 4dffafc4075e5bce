"""Fixtures named by what they give: a fresh node (SQLite or PostgreSQL), parties, datasets."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dataex import Exchange
from dataex.identity.parties import Party
from tests.pg import pg_bin, postgres_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    if not (pg_bin("initdb") and pg_bin("pg_ctl")):
        if os.environ.get("DATAEX_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (DATAEX_REQUIRE_POSTGRES=1) but initdb/pg_ctl are missing")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` (SQLite in the node's home) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    from tests.pg import create_database

    base: str = request.getfixturevalue("pg_base_url")
    return create_database(base, f"t_{uuid.uuid4().hex[:12]}")


@dataclass
class Node:
    ex: Exchange
    home: Path
    operator_token: str


@pytest.fixture
def fresh_node(tmp_path: Path, db_url: str | None) -> Iterator[Node]:
    """A new node on each metadata backend."""
    home = tmp_path / "node"
    ex, token = Exchange.init(home=home, db_url=db_url)
    yield Node(ex, home, token)
    ex.close()


@pytest.fixture
def sqlite_node(tmp_path: Path) -> Iterator[Node]:
    """A new node on SQLite only (for tests about files, not metadata)."""
    home = tmp_path / "node"
    ex, token = Exchange.init(home=home)
    yield Node(ex, home, token)
    ex.close()


@dataclass
class Actor:
    party: Party
    token: str


def add(node: Node, name: str, *, kind: str = "hospital", role: str = "provider") -> Actor:
    party, token = node.ex.create_party(name, kind=kind, role=role)
    return Actor(party, token)


@pytest.fixture
def hospital(fresh_node: Node) -> Actor:
    return add(fresh_node, "Ruijin Hospital")


@pytest.fixture
def visits_csv(tmp_path: Path) -> Path:
    """A small outpatient-visits CSV (500 rows) from the demo generator."""
    import pyarrow.csv as pacsv

    from dataex.demo.data import hospital_visits

    path = tmp_path / "visits.csv"
    pacsv.write_csv(hospital_visits(500, seed=11), path)
    return path
