"""``dataex demo``: a hospital, an insurer and a copycat on a fresh node, end to end.

The scenario grows with every capability. Today: parties, registration of a GB18030 CSV and a
Parquet file, an originality refusal, an idempotent re-registration, an offline certificate check,
an inclusion proof, description and search, classification and quality, offers and a contract, a DP
SQL answer, an anonymized release delivered with fingerprints and a leak traced, a PSI count, a
compute-to-data job, a joint product of two hospitals whose revenue is split by Shapley value, the
settlement ledger, the policy point (a private dataset answering a stranger as an unknown id, a
refused action logged with its rule) and a full audit.
"""

from __future__ import annotations

import base64
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataex.catalog.certificates import verify_certificate
from dataex.demo import joint_product, publish_steps, use_steps
from dataex.demo.data import hospital_visits, insurer_policyholders
from dataex.errors import NotOriginal
from dataex.exchange import Exchange
from dataex.identity.parties import Party
from dataex.ledger import merkle

Echo = Callable[[str], None]
VISITS = 20_000
POLICYHOLDERS = 8_000


def write_gb18030_csv(table: pa.Table, path: Path) -> None:
    """Writes a CSV the way Chinese Excel and HIS exports do: GB18030-encoded."""
    scratch = path.with_suffix(".utf8.tmp")
    pacsv.write_csv(table, scratch)
    with scratch.open("r", encoding="utf-8") as src, path.open("w", encoding="gb18030", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    scratch.unlink()


def run_demo(home: Path | None = None, *, echo: Echo | None = None) -> dict[str, Any]:
    say: Echo = echo or (lambda _msg: None)
    started = time.monotonic()
    tmp = None
    if home is None:
        tmp = tempfile.mkdtemp(prefix="dataex-demo-")
        home = Path(tmp) / "node"
    files = home.parent / f"{home.name}-files"
    files.mkdir(parents=True, exist_ok=True)

    ex, _operator_token = Exchange.init(home=home, node_name="demo hospital-district node")
    with ex:
        say(f"[bold]1. node[/] {ex.node_id} created in {home}")
        hospital, _ = ex.create_party("瑞金医院 Ruijin Hospital", kind="hospital", role="provider")
        insurer, _ = ex.create_party("平安健康 Ping An Health", kind="insurer", role="provider")
        copycat, _ = ex.create_party("Shady Data Co", kind="enterprise", role="provider")
        ex.create_party("Triage AI Lab", kind="ai_team", role="consumer")
        auditor, _ = ex.create_party("市数据局 Municipal Data Bureau", kind="government", role="auditor")
        say("[bold]2. parties[/] hospital, insurer, a copycat broker, an AI lab and an auditor")

        visits = hospital_visits(VISITS, seed=2025)
        holders = insurer_policyholders(visits, POLICYHOLDERS, overlap=0.3, seed=2025)
        visits_csv = files / "outpatient_visits_2025.csv"
        write_gb18030_csv(visits, visits_csv)
        holders_parquet = files / "policyholders.parquet"
        pq.write_table(holders, holders_parquet)
        say(
            f"[bold]3. data[/] {visits.num_rows:,} outpatient visits (GB18030 CSV), "
            f"{holders.num_rows:,} policy holders (Parquet)"
        )

        v = ex.register(
            visits_csv,
            owner=hospital.id,
            title="门诊就诊记录 2025 Outpatient visits 2025",
            license="proprietary",
            actor=hospital.id,
        ).dataset
        h = ex.register(
            holders_parquet,
            owner=insurer.id,
            title="保单持有人 Policy holders",
            license="proprietary",
            actor=insurer.id,
        ).dataset
        say(
            f"[bold]4. registered[/] {v.id} ({v.rows:,} rows, {v.source['encoding']}) digest {v.digest[:23]}…"
        )
        say(f"              {h.id} ({h.rows:,} rows) digest {h.digest[:23]}…")

        # the copycat shuffles the rows, drops 5% of them and saves as UTF-8: still caught
        leaked = visits.take(pa.array(_shuffled_subset(visits.num_rows)))
        copy_csv = files / "bought_on_the_street.csv"
        pacsv.write_csv(leaked, copy_csv)
        refusal: dict[str, Any] = {}
        try:
            ex.register(
                copy_csv,
                owner=copycat.id,
                title="Hospital visits (cheap)",
                license="CC0-1.0",
                actor=copycat.id,
            )
        except NotOriginal as e:
            refusal = {"refused": True, "similar_to": e.dataset_id, "similarity": e.similarity}
            say(f"[bold]5. originality[/] copycat refused: {e.similarity:.0%} similar to {e.dataset_id}")
        again = ex.register(visits_csv, owner=hospital.id, title="again", license="proprietary")
        say(
            f"[bold]6. idempotent[/] hospital re-registers the same file → {again.dataset.id} "
            f"(created={again.created})"
        )

        payload, problems = verify_certificate(v.certificate, ex.key.public_raw)
        proof = ex.prove_inclusion(v.log_index)
        included = merkle.verify_inclusion(
            base64.b64decode(proof["entry_b64"]),
            proof["index"],
            proof["tree_size"],
            [bytes.fromhex(p) for p in proof["proof"]],
            bytes.fromhex(proof["root"]),
        )
        say(
            f"[bold]7. certificate[/] signature {'valid' if payload and not problems else 'INVALID'}; "
            f"log entry {v.log_index} included in checkpoint of size {proof['tree_size']}: {included}"
        )
        lab = next(p for p in ex.list_parties() if p.name == "Triage AI Lab")
        later = {
            **publish_steps.describe_and_find(ex, say, hospital=hospital, lab=lab, visits=v),
            **publish_steps.classify_and_evaluate(ex, say, visits=v),
            **publish_steps.offer_and_contract(ex, say, hospital=hospital, insurer=insurer, visits=v),
        }
        operator = next(p for p in ex.list_parties() if p.is_operator)
        cast = use_steps.Cast(operator=operator, hospital=hospital, insurer=insurer, lab=lab)
        later |= use_steps.dp_query(ex, say, cast, visits=v, contract_id=later["contract"])
        later |= use_steps.deidentify(ex, say, cast, visits=v)
        later |= use_steps.deliver_and_trace(
            ex, say, cast, anonymized_id=later["anonymized"]["id"], files=files
        )
        later |= use_steps.psi_count(
            ex, say, cast, contract_id=later["contract"], holders=holders_parquet, visits=visits
        )
        later |= use_steps.compute_to_data(ex, say, cast, visits=v)
        later |= joint_product.joint_product(ex, say, cast, visits=visits, files=files)
        huashan = ex.get_party(later["product"]["huashan"])
        later |= use_steps.ledger(ex, say, cast, others={"huashan": huashan})
        later |= use_steps.policy_point(ex, say, cast, visits=v, files=files)
        audit = ex.audit()
        say(
            f"[bold]23. audit[/] {audit.checked.get('entries')} log entries, "
            f"{audit.checked.get('files')} files, state replayed from the log: "
            f"{'ok' if audit.ok else audit.problems}"
        )
        opened = _open_a_commitment(ex, auditor, hospital.id)
        say(
            f"              the public log names no party: the auditor opens entry #{opened['index']}'s "
            f"sealed name → {opened['name']} "
            f"(commitment {opened['commitment'][:12]}… checked: {opened['checked']})"
        )
        summary = {
            "ok": bool(refusal)
            and audit.ok
            and included
            and payload is not None
            and not problems
            and not again.created
            and later["search_top_hit"] == v.id
            and later["demand_best_match"] == v.id
            and later["contract_state"] == "active"
            and later["dp"]["groups"] > 0
            and later["anonymized"]["k"] >= use_steps.K
            and later["delivery"]["traced_to"] == later["delivery"]["contract"]
            and abs(later["psi"]["count"] - later["psi"]["true_overlap"]) <= use_steps.PSI_TOLERANCE
            and later["compute"]["state"] == "succeeded"
            and sum(later["product"]["sale"]["shares_fen"].values()) + later["product"]["sale"]["fee_fen"]
            == later["product"]["sale"]["amount_fen"]
            and later["ledger"]["verify"]["ok"]
            and later["policy"]["private_as_unknown"]
            and later["policy"]["denied_rule"] == "manage.owner"
            and opened["checked"],
            "home": str(home),
            "node_id": ex.node_id,
            "datasets": [{"id": d.id, "title": d.title, "rows": d.rows, "digest": d.digest} for d in (v, h)],
            "originality": refusal,
            "idempotent": not again.created,
            "certificate_valid": payload is not None and not problems,
            "inclusion_verified": included,
            **later,
            "audit": audit.to_dict(),
            "opened_commitment": opened,
            "seconds": round(time.monotonic() - started, 2),
        }
    say(f"done in {summary['seconds']} s — node kept at {home}")
    return summary


def _open_a_commitment(ex: Exchange, auditor: Party, party_id: str) -> dict[str, Any]:
    """The auditor opens the sealed name in a party's ``party.added`` entry and checks it against
    the public commitment, recomputed here from the opening (docs/log.md, "Sealed fields")."""
    from dataex.audit import openings_for
    from dataex.ledger.log import commitment

    with ex.session() as s:
        entry = next(
            e
            for e in ex.log.entries(s)
            if e.event == "party.added" and e.body["data"]["party_id"] == party_id
        )
    shown = {o["field"]: o for o in openings_for(ex, auditor, entry.index)["openings"]}
    name = shown["name"]
    public = entry.body["data"]["name"]["$commit"]
    checked = commitment(bytes.fromhex(name["salt"]), name["value"]) == public == name["commitment"]
    return {"index": entry.index, "name": name["value"], "commitment": public, "checked": checked}


def _shuffled_subset(n: int) -> list[int]:
    """A fixed permutation of 95% of the row positions (a deterministic stride walk, no RNG)."""
    stride = 7919  # prime, coprime with n unless n is a multiple of it
    order = [(i * stride) % n for i in range(n)] if n % stride else list(range(n))[::-1]
    return order[: int(n * 0.95)]
