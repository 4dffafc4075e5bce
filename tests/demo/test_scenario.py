"""``dataex demo`` end to end: every step's outcome is checked, not just that it ran."""

from __future__ import annotations

from pathlib import Path

from dataex.demo.data import DIAGNOSES
from dataex.demo.joint_product import PRODUCT_PRICE_FEN
from dataex.demo.scenario import run_demo
from dataex.demo.use_steps import PSI_TOLERANCE
from dataex.exchange import Exchange
from dataex.market.products import shapley_weights, split_amount


def test_demo_scenario_succeeds_end_to_end(tmp_path: Path) -> None:
    lines: list[str] = []
    summary = run_demo(tmp_path / "node", echo=lines.append)
    assert summary["ok"] is True
    assert summary["originality"]["refused"] is True
    assert summary["originality"]["similar_to"] == summary["datasets"][0]["id"]
    assert summary["search_top_hit"] == summary["datasets"][0]["id"]
    assert summary["demand_best_match"] == summary["datasets"][0]["id"]
    assert summary["grade"] == "general-4"
    assert "diagnosis" in summary["sensitive_fields"]
    assert summary["contract_state"] == "active"
    assert summary["audit"]["ok"] is True and summary["audit"]["problems"] == []
    # 23. the public log names no party; the auditor opens a sealed name and checks its commitment
    opened = summary["opened_commitment"]
    assert opened["checked"] is True and opened["name"] == "瑞金医院 Ruijin Hospital"
    assert any("originality" in line for line in lines)
    numbers = [int(line.removeprefix("[bold]").split(".")[0]) for line in lines if line.startswith("[bold]")]
    assert numbers == list(range(1, len(numbers) + 1))  # every step numbered, none skipped
    assert [line.split("[/]")[0].removeprefix("[bold]") for line in lines if line.startswith("[bold]")][
        -9:
    ] == [
        "15. DP SQL",
        "16. anonymized",
        "17. delivery",
        "18. PSI",
        "19. compute",
        "20. joint product",
        "21. ledger",
        "22. policy",
        "23. audit",
    ]
    # 22. the policy point: a private dataset answers a stranger as an unknown id; a refusal is logged
    policy = summary["policy"]
    assert policy["private_as_unknown"] is True and policy["denied_rule"] == "manage.owner"
    assert policy["denied_log_index"] > 0

    # 15. DP SQL under the insurer's L1 contract (ε 3.0): 0.5 charged, top groups with intervals
    dp = summary["dp"]
    assert dp["epsilon_charged"] == 0.5 and dp["epsilon_remaining"] == 2.5
    assert 1 <= dp["groups"] <= len(DIAGNOSES)
    assert [t["n"] for t in dp["top"]] == sorted((t["n"] for t in dp["top"]), reverse=True)
    for t in dp["top"]:
        assert t["diagnosis"] in DIAGNOSES
        lo, hi = t["n_interval"]
        assert lo <= t["n"] <= hi
        assert 0 <= t["avg_cost_interval"][0] <= t["avg_cost_interval"][1] <= 20_000
    # the deposit paid the flat L1 price (¥2,000) that was due since approval
    assert len(dp["settled_orders"]) == 1 and dp["insurer_wallet_fen"] == 1_000_000 - 200_000
    # the visits' lifetime ε account, set by the hospital: the insurer's 0.5 is its first charge
    account = dp["account"]
    caps = (account["epsilon_cap"], account["epsilon_cap_per_party"])
    assert caps == (5.0, 2.0) and account["epsilon_spent"] == 0.5
    assert [p["epsilon_spent"] for p in account["parties"]] == [0.5]

    # 16. anonymized: a derived dataset, k >= 5, resident IDs to province, ages in bands
    anon = summary["anonymized"]
    assert anon["derived_from"] == summary["datasets"][0]["id"]
    assert anon["k"] >= 5
    assert anon["levels"]["id_no"] >= 1 and anon["levels"]["age"] >= 1
    assert anon["suppressed"] <= 0.02 * 20_000 and anon["rows"] + anon["suppressed"] == 20_000
    assert not {"name", "mobile", "patient_id"} & set(anon["columns"])

    # 17. delivery: every row charged once at 2 fen; the leaked 5% traces to the insurer's L3 contract
    d = summary["delivery"]
    assert d["rows"] == d["rows_charged"] == anon["rows"]
    assert d["leaked_rows"] == int(anon["rows"] * 0.05)
    assert d["trace_status"] == "match" and d["traced_to"] == d["contract"]
    assert d["false_accusation_bound"] < 1e-6

    # 18. PSI DP count (L1: no exact size): near the true overlap of resident IDs, ε charged
    psi = summary["psi"]
    assert psi["true_overlap"] > 0 and abs(psi["count"] - psi["true_overlap"]) <= PSI_TOLERANCE
    assert psi["epsilon"] == 0.5
    assert psi["consumer_items"] == 8_000

    # 19. compute-to-data: the DP model trained and only its outputs left the node
    job = summary["compute"]
    assert job["state"] == "succeeded", job["reason"]
    assert job["outputs"] == ["metrics.json", "model.onnx", "model_card.json"]
    assert 0.5 <= job["metrics"]["accuracy"] <= 1.0
    assert len(job["onnx_sha256"]) == 64
    # the visits' account after DP SQL, the PSI DP count and DP training: within both caps
    spent = job["account"]
    assert 1.0 <= spent["epsilon_spent"] <= spent["epsilon_cap"] == 5.0
    assert all(p["epsilon_spent"] <= 2.0 for p in spent["parties"])

    # 20. joint product: Shapley weights from the valuation, a split that adds up to the fen, and
    # each party's statement read back from its own postings
    prod = summary["product"]
    sale = prod["sale"]
    ruijin, huashan = (m["provider_id"] for m in prod["members"])
    assert huashan == prod["huashan"] != ruijin
    assert [m["rows"] for m in prod["members"]] == [8_000, 2_400]  # patients; no duplicates across them
    assert prod["weights"] == shapley_weights(prod["provider_sums"])
    assert sale["amount_fen"] == PRODUCT_PRICE_FEN and sale["fee_fen"] == PRODUCT_PRICE_FEN * 2 // 100
    assert sale["shares_fen"] == split_amount(PRODUCT_PRICE_FEN - sale["fee_fen"], prod["weights"])
    assert sum(sale["shares_fen"].values()) + sale["fee_fen"] == PRODUCT_PRICE_FEN
    # Huashan's noisy labels are worth less per row than Ruijin's: its Shapley share is below its row share
    assert 0 < sale["shares_fen"][huashan] / (PRODUCT_PRICE_FEN - sale["fee_fen"]) < 2_400 / 10_400
    statements = prod["statements"]
    assert statements["insurer"]["lines"] == {"wallet": -PRODUCT_PRICE_FEN}
    assert statements["ruijin"]["lines"] == {"revenue": sale["shares_fen"][ruijin]}
    assert statements["huashan"]["lines"] == {"revenue": sale["shares_fen"][huashan]}
    assert statements["huashan"]["balances"] == {"revenue": sale["shares_fen"][huashan]}
    assert {s["posting_id"] for s in statements.values()} == {sale["posting_id"]}

    # 21. ledger: balances follow the prices (2% fee) and verify
    st = summary["ledger"]["statements"]
    paid = 200_000 + d["rows_charged"] * 2 + 50_000 + PRODUCT_PRICE_FEN
    assert st["insurer"]["wallet"] == 1_000_000 - 200_000 - d["rows_charged"] * 2 - PRODUCT_PRICE_FEN
    assert st["insurer"]["wallet"] == statements["insurer"]["balances"]["wallet"]
    assert st["lab"]["wallet"] == 200_000 - 50_000
    assert st["huashan"] == {"revenue": sale["shares_fen"][huashan], "postings": 1}
    v = summary["ledger"]["verify"]
    assert v["ok"] is True and v["trial_balance"] == 0
    assert st["hospital"]["revenue"] + st["huashan"]["revenue"] + v["totals"]["fee"] == paid

    # the sale's log entry carries the weights and the shares, the valuation entry its inputs
    ex = Exchange.open(home=Path(summary["home"]))
    with ex, ex.session() as s:
        assert ex.get_dataset(summary["datasets"][0]["id"]).owner_id == ruijin  # the demo's hospital
        sold = ex.log.get_entry(s, statements["insurer"]["log_index"]).body
        valued = [e.body for e in ex.log.entries(s) if e.event == "valuation.computed"]
    assert sold["event"] == "product.sold" and sold["data"]["posting"]["id"] == sale["posting_id"]
    assert sold["data"]["weights"] == prod["weights"]
    assert sold["data"]["shares_fen"] == sale["shares_fen"]
    assert [e["data"]["valuation_id"] for e in valued] == [prod["valuation"]]
    assert valued[0]["data"]["method"] == "knn-shapley" and valued[0]["data"]["target"] == "chronic"
