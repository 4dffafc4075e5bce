"""Demo step: a joint product of two hospitals, bought by the insurer, revenue split by Shapley value.

Ruijin (the demo's hospital) and a second hospital, Huashan, each register a per-patient panel
(age, sex, visits, total cost, a chronic-disease flag) derived from their own outpatient visits;
Huashan codes the flag from billing items, so 15 % of its labels are wrong. The operator combines
the two panels into one product split by ``shapley``, values it with KNN-Shapley on the insurer's
audited claims sample (the consumer-supplied validation set), and the insurer buys it. Each
party's statement of the sale is read back from its own ledger postings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from dataex.demo.data import hospital_visits, patient_panel
from dataex.demo.use_steps import Cast, yuan
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.market import ledger
from dataex.market.products import buy_product, create_product
from dataex.market.settlement import ledger_statement
from dataex.market.valuation import value

Echo = Callable[[str], None]

PRODUCT_PRICE_FEN: Final = 300_000  # ¥3,000
HUASHAN_VISITS: Final = 6_000
HUASHAN_LABEL_NOISE: Final = 0.15
VALIDATION_VISITS: Final = 1_000
TARGET: Final = "chronic"
K: Final = 10


def joint_product(ex: Exchange, say: Echo, cast: Cast, *, visits: pa.Table, files: Path) -> dict[str, Any]:
    """Two hospitals' panels → one product → KNN-Shapley on the insurer's sample → sale → statements."""
    huashan, _ = ex.create_party("华山医院 Huashan Hospital", kind="hospital", role="provider")
    ruijin_panel = files / "ruijin_chronic_panel.parquet"
    huashan_panel = files / "huashan_chronic_panel.parquet"
    sample = files / "insurer_audited_claims.parquet"
    pq.write_table(patient_panel(visits), ruijin_panel)
    other = hospital_visits(HUASHAN_VISITS, seed=2026)
    pq.write_table(patient_panel(other, label_noise=HUASHAN_LABEL_NOISE, seed=2026), huashan_panel)
    pq.write_table(patient_panel(hospital_visits(VALIDATION_VISITS, seed=2027)), sample)
    members = [
        ex.register(
            path, owner=party.id, title=title, license="proprietary", actor=party.id, analyze=False
        ).dataset
        for path, party, title in (
            (ruijin_panel, cast.hospital, "瑞金慢病风险面板 Ruijin chronic-risk panel"),
            (huashan_panel, huashan, "华山慢病风险面板 Huashan chronic-risk panel"),
        )
    ]
    product = create_product(
        ex,
        title="两院慢病风险面板 Two-hospital chronic-risk panel",
        dataset_ids=[m.id for m in members],
        split="shapley",
        price_fen=PRODUCT_PRICE_FEN,
        actor=cast.operator,
    )
    valued = value(
        ex, product.id, target=TARGET, validation=sample, method="knn-shapley", k=K, actor=cast.operator
    )
    sold = buy_product(ex, product.id, actor=cast.insurer)
    parties = {"insurer": cast.insurer, "ruijin": cast.hospital, "huashan": huashan}
    statements = {name: _sale_statement(ex, party, sold["posting_id"]) for name, party in parties.items()}
    rows = {m["provider_id"]: m["rows"] for m in product.members}
    say(
        f"[bold]20. joint product[/] {product.id}: Ruijin {rows[cast.hospital.id]:,} + Huashan "
        f"{rows[huashan.id]:,} patients (chronic-risk panels, one schema); KNN-Shapley (k={K}) on the "
        f"insurer's {pq.read_metadata(sample).num_rows} audited claims"
    )
    for name, party in (("Ruijin", cast.hospital), ("Huashan", huashan)):
        say(
            f"              {name:<8} Shapley {valued.provider_sums[party.id]:+.4f} → "
            f"{sold['shares_fen'][party.id] / (PRODUCT_PRICE_FEN - sold['fee_fen']):.1%} of the revenue "
            f"(by rows it would be {rows[party.id] / sum(rows.values()):.1%})"
        )
    say(
        f"              sale {sold['id']}, posting {sold['posting_id']} (log entry "
        f"{statements['insurer']['log_index']}); each party's own statement of it:"
    )
    for name, st in statements.items():
        held = st["balances"]
        lines = ", ".join(f"{k} {_signed(fen)} (balance {yuan(held[k])})" for k, fen in st["lines"].items())
        say(f"              {name:<8} {lines}")
    say(f"              exchange fee {_signed(sold['fee_fen'])}")
    return {
        "product": {
            "id": product.id,
            "members": product.members,
            "duplicates": product.duplicates,
            "provider_sums": valued.provider_sums,
            "weights": valued.shares["weights"],
            "valuation": valued.id,
            "sale": sold,
            "statements": statements,
            "huashan": huashan.id,
        }
    }


def _sale_statement(ex: Exchange, party: Party, posting_id: str) -> dict[str, Any]:
    """The party's own lines of the sale's posting, from the statement the party itself may read."""
    st = ledger_statement(ex, actor=party)
    posting = next(p for p in st["postings"] if p["id"] == posting_id)
    mine = {
        ledger.kind_of(line["account"]): line["amount_fen"]
        for line in posting["lines"]
        if line["account"] in st["accounts"]
    }
    balances = {ledger.kind_of(a): fen for a, fen in st["accounts"].items()}
    return {"posting_id": posting_id, "log_index": posting["log_index"], "lines": mine, "balances": balances}


def _signed(fen: int) -> str:
    return ("−" if fen < 0 else "+") + yuan(abs(fen))
