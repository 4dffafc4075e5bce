"""Demo steps up to the contract: describe and find, classify and score quality, offer and contract.

``scenario.run_demo`` calls them in order, then the steps of :mod:`dataex.demo.use_steps`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dataex.catalog import croissant, demand, metadata, search
from dataex.catalog.datasets import Dataset
from dataex.contracts import lifecycle, offers
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.privacy.classify import get_classification
from dataex.quality.service import get_report

Echo = Callable[[str], None]

VISITS_DESCRIPTION = """\
门诊就诊记录，2025 年全年，来自医院信息系统（HIS）导出。每行是一次门诊就诊：患者、科室、
ICD-10 诊断编码与名称、费用、是否医保。

Outpatient visits for 2025 exported from the hospital information system: one row per visit with the
patient, department, ICD-10 diagnosis code and name, cost and insurance status.
"""


def describe_and_find(
    ex: Exchange, say: Echo, *, hospital: Party, lab: Party, visits: Dataset
) -> dict[str, Any]:
    """The hospital describes its data; the AI lab finds it by a Chinese search and a demand."""
    metadata.describe(
        ex,
        visits.id,
        actor=hospital,
        description=VISITS_DESCRIPTION,
        keywords=["医疗", "门诊", "诊断", "outpatient", "diagnosis", "ICD-10"],
        fields={
            "diagnosis": "ICD-10 code of the main diagnosis",
            "diagnosis_name": "诊断名称 (Chinese name of the ICD-10 code)",
            "cost": "费用 in yuan",
            "age": "年龄 age in years at 2025-01-01",
        },
        rai={
            "data_collection": "HIS export, 2025-01..12",
            "annotation_protocol": "diagnoses coded by two coders, disagreements resolved by a third",
        },
        temporal_coverage="2025-01-01/2025-12-31",
        spatial_coverage="杭州 Hangzhou",
        languages=["zh", "en"],
    )
    doc = croissant.export_croissant(ex, visits.id, local=True)
    croissant.validate_croissant(doc)
    fields = len(doc["recordSet"][0]["field"])
    say(f"[bold]8. described[/] Croissant 1.1 document with {fields} fields validates")
    hits = search.search(ex, "门诊 诊断", actor=lab)
    top = hits.hits[0] if hits.hits else None
    say(f"[bold]9. search[/] “门诊 诊断” → {hits.total} hit(s), top: {top.title if top else '-'}")
    wanted = demand.post_demand(
        ex,
        actor=lab,
        title="门诊诊断数据 Outpatient diagnoses for triage",
        fields=["age", "sex", "diagnosis", "cost"],
        purpose="train a triage model",
        budget=5_000_000,
        deadline=(datetime.now(UTC) + timedelta(days=90)).date(),
    )
    matches = demand.match_demand(ex, wanted.id, actor=lab)
    best = matches[0] if matches else None
    say(
        f"[bold]10. demand[/] the AI lab asks for age, sex, diagnosis, cost → best match "
        f"{best.dataset_id if best else '-'} (score {best.score if best else 0:.2f})"
    )
    return {
        "search_top_hit": top.dataset_id if top else None,
        "demand": wanted.id,
        "demand_best_match": best.dataset_id if best else None,
    }


def classify_and_evaluate(ex: Exchange, say: Echo, *, visits: Dataset) -> dict[str, Any]:
    """Registration already classified the data and scored its quality; show both."""
    classification = get_classification(ex, visits.id)
    sensitive = [f["name"] for f in classification.fields if f["category"] == "sensitive_personal"]
    personal = [f["name"] for f in classification.fields if f["category"] == "personal"]
    report = get_report(ex, visits.id)
    dims = ", ".join(f"{k} {v:.0f}" for k, v in report["dimensions"].items())
    say(
        f"[bold]11. classified[/] grade {classification.grade}: sensitive personal {', '.join(sensitive)}; "
        f"personal {', '.join(personal)}"
    )
    say(f"[bold]12. quality[/] grade {report['grade']} ({dims})")
    return {"grade": classification.grade, "sensitive_fields": sensitive, "quality_grade": report["grade"]}


def offer_and_contract(
    ex: Exchange, say: Echo, *, hospital: Party, insurer: Party, visits: Dataset
) -> dict[str, Any]:
    """The hospital offers L1 (DP aggregates) and L3 (de-identified extract); the insurer asks; approved."""
    expires = (datetime.now(UTC) + timedelta(days=365)).date()
    l1 = offers.create_offer(
        ex,
        visits.id,
        actor=hospital,
        tier="L1",
        purposes=["research", "insurance-pricing"],
        epsilon=3.0,
        expires=expires,
        price=200_000,
        max_queries=100,
    )
    l3 = offers.create_offer(
        ex,
        visits.id,
        actor=hospital,
        tier="L3",
        purposes=["ai-training"],
        max_rows=100_000,
        price="0.02/row",
        expires=expires,
        prohibitions=["redistribution"],
        legal_basis="consent",
    )
    requested = lifecycle.request_contract(
        ex, l1.id, actor=insurer, purpose="insurance-pricing", note="claims cost model"
    )
    approved = lifecycle.approve_contract(ex, requested.id, actor=hospital, reason="purpose fits the offer")
    say(f"[bold]13. offers[/] hospital offers {l1.id} (L1, ε 3.0) and {l3.id} (L3, 0.02 yuan/row)")
    say(f"[bold]14. contract[/] insurer requests {requested.id} for insurance-pricing → {approved.state}")
    return {"offers": [l1.id, l3.id], "contract": approved.id, "contract_state": approved.state}
