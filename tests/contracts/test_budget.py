"""Budgets: exactly the affordable charges succeed under concurrency, and crashes never double-spend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dataex.contracts.budget import charge
from dataex.contracts.lifecycle import get_contract
from dataex.errors import BudgetExhausted, InvalidInput, InvalidTransition
from tests.conftest import Node
from tests.contracts import Market, log_events, log_size, market, rows_snapshot

THREADS = 64


@pytest.fixture
def m(fresh_node: Node, visits_csv: Path) -> Market:
    return market(fresh_node, visits_csv)


def _race(m: Market, contract_id: str, **cost: float) -> tuple[int, list[Exception]]:
    barrier = threading.Barrier(THREADS)
    ok: list[int] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            charge(m.ex, contract_id, **cost)  # type: ignore[arg-type]
        except (BudgetExhausted, InvalidTransition) as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                ok.append(1)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return len(ok), errors


def test_64_concurrent_epsilon_charges_spend_exactly_the_budget(m: Market) -> None:
    c = m.contract("L1", epsilon=3.0)
    size = log_size(m.ex)
    succeeded, errors = _race(m, c.id, epsilon=0.1)
    assert succeeded == 30
    assert len(errors) == THREADS - 30
    after = get_contract(m.ex, c.id, actor=m.insurer.party)
    assert after.remaining["epsilon"] == 0
    assert after.state == "exhausted"
    events = log_events(m.ex, size)
    assert events.count("budget.charged") == 30
    assert events.count("contract.exhausted") == 1


def test_64_concurrent_row_charges_leave_the_exact_remainder(m: Market) -> None:
    c = m.contract("L3", max_rows=1000)
    succeeded, errors = _race(m, c.id, rows=37)
    assert succeeded == 27  # 27 * 37 = 999
    assert all(isinstance(e, BudgetExhausted) for e in errors)
    after = get_contract(m.ex, c.id, actor=m.insurer.party)
    assert (after.remaining["rows"], after.state) == (1, "active")


def test_overspending_raises_and_changes_nothing(m: Market) -> None:
    c = m.contract("L1", epsilon=1.0, max_queries=5)
    charge(m.ex, c.id, epsilon=0.4, queries=1)
    before, size = rows_snapshot(m.ex), log_size(m.ex)
    for cost in ({"epsilon": 0.7}, {"epsilon": 0.1, "queries": 9}, {"delta": 1e-9}):
        with pytest.raises(BudgetExhausted):
            charge(m.ex, c.id, **cost)  # type: ignore[arg-type]
    for bad in ({"epsilon": -0.1}, {"rows": -1}, {}, {"epsilon": "1e-12"}):
        with pytest.raises(InvalidInput):
            charge(m.ex, c.id, **bad)  # type: ignore[arg-type]
    assert (rows_snapshot(m.ex), log_size(m.ex)) == (before, size)
    result = charge(m.ex, c.id, epsilon=0.6, queries=1)
    assert (result.remaining["epsilon"], result.remaining["queries"], result.state) == (0, 3, "exhausted")


CHILD = r"""
import sys, time
from dataex import Exchange
from dataex.contracts.budget import charge

home, contract_id, when = sys.argv[1], sys.argv[2], sys.argv[3]
ex = Exchange.open(home=home)
if when == "before-commit":
    def hang(session):  # runs inside charge's transaction, after the decrement and log append
        print("in-transaction", flush=True)
        time.sleep(600)
    ex.log.checkpoint = hang
charge(ex, contract_id, epsilon=0.5)
print("charged", flush=True)  # committed; the result would be released now
time.sleep(600)
"""


def _crash_child(m: Market, contract_id: str, when: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(m.node.home), contract_id, when],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return line


@pytest.mark.parametrize(("when", "spent"), [("before-commit", 0.0), ("after-commit", 0.5)])
def test_a_killed_process_never_spends_twice(m: Market, when: str, spent: float) -> None:
    c = m.contract("L1", epsilon=3.0)
    size = log_size(m.ex)
    line = _crash_child(m, c.id, when)
    assert line == ("in-transaction" if when == "before-commit" else "charged")
    after = get_contract(m.ex, c.id, actor=m.insurer.party)
    assert after.remaining["epsilon"] == pytest.approx(3.0 - spent)
    assert log_events(m.ex, size) == (["budget.charged"] if spent else [])
    # the node keeps working: the killed writer left no lock behind
    assert charge(m.ex, c.id, epsilon=0.5).remaining["epsilon"] == pytest.approx(2.5 - spent)
    assert m.ex.audit().ok
