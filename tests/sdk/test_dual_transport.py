"""The same scenario through ``open()`` (in-process) and ``connect()`` (HTTP), results compared."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dataex.errors import AccessDenied, BudgetExhausted, DataexError, DatasetNotFound, QueryRefused
from dataex.sdk import Client, Contract, Dataset, connect, open
from tests.privacy.dp import DIAGNOSES, QUERY
from tests.sdk.conftest import LiveNode

BOUNDS = {"cost": (0.0, 250.0), "age": (0.0, 120.0)}


def clients(node: LiveNode, transport: str, *, token: str) -> Client:
    return connect(node.url, token) if transport == "remote" else open(node.home, token)


def scenario(provider: Client, consumer: Client, node: LiveNode) -> dict[str, Any]:
    """A provider registers and offers L1; a consumer searches, requests, is approved, queries."""
    ds = provider.register(node.csv, "门诊 outpatient visits", "proprietary")
    ds.set_privacy(
        unit="patient_id", max_contributions=2, bounds=BOUNDS, domains={"diagnosis": [*DIAGNOSES, "Z"]}
    )
    offer = ds.offer("L1", purposes=["ai-training"], epsilon=3.0, price=0)
    hits = consumer.search("门诊")
    found = next(d for d in hits if d.id == ds.id)
    assert found.offers[-1].id == offer.id
    contract = consumer.request(found.offers[-1], purpose="ai-training")
    assert contract.state == "requested"
    provider.contract(contract.id).approve(reason="ok")
    contract.wait_until_approved(timeout=30)
    first = contract.query(QUERY, epsilon=0.5)
    again = contract.query(QUERY, epsilon=0.5)
    return {"dataset": ds, "hits": hits, "contract": contract, "first": first, "again": again}


@pytest.mark.parametrize("transport", ["local", "remote"])
def test_scenario_runs_the_same_through_both_transports(live_node: LiveNode, transport: str) -> None:
    provider = clients(live_node, transport, token=live_node.hospital)
    consumer = clients(live_node, transport, token=live_node.insurer)
    with provider, consumer:
        out = scenario(provider, consumer, live_node)
        first, again = out["first"], out["again"]
        assert list(first.columns) == [
            "diagnosis", "n", "n_ci_low", "n_ci_high", "total", "total_ci_low", "total_ci_high",
            "avg_cost", "avg_cost_ci_low", "avg_cost_ci_high",
        ]  # fmt: skip
        assert sorted(first["diagnosis"]) == sorted([*DIAGNOSES, "Z"])
        assert (first["n_ci_low"] <= first["n"]).all() and (first["n"] <= first["n_ci_high"]).all()
        assert first.attrs["epsilon_charged"] == 0.5 and first.attrs["cached"] is False
        pd.testing.assert_frame_equal(first, again)  # the cache: the same query, the same answer
        assert again.attrs["cached"] is True and again.attrs["epsilon_charged"] == 0.0
        assert out["contract"].remaining["epsilon"] == pytest.approx(2.5)


def test_both_transports_see_the_same_node(live_node: LiveNode) -> None:
    """Same dataset ids, same offers, same contract, the same cached DP answer through both."""
    remote_provider = connect(live_node.url, live_node.hospital)
    remote_consumer = connect(live_node.url, live_node.insurer)
    local_consumer = open(live_node.home, live_node.insurer)
    with remote_provider, remote_consumer, local_consumer:
        out = scenario(remote_provider, remote_consumer, live_node)
        ds: Dataset = out["dataset"]
        assert [d.id for d in local_consumer.search("门诊")] == [d.id for d in out["hits"]]
        assert local_consumer.dataset(ds.id).digest == remote_consumer.dataset(ds.id).digest
        assert [o.id for o in local_consumer.dataset(ds.id).offers] == [o.id for o in ds.offers]
        contract: Contract = out["contract"]
        local_contract = local_consumer.contract(contract.id)
        assert local_contract.state in ("approved", "active") and local_contract.raw == contract.refresh().raw
        reread = local_contract.query(QUERY, epsilon=0.5)  # the cached answer, read in-process
        assert reread.attrs["cached"] is True
        pd.testing.assert_frame_equal(reread, out["first"])
        assert local_consumer.whoami() == remote_consumer.whoami()


@pytest.mark.parametrize("transport", ["local", "remote"])
def test_typed_errors_are_the_same_on_both_transports(live_node: LiveNode, transport: str) -> None:
    provider = clients(live_node, transport, token=live_node.hospital)
    consumer = clients(live_node, transport, token=live_node.insurer)
    auditor = clients(live_node, transport, token=live_node.auditor)
    with provider, consumer, auditor:
        with pytest.raises(DatasetNotFound) as missing:
            consumer.dataset("ds_nope")
        assert missing.value.dataset_id == "ds_nope" and missing.value.status == 404
        contract = scenario(provider, consumer, live_node)["contract"]
        with pytest.raises(BudgetExhausted) as over:
            contract.query(QUERY, epsilon=9.0)
        assert over.value.contract_id == contract.id
        with pytest.raises(QueryRefused):
            contract.query("SELECT * FROM visits", epsilon=0.1)
        with pytest.raises(AccessDenied) as denied:
            auditor.contract(contract.id).query(QUERY, epsilon=0.1)
        assert isinstance(denied.value, DataexError) and denied.value.code == "access_denied"


def test_extracts_are_equal_through_both_transports(live_node: LiveNode) -> None:
    """An L4 contract's fingerprinted rows: the same table from ``open()`` and from ``connect()``."""
    from dataex.delivery.tolerances import set_tolerances
    from dataex.errors import ExtractRefused

    with open(live_node.home, live_node.hospital) as local_provider:
        ds = local_provider.register(live_node.csv, "门诊 visits for extracts", "proprietary")
        owner = local_provider.transport
        set_tolerances(owner.ex, ds.id, {"cost": 1}, actor=owner.party)  # type: ignore[attr-defined]
        offer = ds.offer("L4", purposes=["ai-training"], approval="auto", legal_basis="consent")
    remote = connect(live_node.url, live_node.insurer)
    local = open(live_node.home, live_node.insurer)
    remote_provider = connect(live_node.url, live_node.hospital)
    with remote, local, remote_provider:
        contract = remote.request(offer.id, purpose="ai-training")
        assert contract.state in ("approved", "active")
        over_http = contract.extract(format="arrow")
        in_process = local.contract(contract.id).extract(format="arrow")
        assert over_http.num_rows == ds.rows == 120
        assert over_http.equals(in_process)  # one contract, one fingerprint, the same rows
        frame = contract.extract(format="pandas")
        pd.testing.assert_frame_equal(frame, in_process.to_pandas())
        with pytest.raises(ExtractRefused) as refused:  # only the consumer extracts, remotely too
            remote_provider.contract(contract.id).extract()
        assert refused.value.status == 403 and refused.value.contract_id == contract.id
