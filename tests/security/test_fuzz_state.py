"""Issue 18, a property-based fuzz over every operation of the OpenAPI document (schemathesis, in
process): no 5xx, and a refused request (4xx) changes nothing but the log's refusal and denial
entries (no party, dataset, store or staging file, no other log entry).

Bounded: ``MAX_EXAMPLES`` derandomized examples per operation, per generation mode (valid and
invalid inputs) and per role (the operator, and a consumer with a live contract); one SQLite node
for the whole module. ``tests/sdk/test_fuzz_api.py`` fuzzes a live server for the envelope and leaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from sqlalchemy import select

from dataex.db.models import LogEntryRow
from dataex.exchange import Exchange
from dataex.server import create_app
from tests.conftest import Node
from tests.contracts import market
from tests.privacy.dp import small_visits
from tests.state import State, snapshot

MAX_EXAMPLES = 4
REFUSALS = ("access.denied",)  # and every "*.refused"


@dataclass
class Scene:
    ex: Exchange
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("fuzz")
    ex, operator = Exchange.init(home=root / "node")
    m = market(Node(ex, root / "node", operator), small_visits(root / "visits.csv", units=20))
    m.contract("L1")
    yield Scene(ex, {"operator": operator, "consumer": m.insurer.token})
    ex.close()


def new_events(ex: Exchange, start: int) -> list[str]:
    with ex.session() as s:
        return list(s.scalars(select(LogEntryRow.event).where(LogEntryRow.idx >= start)))


def unchanged(before: State, after: State) -> bool:
    keep = ("parties", "datasets", "store_files", "staging")
    return all(getattr(before, k) == getattr(after, k) for k in keep)


def fuzz(op: Any, app: Any, ex: Exchange, token: str, mode: GenerationMode) -> list[str]:
    found: list[str] = []

    @given(op.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        before = snapshot(ex)
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        where = f"({mode.value}) {case.method} {case.formatted_path} body={case.body!r:.120}"
        if response.status_code >= 500:
            found.append(f"{where} -> {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            after = snapshot(ex)
            events = new_events(ex, before.log_entries)
            other = [e for e in events if e not in REFUSALS and not e.endswith(".refused")]
            if not unchanged(before, after) or other:
                found.append(f"{where} -> {response.status_code} changed state: {other or after}")

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
    return found


@pytest.mark.slow
def test_no_5xx_and_no_state_change_on_refusal(scene: Scene) -> None:
    app = create_app(scene.ex)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]
        if op.path.startswith("/delta-sharing") or op.path.startswith("/shares"):
            continue  # share tokens, not party tokens: tests/delivery fuzzes them
        operations += 1
        for role in ("consumer", "operator"):
            for mode in GenerationMode:
                found.extend(fuzz(op, app, scene.ex, scene.tokens[role], mode))
    assert operations > 50
    assert found == [], "\n".join(found[:20])


def test_the_fuzz_would_see_a_state_change(scene: Scene, tmp_path: Path) -> None:
    """The control: a refusal that did change state would be caught by ``unchanged``."""
    before = snapshot(scene.ex)
    scene.ex.create_party("Intruder", kind="other", role="consumer")
    assert not unchanged(before, snapshot(scene.ex))
