"""Market benchmarks: KNN-Shapley against pyDVL 0.10, and usage charges posted on SQLite.

    python -m bench.market [--train 50000] [--val 5000] [--dim 20] [--pydvl-val 100]
                           [--charges 100000] [--batch 500] [--single 2000] [--setup]

KNN-Shapley: ours (``dataex.market.valuation.knn_shapley``) on the full input. pyDVL 0.10's
``KNNShapleyValuation`` runs in a throw-away venv (bench/work/pydvl-venv; ``--setup`` creates it:
pyDVL pins numpy < 2, which the main environment does not allow) on the same training rows and the
first ``--pydvl-val`` validation rows; its time is extrapolated linearly to all validation rows
(its cost is exactly linear in them: one full neighbour sort and a Python loop over every
training row per validation point; the full run would also need ~4 GB for its index matrix).
Both results are compared on the common validation subset.

Settlement: a node with one per-query contract; ``--single`` end-to-end ``budget.charge`` calls
(each its own transaction: budget, log entry, posting, checkpoint) and ``--charges``
``settlement.charge_usage`` postings in caller transactions of ``--batch`` charges (as a query
service charging a batch); then ``ledger verify`` must pass. Goals: KNN-Shapley < 20 s and
>= 10x pyDVL; >= 2,000 charges/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.peers import peer_python

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PYDVL = """
import json, sys, time, numpy as np
from sklearn.neighbors import KNeighborsClassifier
from pydvl.valuation import Dataset, KNNShapleyValuation
d = np.load(sys.argv[1]); k = int(sys.argv[2]); m = int(sys.argv[3])
v = KNNShapleyValuation(KNeighborsClassifier(n_neighbors=k), Dataset(d["xv"][:m], d["yv"][:m]), progress=False)
t = time.perf_counter(); v.fit(Dataset(d["x"], d["y"])); seconds = time.perf_counter() - t
out = np.zeros(len(d["x"])); out[v.result.indices] = v.result.values
np.save(sys.argv[4], out)
print(json.dumps({"seconds": seconds}))
"""


PYDVL_REQUIREMENTS = ["pydvl==0.10.0", "scikit-learn"]


def setup() -> Path:
    return peer_python("pydvl", PYDVL_REQUIREMENTS)


def data(n: int, m: int, d: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)  # noqa: TID251  (seeded benchmark data, not privacy noise)
    x, xv = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    w = rng.normal(size=d)
    y = (x @ w + rng.normal(0, 1, n) > 0).astype(np.int64)
    yv = (xv @ w + rng.normal(0, 1, m) > 0).astype(np.int64)
    return x, y, xv, yv


def knn(n: int, m: int, d: int, k: int, pydvl_m: int) -> dict[str, object]:
    from dataex.market.valuation import knn_shapley

    x, y, xv, yv = data(n, m, d)
    t = time.perf_counter()
    knn_shapley(x, y, xv, yv, k)
    ours_s = time.perf_counter() - t
    out: dict[str, object] = {"train": n, "val": m, "dim": d, "k": k, "ours_seconds": round(ours_s, 2)}
    python = setup()
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        np.savez(Path(tmp) / "d.npz", x=x, y=y, xv=xv, yv=yv)
        done = subprocess.run(
            [str(python), "-W", "ignore", "-c", PYDVL, f"{tmp}/d.npz", str(k), str(pydvl_m), f"{tmp}/v.npy"],
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = np.load(Path(tmp) / "v.npy")
    pydvl_s = json.loads(done.stdout)["seconds"]
    subset = knn_shapley(x, y, xv[:pydvl_m], yv[:pydvl_m], k)
    extrapolated = pydvl_s * m / pydvl_m
    out |= {
        "pydvl_val_rows_measured": pydvl_m,
        "pydvl_seconds_measured": round(pydvl_s, 2),
        "pydvl_seconds_extrapolated": round(extrapolated, 1),
        "speedup": round(extrapolated / ours_s, 1),
        "max_abs_difference_on_subset": float(np.max(np.abs(subset - theirs))),
    }
    return out


def settlement(charges: int, batch: int, single: int) -> dict[str, object]:
    from dataex import Exchange
    from dataex.contracts.budget import charge
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer
    from dataex.market.settlement import charge_usage, deposit, verify_ledger

    home = Path(tempfile.mkdtemp(dir=WORK)) / "node"
    try:
        ex, _ = Exchange.init(home=home)
        with ex:
            hospital, _ = ex.create_party("Hospital", kind="hospital", role="provider")
            insurer, _ = ex.create_party("Insurer", kind="insurer", role="consumer")
            operator = next(p for p in ex.list_parties() if p.is_operator)
            csv = home.parent / "d.csv"
            csv.write_text("a,b\n" + "\n".join(f"{i},{i * 7 % 13}" for i in range(200)) + "\n")
            ds = ex.register(csv, owner=hospital.id, title="d", license="p").dataset.id
            offer = create_offer(
                ex,
                ds,
                actor=hospital,
                tier="L2",
                purposes=["research"],
                price={"amount_fen": 3, "unit": "query"},
            )
            c = request_contract(ex, offer.id, actor=insurer, purpose="research")
            approve_contract(ex, c.id, actor=hospital)
            deposit(ex, insurer.id, 3 * (charges + single) + 10, actor=operator)
            t = time.perf_counter()
            for _ in range(single):
                charge(ex, c.id, queries=1)
            single_s = time.perf_counter() - t
            t = time.perf_counter()
            done = 0
            while done < charges:
                with ex.transaction() as s:
                    for _ in range(min(batch, charges - done)):
                        charge_usage(s, c.id, queries=1, actor=insurer.id, log=ex.log)
                        done += 1
                    ex.log.checkpoint(s)
            batch_s = time.perf_counter() - t
            t = time.perf_counter()
            report = verify_ledger(ex)
            verify_s = time.perf_counter() - t
        return {
            "single_charges": single,
            "single_charges_per_second": round(single / single_s),
            "batched_charges": charges,
            "batch": batch,
            "batched_charges_per_second": round(charges / batch_s),
            "verify_ok": report["ok"],
            "verify_seconds": round(verify_s, 2),
            "postings": report["postings"],
        }
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=int, default=50_000)
    p.add_argument("--val", type=int, default=5_000)
    p.add_argument("--dim", type=int, default=20)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--pydvl-val", type=int, default=100)
    p.add_argument("--charges", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--single", type=int, default=2_000)
    p.add_argument("--setup", action="store_true", help="create the pyDVL venv under bench/work")
    p.add_argument("--only", choices=["knn", "settlement"])
    args = p.parse_args()
    WORK.mkdir(exist_ok=True)
    if args.setup:
        setup()
    result: dict[str, object] = {}
    if args.only in (None, "knn"):
        result["knn_shapley"] = knn(args.train, args.val, args.dim, args.k, args.pydvl_val)
    if args.only in (None, "settlement"):
        result["settlement"] = settlement(args.charges, args.batch, args.single)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
