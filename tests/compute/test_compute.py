"""Compute-to-data: a job that succeeds (ONNX = scikit-learn), a killed job, restart recovery, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import select

from dataex.compute import jobs, train
from dataex.compute.recipes import Recipe
from dataex.compute.settings import compute_settings
from dataex.db.models import ComputeJobRow, ContractRow
from dataex.errors import AccessDenied, RecipeRefused
from tests.conftest import Node
from tests.contracts import Market, log_events, market

RECIPE = """
task: classification
features: [x1, x2, grp]
target: label
model: {name: hist_gradient_boosting, params: {max_iter: 30}}
split: {test_size: 0.25, seed: 3}
"""


@pytest.fixture
def tabular(tmp_path: Path) -> Path:
    return tabular_csv(tmp_path / "plant.csv", 800)


def tabular_csv(path: Path, n: int) -> Path:
    """Non-personal data: two numeric features, one categorical, a label that depends on them."""
    i = np.arange(n)
    x1, x2 = np.sin(i * 1.7) * 2, (i * 37 % 101) / 10.0  # deterministic, well spread
    grp = np.asarray(["a", "b", "c"])[(i * 7 // 3) % 3]
    score = x1 + 0.3 * x2 + (grp == "b") * 1.5 + np.cos(i * 2.3) * 0.5
    label = np.where(score > 1.5, "yes", "no")
    pacsv.write_csv(pa.table({"x1": x1, "x2": x2, "grp": grp, "label": label, "const": ["k"] * n}), path)
    return path


@pytest.fixture
def mk(sqlite_node: Node, tabular: Path) -> Market:
    return market(sqlite_node, tabular)


def test_a_job_succeeds_and_its_onnx_model_predicts_like_scikit_learn(mk: Market) -> None:
    import onnxruntime as ort
    import pyarrow.parquet as pq  # noqa: F401  (the worker's reader)
    from sklearn.model_selection import train_test_split

    contract = mk.contract("L2", max_queries=5)
    queued = jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    assert queued.state == "queued"
    job = jobs.run_job(mk.ex, queued.id)
    assert job.state == "succeeded", job.reason
    assert set(job.outputs) == {"model.onnx", "metrics.json", "model_card.json"}
    assert job.metrics["accuracy"] > 0.8
    # the same fit in plain scikit-learn, on the same encoding and split
    dataset = mk.ex.get_dataset(mk.dataset_id)
    floors = compute_settings()
    spec = {
        "data_path": mk.ex.store.url(dataset.file_sha256), "bounds": {}, "domains": {}, "personal": False,
        "floors": {"min_samples_leaf": floors.min_samples_leaf, "max_depth": floors.max_depth},
    }  # fmt: skip
    recipe = Recipe.from_dict(job.recipe)
    x, y, names, _ = train._matrix(spec, recipe)
    x_tr, x_te, y_tr, _ = train_test_split(x, y, test_size=0.25, random_state=3, stratify=y)
    model, _ = train._fit(recipe, spec, x_tr, y_tr, names)
    onnx = jobs.output_path(mk.ex, job.id, "model.onnx", actor=mk.insurer.party)
    session = ort.InferenceSession(onnx.read_bytes(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x_te.astype(np.float32)})[0]
    assert list(np.asarray(got).astype(str)) == list(model.predict(x_te))
    card = json.loads(jobs.output_path(mk.ex, job.id, "model_card.json", actor=mk.insurer.party).read_text())
    assert card["data"]["datasets"][0]["digest"] == dataset.digest
    assert card["data"]["rows"] == {"used": 800, "train": 600, "test": 200}
    assert 0.0 <= card["membership_inference"]["advantage"] <= 1.0
    assert card["onnx"]["prediction_agreement"] == 1.0
    with mk.ex.session() as s:
        row = s.get(ContractRow, contract.id)
        assert row is not None and row.remaining_queries == 4
    assert log_events(mk.ex)[-1] == "compute.job.succeeded"


HEAVY = "max_iter: 2000, max_leaf_nodes: 255"


@pytest.fixture
def big(sqlite_node: Node, tmp_path: Path) -> Market:
    """100,000 rows: the HEAVY recipe needs well over a minute of CPU on them."""
    return market(sqlite_node, tabular_csv(tmp_path / "big.csv", 100_000))


def test_a_job_over_its_cpu_limit_is_killed_by_the_kernel(big: Market) -> None:
    mk = big
    contract = mk.contract("L2", max_queries=5)
    tight = RECIPE.replace("max_iter: 30", HEAVY) + "limits: {cpu_seconds: 1, wall_seconds: 120}\n"
    job = jobs.run_job(mk.ex, jobs.submit(mk.ex, mk.insurer.party, contract.id, tight).id)
    assert job.state == "killed" and "CPU-time limit of 1 s" in (job.reason or "")
    assert job.usage["cpu_seconds"] >= 0.9  # the forked worker's own CPU time, from wait4 (tick-rounded)


def test_jobs_fork_from_one_warm_pool_and_die_with_it(mk: Market, tmp_path: Path) -> None:
    import json
    import os
    import threading
    import time

    from dataex.compute import runner

    contract = mk.contract("L2", max_queries=5)
    first = jobs.run_job(mk.ex, jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE).id)
    pool = runner._pool._proc
    assert pool is not None and pool.poll() is None
    second = jobs.run_job(mk.ex, jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE).id)
    assert second.state == "succeeded" and runner._pool._proc is pool  # the same pool served both
    # a running worker dies with its pool (as when the node stops): no orphan keeps training
    spec = json.loads((jobs.job_dir(mk.ex, first.id) / "spec.json").read_text())
    spec["recipe"]["params"] = {"max_iter": 2000, "max_leaf_nodes": 255}
    work = tmp_path / "long"
    (work / "out").mkdir(parents=True)
    spec["out_dir"] = str(work / "out")
    (work / "spec.json").write_text(json.dumps(spec))
    started: list[int] = []
    outcome: list[runner.Outcome] = []
    limits = {"cpu_seconds": 600, "memory_mb": 8192, "wall_seconds": 600}
    watcher = threading.Thread(
        target=lambda: outcome.append(runner.supervise(work, limits=limits, heartbeat=started.append))
    )
    watcher.start()
    while not started:
        time.sleep(0.01)
    time.sleep(0.5)
    os.kill(started[0], 0)  # training
    runner._pool.close()
    watcher.join(30)
    assert outcome and outcome[0].state == "killed" and not (work / "result.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(started[0], 0)


def test_a_job_over_its_limits_is_killed_and_charged_what_it_used(big: Market) -> None:
    mk = big
    contract = mk.contract("L2", max_queries=5)
    tight = RECIPE.replace("max_iter: 30", HEAVY) + "limits: {wall_seconds: 1}\n"
    job = jobs.run_job(mk.ex, jobs.submit(mk.ex, mk.insurer.party, contract.id, tight).id)
    assert job.state == "killed" and "wall-clock" in (job.reason or "")
    assert job.outputs == {} and job.usage["queries"] == 1
    with mk.ex.session() as s:
        row = s.get(ContractRow, contract.id)
        assert row is not None and row.remaining_queries == 4  # charged when it started: not free to repeat
    assert log_events(mk.ex).count("budget.charged") == 1


def test_an_interrupted_job_is_failed_on_restart_and_not_charged(mk: Market) -> None:
    contract = mk.contract("L2", max_queries=5)
    job = jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    with mk.ex.transaction() as s:  # as a crashed `dataex serve` leaves it: running, its process gone
        row = s.scalars(select(ComputeJobRow).where(ComputeJobRow.id == job.id)).one()
        jobs.transition(s, mk.ex, row, "running", actor="node")
        row.supervisor = f"{jobs.supervisor_id().rpartition(':')[0]}:{gone.stdout.decode().strip()}"
    from dataex import Exchange

    reopened = Exchange.open(home=mk.node.home)
    try:
        shown = jobs.get_job(reopened, job.id, actor=mk.insurer.party)  # recovery runs on first use
    finally:
        reopened.close()
    assert shown.state == "failed" and "interrupted" in (shown.reason or "")
    with mk.ex.session() as s:
        row2 = s.get(ContractRow, contract.id)
        assert row2 is not None and row2.remaining_queries == 5
    assert "budget.charged" not in log_events(mk.ex)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("hist_gradient_boosting", "xgboost"), "model"),
        (("[x1, x2, grp]", "[x1, x2, missing]"), "features"),
        (("target: label", "target: const"), "target"),
        (("max_iter: 30", "max_iter: 30, loss: custom"), "model.params.loss"),
    ],
)
def test_recipes_the_node_will_not_run_are_refused(mk: Market, change: tuple[str, str], field: str) -> None:
    contract = mk.contract("L2", max_queries=5)
    with pytest.raises(RecipeRefused) as refused:
        jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE.replace(*change))
    assert refused.value.field == field
    assert log_events(mk.ex)[-1] == "compute.refused"
    with mk.ex.session() as s:
        assert s.scalars(select(ComputeJobRow)).first() is None


def test_a_contract_below_l2_cannot_compute(mk: Market) -> None:
    contract = mk.contract("L1")
    with pytest.raises(AccessDenied) as denied:
        jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    assert denied.value.rule == "tier.too_low"


def test_sensitive_personal_data_needs_the_dp_model_and_gets_it(sqlite_node: Node, visits_csv: Path) -> None:
    from dataex.demo.data import DEPARTMENTS
    from dataex.privacy.dp import set_privacy

    mk = market(sqlite_node, visits_csv)
    contract = mk.contract("L2", max_queries=5, epsilon=5.0)
    recipe = "task: classification\nfeatures: [age, sex, department]\ntarget: insured\nmodel: random_forest\n"
    with pytest.raises(RecipeRefused, match="personal information"):
        jobs.submit(mk.ex, mk.insurer.party, contract.id, recipe)
    dp = recipe.replace("random_forest", "dp_logistic_regression") + "epsilon: 2.0\n"
    with pytest.raises(RecipeRefused, match="bounds"):
        jobs.submit(mk.ex, mk.insurer.party, contract.id, dp)
    set_privacy(mk.ex, mk.dataset_id, actor=mk.hospital.party, unit="patient_id", max_contributions=1,
                bounds={"age": (0.0, 100.0)},
                domains={"sex": ["女", "男"], "department": list(DEPARTMENTS)})  # fmt: skip
    with pytest.raises(RecipeRefused, match="identifier"):
        jobs.submit(mk.ex, mk.insurer.party, contract.id, dp.replace("[age,", "[id_no, age,"))
    job = jobs.run_job(mk.ex, jobs.submit(mk.ex, mk.insurer.party, contract.id, dp).id)
    assert job.state == "succeeded", job.reason
    card = json.loads(jobs.output_path(mk.ex, job.id, "model_card.json", actor=mk.insurer.party).read_text())
    assert card["privacy"]["epsilon"] == 2.0 and "diffprivlib" in card["privacy"]["mechanism"]
    assert job.usage["epsilon"] == 2.0
