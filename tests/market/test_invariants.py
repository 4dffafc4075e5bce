"""Hypothesis state machine: whatever happens, the ledger balances and no wallet goes negative."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from dataex.contracts.budget import charge
from dataex.contracts.lifecycle import revoke_contract
from dataex.errors import BudgetExhausted, InsufficientFunds, InvalidInput, InvalidTransition
from dataex.market import ledger
from dataex.market.settlement import deposit, verify_ledger
from tests.conftest import Node
from tests.market import Mkt, market


def test_ledger_invariants_hold_under_any_sequence(sqlite_node: Node, tmp_path: Path) -> None:
    mk = market(sqlite_node, tmp_path, rows=40)

    class Ledger(RuleBasedStateMachine):
        m: Mkt = mk

        @initialize()
        def start(self) -> None:
            with self.m.ex.session() as s:
                self.deposited = -ledger.balance(s, ledger.FUNDING)
            self.contracts: list[str] = []

        @rule(amount=st.one_of(st.integers(-100, 5000), st.floats(0, 10), st.just(0)))
        def deposit(self, amount: object) -> None:
            try:
                deposit(self.m.ex, self.m.insurer.party.id, amount, actor=self.m.operator.party)
            except InvalidInput:
                assert not (isinstance(amount, int) and amount > 0)
            else:
                assert isinstance(amount, int)
                self.deposited += amount

        @rule(price=st.sampled_from([0, 1, 500, 2000, "0.37/query", "1.00/query"]))
        def approve(self, price: object) -> None:
            c = self.m.contract("L2", price=price, max_queries=20)
            self.contracts.append(c.id)

        @rule(pick=st.integers(0, 50), queries=st.integers(1, 6))
        def use(self, pick: int, queries: int) -> None:
            if self.contracts:
                with contextlib.suppress(InsufficientFunds, BudgetExhausted, InvalidTransition):
                    charge(self.m.ex, self.contracts[pick % len(self.contracts)], queries=queries)

        @rule(pick=st.integers(0, 50))
        def revoke(self, pick: int) -> None:
            if self.contracts:
                with contextlib.suppress(InvalidTransition):
                    revoke_contract(
                        self.m.ex, self.contracts[pick % len(self.contracts)], actor=self.m.a.party
                    )

        @invariant()
        def ledger_verifies(self) -> None:
            report = verify_ledger(self.m.ex)
            assert report["ok"], report["problems"]
            assert report["trial_balance"] == 0
            assert report["totals"].get("funding", 0) == -self.deposited
            with self.m.ex.session() as s:
                assert ledger.balance(s, ledger.wallet(self.m.insurer.party.id)) >= 0

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=12, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
