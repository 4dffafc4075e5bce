"""Compute-to-data overhead (issue 10): the job machinery (recipe checks, worker process with
limits, encoding, ONNX export, membership-inference check, records) vs the same scikit-learn fit
in a plain script, on a synthetic non-personal table.

    .venv/bin/python bench/compute.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

RECIPE = """
task: classification
features: [x1, x2, x3, grp]
target: label
model: {name: hist_gradient_boosting, params: {max_iter: 50}}
split: {test_size: 0.2, seed: 1}
"""


def table(n: int) -> pa.Table:
    i = np.arange(n)
    x1, x2, x3 = np.sin(i * 1.7), (i * 37 % 101) / 10.0, np.cos(i * 0.3)
    grp = np.asarray(["a", "b", "c"])[(i * 7 // 3) % 3]
    label = np.where(x1 + 0.3 * x2 + x3 + (grp == "b") > 2.0, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "x3": x3, "grp": grp, "label": label})


def plain(path: Path) -> float:
    """The same fit in a plain script: its own process, with the thread settings a job gets."""
    import os
    import subprocess
    import sys

    from dataex.compute.runner import THREAD_ENV

    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r}); "
    code += f"from bench.compute import fit; print(json.dumps(fit({str(path)!r})))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=os.environ | THREAD_ENV, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def fit(path: str) -> float:
    """Reads, encodes, splits, fits and scores as the job does; returns the wall time."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    df = pq.read_table(path).to_pandas()
    x = np.column_stack(
        [df.x1, df.x2, df.x3, *[(df.grp == c).to_numpy(dtype=np.float32) for c in ("a", "b", "c")]]
    ).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, df.label.to_numpy(), test_size=0.2, random_state=1)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=1, early_stopping=False).fit(x_tr, y_tr)
    model.score(x_te, y_te)
    return time.perf_counter() - t0


def job(path: Path, home: Path) -> tuple[float, dict[str, object]]:
    from dataex import Exchange
    from dataex.compute import jobs
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer

    ex, _ = Exchange.init(home=home)
    owner, _ = ex.create_party("Plant", kind="enterprise", role="provider")
    lab, _ = ex.create_party("Lab", kind="enterprise", role="consumer")
    ds = ex.register(path, owner=owner.id, title="sensors", license="proprietary").dataset.id
    offer = create_offer(ex, ds, actor=owner, tier="L2", purposes=["research"], price=0)
    c = request_contract(ex, offer.id, actor=lab, purpose="research")
    if c.state == "requested":
        c = approve_contract(ex, c.id, actor=owner)
    t0 = time.perf_counter()
    done = jobs.run_job(ex, jobs.submit(ex, lab, c.id, RECIPE).id)
    elapsed = time.perf_counter() - t0
    ex.close()
    return elapsed, {"state": done.state, "reason": done.reason, "usage": done.usage}


def bench_compute(rows: int = 1_000_000, repeats: int = 2) -> dict[str, object]:
    """Best of ``repeats`` for each side, alternating (a fresh node per job run).

    The first job of a process also starts the warm worker pool (``cold_job_s``); the ratio is
    taken on the later jobs, as a running ``dataex serve`` (which starts the pool at start-up)
    sees them.
    """
    plains, jobs_s = [], []
    info: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "sensors.parquet")
        pq.write_table(table(rows), path)
        cold, info = job(path, Path(d, "node-cold"))
        for i in range(repeats):
            plains.append(plain(path))
            elapsed, info = job(path, Path(d, f"node{i}"))
            jobs_s.append(elapsed)
    base, elapsed = min(plains), min(jobs_s)
    return {
        "rows": rows,
        "plain_s": round(base, 2),
        "job_s": round(elapsed, 2),
        "cold_job_s": round(cold, 2),
        "ratio": round(elapsed / base, 2),
        "threads": "1 on both sides (the job's worker sets OMP/BLAS threads to 1; so does the plain run)",
        "plain_includes": "reading, encoding, split, fit and test-set score, timed after its imports",
        "job": info,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    a = p.parse_args()
    print(json.dumps(bench_compute(a.rows), indent=2))


if __name__ == "__main__":
    main()
