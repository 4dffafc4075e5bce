"""The security tests' shared set-up: a small market (hospital, insurer, auditor, one dataset) served
in-process by the whole server (API and console); server errors come back as responses, so a test
sees a 500 as a status, not as an exception."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataex.server import create_app
from tests.conftest import Node
from tests.contracts import Market, market
from tests.privacy.dp import small_visits


@pytest.fixture
def m(fresh_node: Node, tmp_path: Path) -> Market:
    return market(fresh_node, small_visits(tmp_path / "visits.csv", units=20))


@pytest.fixture
def client(m: Market) -> Iterator[TestClient]:
    with TestClient(create_app(m.ex), raise_server_exceptions=False) as c:
        yield c
