"""``dataex demo`` end to end: every step's outcome is checked, not just that it ran."""

from __future__ import annotations

from pathlib import Path

from dataex.demo.data import DIAGNOSES
from dataex.demo.scenario import run_demo


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
    assert any("originality" in line for line in lines)
    assert [line.split("[/]")[0].removeprefix("[bold]") for line in lines if line.startswith("[bold]")][
        -7:
    ] == [
        "16. DP SQL",
        "17. anonymized",
        "18. delivery",
        "19. PSI",
        "20. compute",
        "21. ledger",
        "22. audit",
    ]

    # 16. DP SQL under the insurer's L1 contract (ε 3.0): 0.5 charged, top groups with intervals
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

    # 17. anonymized: a derived dataset, k >= 5, resident IDs to province, ages in bands
    anon = summary["anonymized"]
    assert anon["derived_from"] == summary["datasets"][0]["id"]
    assert anon["k"] >= 5
    assert anon["levels"]["id_no"] >= 1 and anon["levels"]["age"] >= 1
    assert anon["suppressed"] <= 0.02 * 20_000 and anon["rows"] + anon["suppressed"] == 20_000
    assert not {"name", "mobile", "patient_id"} & set(anon["columns"])

    # 18. delivery: every row charged once at 2 fen; the leaked 5% traces to the insurer's L3 contract
    d = summary["delivery"]
    assert d["rows"] == d["rows_charged"] == anon["rows"]
    assert d["leaked_rows"] == int(anon["rows"] * 0.05)
    assert d["trace_status"] == "match" and d["traced_to"] == d["contract"]
    assert d["false_accusation_bound"] < 1e-6

    # 19. PSI count equals the true overlap of resident IDs
    psi = summary["psi"]
    assert psi["count"] == psi["true_overlap"] > 0
    assert psi["consumer_items"] == 8_000

    # 20. compute-to-data: the DP model trained and only its outputs left the node
    job = summary["compute"]
    assert job["state"] == "succeeded", job["reason"]
    assert job["outputs"] == ["metrics.json", "model.onnx", "model_card.json"]
    assert 0.5 <= job["metrics"]["accuracy"] <= 1.0
    assert len(job["onnx_sha256"]) == 64

    # 21. ledger: balances follow the prices (2% fee) and verify
    st = summary["ledger"]["statements"]
    paid = 200_000 + d["rows_charged"] * 2 + 50_000
    assert st["insurer"]["wallet"] == 1_000_000 - 200_000 - d["rows_charged"] * 2
    assert st["lab"]["wallet"] == 200_000 - 50_000
    v = summary["ledger"]["verify"]
    assert v["ok"] is True and v["trial_balance"] == 0
    assert st["hospital"]["revenue"] + v["totals"]["fee"] == paid
