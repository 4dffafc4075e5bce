"""``dataex demo`` end to end: every step's outcome is checked, not just that it ran."""

from __future__ import annotations

from pathlib import Path

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
