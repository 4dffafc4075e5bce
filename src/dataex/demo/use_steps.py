"""Demo steps after the contract: DP SQL, anonymization, fingerprinted delivery, PSI, compute, the ledger.

``scenario.run_demo`` calls them in order after ``publish_steps.offer_and_contract``; each prints one
numbered line (plus indented continuation lines) and returns the values the summary and the
tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataex.catalog.datasets import Dataset
from dataex.catalog.metadata import describe
from dataex.compute import jobs
from dataex.contracts import budget, lifecycle, offers
from dataex.delivery.extracts import extract
from dataex.delivery.tolerances import set_tolerances
from dataex.delivery.trace import trace
from dataex.demo.data import DIAGNOSES
from dataex.errors import DatasetNotFound
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.market.settlement import deposit, ledger_statement, verify_ledger, wallet_view
from dataex.policy import authorize
from dataex.privacy.anonymize.engine import Spec
from dataex.privacy.anonymize.service import anonymize
from dataex.privacy.classify import get_classification
from dataex.privacy.dp.service import query
from dataex.privacy.dp.settings_service import set_privacy
from dataex.privacy.psi.client import LocalTransport
from dataex.privacy.psi.client import run as run_psi

Echo = Callable[[str], None]

DP_TABLE: Final = "outpatient_visits_2025"
"""A DP query names its contract's dataset by id or by the stem of the file it was registered from."""
DP_SQL: Final = (
    "SELECT diagnosis, COUNT(*) AS n, AVG(cost) AS avg_cost "
    f"FROM {DP_TABLE} WHERE age >= 60 GROUP BY diagnosis"
)
DP_EPSILON: Final = 0.5
PSI_EPSILON: Final = 0.5
PSI_TOLERANCE: Final = 60
"""|noisy − true| bound of the PSI DP count (discrete Laplace, scale 1/ε = 2: passed w.p. < 1e-12)."""
EPSILON_CAP: Final = 5.0
"""The visits' lifetime ε account: all consumers together, over every contract and derived release."""
EPSILON_CAP_PER_PARTY: Final = 2.0
INSURER_DEPOSIT: Final = 1_000_000  # fen: ¥10,000
LAB_DEPOSIT: Final = 200_000  # fen: ¥2,000
LEAK_SHARE: Final = 0.05
K: Final = 5
ROW_PRICE_FEN: Final = 2  # the L3 offer's 0.02 yuan per row
LAB_RECIPE: Final = """
task: classification
features: [age, sex, cost]
target: insured
model: {name: dp_logistic_regression, params: {C: 1.0, max_iter: 200}}
split: {test_size: 0.25, seed: 7}
metrics: [accuracy, f1_macro]
epsilon: 1.0
"""


@dataclass(frozen=True)
class Cast:
    """The parties the later steps need."""

    operator: Party
    hospital: Party
    insurer: Party
    lab: Party


def yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def dp_query(ex: Exchange, say: Echo, cast: Cast, *, visits: Dataset, contract_id: str) -> dict[str, Any]:
    """The insurer pays in, the hospital declares privacy metadata, the insurer asks a DP question."""
    paid = deposit(ex, cast.insurer.id, INSURER_DEPOSIT, actor=cast.operator)
    set_privacy(
        ex,
        visits.id,
        actor=cast.hospital,
        unit="patient_id",
        max_contributions=3,
        bounds={"cost": (0.0, 20_000.0), "age": (0.0, 120.0)},
        domains={"diagnosis": sorted(DIAGNOSES), "sex": ["女", "男"]},  # public keys (DP training uses sex)
    )
    budget.set_account(
        ex,
        visits.id,
        actor=cast.hospital,
        epsilon_cap=EPSILON_CAP,
        epsilon_cap_per_party=EPSILON_CAP_PER_PARTY,
    )
    answer = query(ex, contract_id, DP_SQL, epsilon=DP_EPSILON, actor=cast.insurer)
    account = budget.get_account(ex, visits.id, viewer=cast.hospital)
    ranked = sorted(zip(answer.rows, answer.intervals, strict=True), key=lambda ri: -float(ri[0]["n"] or 0))
    top = [
        {
            "diagnosis": row["diagnosis"],
            "n": row["n"],
            "n_interval": ci["n"],
            "avg_cost": row["avg_cost"],
            "avg_cost_interval": ci["avg_cost"],
        }
        for row, ci in ranked[:3]
    ]
    wallet = wallet_view(ex, cast.insurer.id, actor=cast.insurer)
    say(
        f"[bold]15. DP SQL[/] insurer: diagnoses of patients aged 60+, COUNT and AVG(cost), ε {DP_EPSILON} → "
        f"{len(answer.rows)} groups, ε left {answer.epsilon_remaining:g}; top 3 (95% intervals):"
    )
    for t in top:
        say(
            f"              {t['diagnosis']:<6} {DIAGNOSES.get(str(t['diagnosis']), ''):<8} "
            f"n {t['n']:,.0f} {_interval(t['n_interval'], 0)}  "
            f"avg cost ¥{t['avg_cost']:,.0f} {_interval(t['avg_cost_interval'], 0)}"
        )
    say(
        f"              privacy account of the visits (`dataex privacy show`): ε {account.epsilon_spent:g}"
        f" of {account.epsilon_cap:g} spent by all consumers together, at most {EPSILON_CAP_PER_PARTY:g}"
        " per party across all its contracts — more contracts do not multiply ε"
    )
    say(
        f"              market: operator deposits {yuan(INSURER_DEPOSIT)} for the insurer, which settles "
        f"{len(paid['settled_orders'])} due L1 order; insurer wallet now {yuan(wallet['balances']['wallet'])}"
    )
    return {
        "dp": {
            "groups": len(answer.rows),
            "top": top,
            "epsilon_charged": answer.epsilon_charged,
            "epsilon_remaining": answer.epsilon_remaining,
            "settled_orders": paid["settled_orders"],
            "insurer_wallet_fen": wallet["balances"]["wallet"],
            "account": account.to_dict(),
        }
    }


def _interval(ci: list[float] | None, digits: int) -> str:
    return "" if ci is None else f"[{ci[0]:,.{digits}f}, {ci[1]:,.{digits}f}]"


def deidentify(ex: Exchange, say: Echo, cast: Cast, *, visits: Dataset) -> dict[str, Any]:
    """The hospital makes an L3-ready release: resident IDs up the area-code hierarchy, ages banded, k=5."""
    # the "loss" metric keeps some of every QI (province, 10-year bands) where "entropy" would rather
    # generalize the resident ID to "*" and keep exact ages
    spec = Spec(
        qi=["id_no", "sex", "age"],
        k=K,
        max_suppression=0.02,
        metric="loss",
        drop=["name", "mobile", "patient_id"],
    )
    result = anonymize(ex, visits.id, spec, actor=cast.hospital)
    o = result.outcome
    example = o.table.slice(0, 1).to_pylist()[0]
    levels = ", ".join(f"{c} {n}" for c, n in (o.levels or {}).items())
    say(
        f"[bold]16. anonymized[/] {result.dataset.id} derived from {visits.id}: id_no → {example['id_no']}, "
        f"age → {example['age']} (levels {levels}); achieved k={o.achieved.get('k')}, "
        f"{o.suppressed} rows suppressed, {o.table.num_rows:,} kept"
    )
    return {
        "anonymized": {
            "id": result.dataset.id,
            "derived_from": visits.id,
            "k": o.achieved.get("k"),
            "suppressed": o.suppressed,
            "rows": o.table.num_rows,
            "levels": o.levels,
            "columns": o.table.column_names,
        }
    }


def deliver_and_trace(
    ex: Exchange, say: Echo, cast: Cast, *, anonymized_id: str, files: Path
) -> dict[str, Any]:
    """L3 offer of the release, a fingerprinted extract, a leaked 5% traced back to its contract."""
    set_tolerances(ex, anonymized_id, {"cost": 1}, actor=cast.hospital)
    offer = offers.create_offer(
        ex,
        anonymized_id,
        actor=cast.hospital,
        tier="L3",
        purposes=["insurance-pricing"],
        max_rows=100_000,
        price=f"{ROW_PRICE_FEN / 100:.2f}/row",
        expires=(datetime.now(UTC) + timedelta(days=365)).date(),
        prohibitions=["redistribution"],
        legal_basis="consent",
    )
    asked = lifecycle.request_contract(ex, offer.id, actor=cast.insurer, purpose="insurance-pricing")
    contract = lifecycle.approve_contract(ex, asked.id, actor=cast.hospital, reason="de-identified release")
    got = extract(ex, contract.id, actor=cast.insurer, out=files / "insurer_extract.parquet")
    copy = pq.read_table(got.path)
    leak = copy.take(pa.array(_leak_rows(copy.num_rows)))
    leak_csv = files / "found_on_a_forum.csv"
    pacsv.write_csv(leak, leak_csv)
    traced = trace(ex, leak_csv)
    best = traced.matches[0] if traced.matches else None
    say(
        f"[bold]17. delivery[/] L3 {contract.id} → {got.rows:,} fingerprinted rows ({got.marked_cells:,} "
        f"marked cells, {yuan(got.rows_charged * ROW_PRICE_FEN)}); a leaked {leak.num_rows:,}-row "
        "shuffled CSV traces to "
        f"{best.contract_id if best else 'nobody'} (false-accusation bound "
        f"{best.false_accusation_bound if best else 1.0:.1e})"
    )
    return {
        "delivery": {
            "offer": offer.id,
            "contract": contract.id,
            "rows": got.rows,
            "rows_charged": got.rows_charged,
            "sha256": got.sha256,
            "leaked_rows": leak.num_rows,
            "trace_status": traced.status,
            "traced_to": best.contract_id if best else None,
            "traced_consumer": best.consumer_id if best else None,
            "false_accusation_bound": best.false_accusation_bound if best else None,
        }
    }


def _leak_rows(n: int) -> list[int]:
    """A deterministic, scattered (so shuffled) 5% of the rows: a stride walk, no RNG."""
    stride = 104_729  # prime
    if n % stride == 0:
        stride = 7_919
    return [(i * stride) % n for i in range(max(1, int(n * LEAK_SHARE)))]


def psi_count(
    ex: Exchange, say: Echo, cast: Cast, *, contract_id: str, holders: Path, visits: pa.Table
) -> dict[str, Any]:
    """How many of the insurer's policy holders visited the hospital, as a DP count (L1: no exact
    intersection size is released), learning nothing else."""
    result = run_psi(
        LocalTransport(ex, cast.insurer),
        contract_id,
        input=holders,
        column="id_no",
        reveal="count",
        epsilon=PSI_EPSILON,
    )
    mine = set(pq.read_table(holders, columns=["id_no"]).column("id_no").to_pylist())
    theirs = set(visits.column("id_no").to_pylist())
    truth = len(mine & theirs)
    say(
        f"[bold]18. PSI[/] DP count under {contract_id} (ε {PSI_EPSILON}): {result.consumer_items:,} policy "
        f"holders × ~{result.provider_items:,} patients → ≈{result.count or 0:,} in common "
        f"(true overlap {truth:,})"
    )
    return {
        "psi": {
            "count": result.count,
            "epsilon": PSI_EPSILON,
            "true_overlap": truth,
            "consumer_items": result.consumer_items,
            "provider_items": result.provider_items,
            "session": result.session_id,
        }
    }


def compute_to_data(ex: Exchange, say: Echo, cast: Cast, *, visits: Dataset) -> dict[str, Any]:
    """The AI lab trains a DP model next to the data under L2 and takes home only the ONNX file."""
    deposit(ex, cast.lab.id, LAB_DEPOSIT, actor=cast.operator)
    offer = offers.create_offer(
        ex,
        visits.id,
        actor=cast.hospital,
        tier="L2",
        purposes=["ai-training"],
        epsilon=2.0,
        max_queries=10,
        price=50_000,
        expires=(datetime.now(UTC) + timedelta(days=180)).date(),
    )
    asked = lifecycle.request_contract(ex, offer.id, actor=cast.lab, purpose="ai-training")
    contract = lifecycle.approve_contract(ex, asked.id, actor=cast.hospital)
    queued = jobs.submit(ex, cast.lab, contract.id, LAB_RECIPE)
    job = jobs.run_job(ex, queued.id)
    onnx = job.outputs.get("model.onnx", {}).get("sha256")
    accuracy = job.metrics.get("accuracy")
    account = budget.get_account(ex, visits.id, viewer=cast.hospital)
    say(
        f"[bold]19. compute[/] AI lab's L2 {contract.id}: job {job.id} {job.state} — DP logistic regression "
        f"(ε 1.0) predicting insured from age, sex, cost: accuracy {accuracy or 0:.3f}; "
        f"model.onnx sha256:{(onnx or '-')[:16]}…"
    )
    spent_by = ", ".join(f"{p['party_id']} {p['epsilon_spent']:g}" for p in account.parties)
    say(
        f"              the visits' privacy account now: ε {account.epsilon_spent:g} of"
        f" {account.epsilon_cap:g} spent ({spent_by}); each DP query, PSI-then-DP and DP training draws on it"
    )
    return {
        "compute": {
            "contract": contract.id,
            "job": job.id,
            "state": job.state,
            "reason": job.reason,
            "metrics": job.metrics,
            "onnx_sha256": onnx,
            "outputs": sorted(job.outputs),
            "account": account.to_dict(),
        }
    }


def ledger(ex: Exchange, say: Echo, cast: Cast, *, others: dict[str, Party] | None = None) -> dict[str, Any]:
    """Every party's own statement (the cast's and ``others``), then the ledger verification."""
    statements: dict[str, dict[str, int]] = {}
    parties = {"hospital": cast.hospital, "insurer": cast.insurer, "lab": cast.lab, **(others or {})}
    for name, party in parties.items():
        st = ledger_statement(ex, actor=party)
        balances = {acct.split(":", 1)[0]: fen for acct, fen in st["accounts"].items()}
        statements[name] = {**balances, "postings": len(st["postings"])}
    checked = verify_ledger(ex, actor=cast.operator)
    parts = "; ".join(
        f"{name} "
        + ", ".join(f"{k} {yuan(v)}" for k, v in s.items() if k != "postings")
        + f" ({s['postings']} postings)"
        for name, s in statements.items()
    )
    say(f"[bold]21. ledger[/] {parts}")
    say(
        f"              ledger verify: {'ok' if checked['ok'] else checked['problems']} — "
        f"{checked['postings']} postings, trial balance {checked['trial_balance']} fen, "
        f"fee income {yuan(checked['totals'].get('fee', 0))}"
    )
    return {"ledger": {"statements": statements, "verify": checked}}


def policy_point(ex: Exchange, say: Echo, cast: Cast, *, visits: Dataset, files: Path) -> dict[str, Any]:
    """One ``authorize()`` for every action: the hospital's private dataset answers the AI lab
    exactly as an id never registered, and the lab offering the hospital's data is refused by a
    named rule, with the refusal in the log."""
    notes = files / "ward_handover_notes.csv"
    rows = "".join(f"{bed},{'stable' if bed % 3 else 'watch'},{bed % 7}\n" for bed in range(1, 41))
    notes.write_text("bed,status,nurse_round\n" + rows, encoding="utf-8")
    private = ex.register(
        notes,
        owner=cast.hospital.id,
        title="病区交班 Ward hand-over",
        license="proprietary",
        actor=cast.hospital.id,
    ).dataset
    describe(ex, private.id, actor=cast.hospital, visibility="private")
    never = "ds_" + "0" * (len(private.id) - 3)
    answers = []
    for dataset_id in (private.id, never):
        try:
            get_classification(ex, dataset_id, viewer=cast.lab)
        except DatasetNotFound as e:
            answers.append((e.status, e.code, e.message.replace(dataset_id, "<id>")))
    as_unknown = len(answers) == 2 and answers[0] == answers[1]
    denied = authorize(ex, cast.lab, "create_offer", visits.id)
    owner_sees = get_classification(ex, private.id, viewer=cast.hospital).grade
    say(
        f"[bold]22. policy[/] the hospital's private {private.id} answers the AI lab as an unknown id: "
        f"{as_unknown} ({answers[0][0] if answers else '?'} {answers[0][1] if answers else ''}); "
        f"its owner sees grade {owner_sees}"
    )
    say(
        f"              the AI lab offering the hospital's visits: denied by rule {denied.rule}, "
        f"logged as entry {denied.log_index}"
    )
    return {
        "policy": {
            "private_id": private.id,
            "private_as_unknown": as_unknown,
            "denied_rule": denied.rule,
            "denied_log_index": denied.log_index,
        }
    }
