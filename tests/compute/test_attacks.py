"""Attacks on compute-to-data (issue 17 item 3, issue 18), each through the CLI or the HTTP API.

Each test is an attack that worked on the code before the fix: a model that memorizes personal
values, identifiers shipped as class labels, ε never charged, rare categories in the one-hot
encoding, exact counts in the card, a YAML alias bomb, six concurrent jobs and free killed jobs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dataex.api.app import create_app
from dataex.cli.compute import register_commands
from dataex.compute import jobs
from dataex.db.models import ComputeJobRow, ContractRow, LogEntryRow
from dataex.demo.data import DEPARTMENTS, hospital_visits
from dataex.privacy.dp import set_privacy
from tests.compute.test_compute import HEAVY, RECIPE, tabular_csv
from tests.conftest import Node
from tests.contracts import Market, log_events, market


# -- the shells ------------------------------------------------------------------------------------
@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """dataex (test app)."""

    register_commands(app)
    return app


def compute(app: typer.Typer, mk: Market, contract_id: str, recipe: str, tmp: Path, *, code: int = 0) -> Any:
    """``dataex compute CONTRACT recipe.yaml --as <insurer> --json`` on the market's home."""
    path = tmp / f"recipe-{abs(hash(recipe))}.yaml"
    path.write_text(recipe, encoding="utf-8")
    args = [
        "compute",
        contract_id,
        str(path),
        "--as",
        mk.insurer.token,
        "--json",
        "--home",
        str(mk.node.home),
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def card_of(mk: Market, job_id: str) -> Any:
    return json.loads(jobs.output_path(mk.ex, job_id, "model_card.json", actor=mk.insurer.party).read_text())


def onnx_of(mk: Market, job_id: str) -> Any:
    import onnx

    return onnx.load_from_string(
        jobs.output_path(mk.ex, job_id, "model.onnx", actor=mk.insurer.party).read_bytes()
    )


def onnx_attribute(model: Any, name: str) -> list[Any]:
    """Every value of attribute ``name`` over the graph's nodes (e.g. a classifier's class labels)."""
    import onnx

    out: list[Any] = []
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.name == name:
                out.extend(
                    v.decode() if isinstance(v, bytes) else v for v in onnx.helper.get_attribute_value(attr)
                )
    return out


def job_count(mk: Market) -> int:
    with mk.ex.session() as s:
        return len(list(s.scalars(select(ComputeJobRow))))


def remaining(mk: Market, contract_id: str) -> tuple[int | None, int | None]:
    with mk.ex.session() as s:
        row = s.get(ContractRow, contract_id)
        assert row is not None
        return row.remaining_epsilon_nano, row.remaining_queries


# -- the data ----------------------------------------------------------------------------------------
def visits(tmp_path: Path, *, drop: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> Path:
    """500 outpatient visits (names, resident IDs, mobiles, ages, costs; about 200 patients)."""
    table = hospital_visits(500, seed=11)
    table = table.drop_columns(list(drop))
    for name, values in (extra or {}).items():
        table = table.append_column(name, pa.array(values))
    path = tmp_path / "visits.csv"
    pacsv.write_csv(table, path)
    return path


def declare(mk: Market, **domains: list[str]) -> None:
    """The hospital's declaration: unit patient_id (3 visits each), age bounds, public domains."""
    set_privacy(
        mk.ex, mk.dataset_id, actor=mk.hospital.party, unit="patient_id", max_contributions=3,
        bounds={"age": (0.0, 100.0), "cost": (0.0, 20_000.0)},
        domains={"sex": ["女", "男"], "department": list(DEPARTMENTS)} | domains,
    )  # fmt: skip


# -- (a) a non-DP model on personal data ---------------------------------------------------------------
def test_a_memorizing_forest_on_personal_data_is_refused(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer
) -> None:
    """Personal (names, IDs, mobiles) but nothing *sensitive*: a one-tree depth-64 forest used to be
    allowed, and its leaves were the patients' exact costs. Now only a DP model may train on it."""
    mk = market(sqlite_node, visits(tmp_path, drop=("diagnosis", "diagnosis_name")))
    contract = mk.contract("L2", max_queries=5, epsilon=5.0)
    recipe = (
        "task: regression\nfeatures: [age, department]\ntarget: cost\n"
        "model: {name: random_forest, params: {n_estimators: 1, max_depth: 64}}\n"
    )
    before = remaining(mk, contract.id)
    err = compute(app, mk, contract.id, recipe, tmp_path, code=3)
    assert err["code"] == "recipe_refused" and err["details"]["field"] == "model"
    assert "personal information" in err["error"] and "dp_logistic_regression" in err["error"]
    assert job_count(mk) == 0 and remaining(mk, contract.id) == before
    assert log_events(mk.ex)[-1] == "compute.refused"


# -- (b) identifiers as class labels ---------------------------------------------------------------------
def test_an_identifier_target_is_refused(sqlite_node: Node, tmp_path: Path, app: typer.Typer) -> None:
    """``target: mobile`` used to ship every patient's mobile number as an ONNX class label."""
    mk = market(sqlite_node, visits(tmp_path))
    declare(mk)
    contract = mk.contract("L2", max_queries=5, epsilon=5.0)
    recipe = (
        "task: classification\nfeatures: [age]\ntarget: mobile\nmodel: dp_logistic_regression\nepsilon: 1\n"
    )
    err = compute(app, mk, contract.id, recipe, tmp_path, code=3)
    assert err["details"]["field"] == "target" and "direct identifier (cn_mobile)" in err["error"]
    assert job_count(mk) == 0


def test_a_high_cardinality_target_is_refused_even_on_non_personal_data(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer
) -> None:
    n = 800
    path = tabular_csv(tmp_path / "plant.csv", n)
    table = pacsv.read_csv(path).append_column("serial", pa.array([f"S{i:05d}" for i in range(n)]))
    pacsv.write_csv(table, path)
    mk = market(sqlite_node, path)
    contract = mk.contract("L2", max_queries=5)
    err = compute(app, mk, contract.id, RECIPE.replace("target: label", "target: serial"), tmp_path, code=3)
    assert err["details"]["field"] == "target" and "more than 50 classes" in err["error"]


# -- (c) ε charged on L2, per privacy unit, categories and classes from declared domains ---------------
def test_the_epsilon_of_dp_jobs_is_charged_to_an_l2_contract_per_privacy_unit(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer
) -> None:
    """ε = 10 jobs used to be charged 0 on an L2 contract (three of them on ε 25), and the DP unit was
    the row. Here: ε 4 jobs on an L2 contract with ε 10 (the dataset's lifetime cap is 10 too)."""
    csv = visits(tmp_path)
    mk = market(sqlite_node, csv)
    declare(mk)
    recipe = (
        "task: classification\nfeatures: [age, sex, cost]\ntarget: insured\n"
        "model: dp_logistic_regression\nepsilon: 4\n"
    )
    no_budget = mk.contract("L2", max_queries=10)
    err = compute(app, mk, no_budget.id, recipe, tmp_path, code=3)
    assert err["details"]["field"] == "epsilon" and "no ε budget" in err["error"]
    contract = mk.contract("L2", max_queries=10, epsilon=10.0)
    done = [compute(app, mk, contract.id, recipe, tmp_path) for _ in range(2)]
    assert [d["state"] for d in done] == ["succeeded", "succeeded"], [d["reason"] for d in done]
    assert [d["usage"]["epsilon"] for d in done] == [4.0, 4.0]
    assert remaining(mk, contract.id) == (2_000_000_000, 8)
    third = compute(app, mk, contract.id, recipe, tmp_path, code=3)
    assert third["details"]["field"] == "epsilon" and "2 ε left" in third["error"]
    assert remaining(mk, contract.id) == (2_000_000_000, 8) and job_count(mk) == 2
    card = card_of(mk, done[0]["id"])
    privacy = card["privacy"]
    assert (privacy["unit"], privacy["max_contributions"], privacy["models"]) == ("patient_id", 3, 1)
    assert privacy["epsilon_per_model_per_row"] == pytest.approx(4 / 3)
    # at most three visits of each patient trained or tested: the card's (rounded) count says so
    patients = pacsv.read_csv(csv).column("patient_id")
    counts = pc.value_counts(patients).field("counts").to_numpy()
    bounded = int(np.minimum(counts, 3).sum())
    assert bounded < 500 and card["data"]["rows"]["used"] == (bounded + 50) // 100 * 100


def test_categories_and_classes_come_only_from_declared_domains(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer
) -> None:
    """One patient is an astronaut: the one-hot encoding used to list ``occupation=astronaut``, and
    the classes were the values present. Now both are the provider's declared public domains."""
    occupations = ["teacher", "farmer", "worker"] * 166 + ["worker", "astronaut"]
    mk = market(sqlite_node, visits(tmp_path, extra={"occupation": occupations}))
    declare(mk)
    contract = mk.contract("L2", max_queries=10, epsilon=9.0)
    recipe = (
        "task: classification\nfeatures: [age, occupation]\ntarget: department\n"
        "model: dp_logistic_regression\nepsilon: 2\n"
    )
    err = compute(app, mk, contract.id, recipe, tmp_path, code=3)
    assert err["details"]["field"] == "features" and "occupation" in err["error"]
    declare(mk, occupation=["teacher", "farmer", "worker"], department=[*DEPARTMENTS, "航天医学科"])
    job = compute(app, mk, contract.id, recipe, tmp_path)
    assert job["state"] == "succeeded", job["reason"]
    card = card_of(mk, job["id"])
    assert card["data"]["input_features"] == [
        "age", "occupation=teacher", "occupation=farmer", "occupation=worker"
    ]  # fmt: skip
    labels = onnx_attribute(onnx_of(mk, job["id"]), "classlabels_strings")
    assert labels == [*DEPARTMENTS, "航天医学科"]  # the declared domain, in its order, absent ones too
    assert "astronaut" not in json.dumps(card, ensure_ascii=False)


# -- non-personal data: leaf floors, depth caps, the membership threshold --------------------------------
def test_trees_on_non_personal_data_get_leaf_floors_and_depth_caps(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer
) -> None:
    """A one-tree forest of depth 64 with one row per leaf released raw training values."""
    mk = market(sqlite_node, tabular_csv(tmp_path / "plant.csv", 800))
    contract = mk.contract("L2", max_queries=5)
    deep = (
        "task: regression\nfeatures: [x2, grp]\ntarget: x1\n"
        "model: {name: random_forest, params: {n_estimators: 1, max_depth: 64}}\n"
    )
    err = compute(app, mk, contract.id, deep, tmp_path, code=3)
    assert err["details"]["field"] == "model.params.max_depth" and "at most the node's 12" in err["error"]
    job = compute(app, mk, contract.id, deep.replace("max_depth: 64", "max_depth: 12"), tmp_path)
    assert job["state"] == "succeeded", job["reason"]
    leaves = np.asarray(onnx_attribute(onnx_of(mk, job["id"]), "target_weights"), dtype=np.float64)
    raw = pacsv.read_csv(tmp_path / "plant.csv").column("x1").to_numpy()
    exact = np.isclose(leaves[:, None], raw[None, :].astype(np.float32), rtol=0, atol=1e-6).any(axis=1)
    assert len(leaves) >= 5 and exact.mean() < 0.05  # leaf values are means of >= 10 rows, not rows
    assert card_of(mk, job["id"])["privacy"]["min_samples_leaf"] == 10


def test_a_model_over_the_nodes_membership_threshold_is_not_released(
    sqlite_node: Node, tmp_path: Path, app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mk = market(sqlite_node, tabular_csv(tmp_path / "plant.csv", 800))
    contract = mk.contract("L2", max_queries=5)
    monkeypatch.setenv("DATAEX_COMPUTE_MAX_MIA_ADVANTAGE", "0.01")
    job = compute(app, mk, contract.id, RECIPE, tmp_path)
    assert job["state"] == "failed" and "release blocked" in job["reason"], job
    assert job["outputs"] == {} and not (jobs.job_dir(mk.ex, job["id"]) / "out").exists()
    assert remaining(mk, contract.id)[1] == 4  # charged: it ran on the data


# -- (d) the model card ------------------------------------------------------------------------------------
def test_model_cards_round_counts_and_metrics(sqlite_node: Node, tmp_path: Path, app: typer.Typer) -> None:
    """A card used to say 803 rows (603 train, 200 test) and metrics to six decimals: two jobs on a
    dataset before and after one row was added told which row it was."""
    mk = market(sqlite_node, tabular_csv(tmp_path / "plant.csv", 803))
    contract = mk.contract("L2", max_queries=5)
    job = compute(app, mk, contract.id, RECIPE, tmp_path)
    assert job["state"] == "succeeded", job["reason"]
    card = card_of(mk, job["id"])
    assert card["data"]["rows"] == {"used": 800, "train": 600, "test": 200}
    assert card["data"]["datasets"][0]["rows"] == 800
    released = [*card["metrics"].values(), card["membership_inference"]["auc"],
                card["membership_inference"]["advantage"], *job["metrics"].values()]  # fmt: skip
    assert released and all(v == round(v, 2) for v in released)
    assert "threshold_loss" not in card["membership_inference"]


# -- issue 18: hostile recipes ---------------------------------------------------------------------------
BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
task: *f
"""


@pytest.mark.parametrize(
    ("recipe", "field"),
    [
        (BOMB, "recipe"),
        ("task: [a]\nfeatures: [x1]\ntarget: label\nmodel: random_forest\n", "task"),
        (RECIPE + "max_rows: " + str(2**70) + "\n", "max_rows"),
        (RECIPE.replace("max_iter: 30", f"max_iter: {2**70}"), "model.params.max_iter"),
        (RECIPE.replace("seed: 3", "seed: " + "9" * 5000), "recipe"),
        (RECIPE.replace("seed: 3", "seed: 1e400"), "split.seed"),
        (RECIPE.replace("hist_gradient_boosting", "[random_forest]"), "model"),
        (RECIPE + "# " + "x" * 20_000 + "\n", "recipe"),
        ("[" * 5000 + "]" * 5000, "recipe"),
    ],
)
def test_hostile_recipes_get_a_short_4xx_and_change_nothing(
    sqlite_node: Node, tmp_path: Path, recipe: str, field: str
) -> None:
    mk = market(sqlite_node, tabular_csv(tmp_path / "plant.csv", 200))
    contract = mk.contract("L2", max_queries=5)
    with mk.ex.session() as s:
        size_before = len(list(s.scalars(select(LogEntryRow.idx))))
    with TestClient(create_app(mk.ex)) as client:
        reply = client.post(
            f"/contracts/{contract.id}/compute", json={"recipe": recipe},
            headers={"Authorization": f"Bearer {mk.insurer.token}"},
        )  # fmt: skip
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "recipe_refused" and reply.json()["details"]["field"] == field
    assert len(reply.content) < 2_000
    with mk.ex.session() as s:
        added = list(s.scalars(select(LogEntryRow).where(LogEntryRow.idx >= size_before)))
    assert [e.event for e in added] == ["access.allowed", "compute.refused"]
    assert all(len(e.entry) < 2_000 for e in added)
    assert job_count(mk) == 0 and remaining(mk, contract.id) == (None, 5)


# -- issue 18: concurrency caps; a job killed at its limits is charged ------------------------------------
def test_six_concurrent_jobs_hit_the_cap_and_killed_jobs_are_charged(
    sqlite_node: Node, tmp_path: Path
) -> None:
    mk = market(sqlite_node, tabular_csv(tmp_path / "big.csv", 100_000))
    contract = mk.contract("L2", max_queries=10)
    heavy = RECIPE.replace("max_iter: 30", HEAVY) + "limits: {wall_seconds: 3}\n"
    replies: list[Any] = []
    start = threading.Barrier(6)
    with TestClient(create_app(mk.ex)) as client:

        def post() -> None:
            start.wait()
            replies.append(
                client.post(
                    f"/contracts/{contract.id}/compute",
                    json={"recipe": heavy},
                    headers={"Authorization": f"Bearer {mk.insurer.token}"},
                )
            )

        threads = [threading.Thread(target=post) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    codes = sorted(r.status_code for r in replies)
    assert codes == [202, 202, 429, 429, 429, 429], [r.text for r in replies]
    refused = [r.json() for r in replies if r.status_code == 429]
    assert {r["code"] for r in refused} == {"job_limit_reached"}
    with mk.ex.session() as s:
        rows = list(s.scalars(select(ComputeJobRow)))
    assert len(rows) == 2 and {r.state for r in rows} == {"killed"}
    assert all(r.usage["queries"] == 1 for r in rows)
    assert remaining(mk, contract.id)[1] == 8  # the killed jobs paid: repeating them is not free
    assert log_events(mk.ex).count("budget.charged") == 2


def test_caps_and_charging_hold_on_every_backend(
    fresh_node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caps count unfinished jobs under the node row's lock; the charge precedes the run."""
    from dataex.errors import JobLimitReached
    from tests.conftest import add

    mk = market(fresh_node, tabular_csv(tmp_path / "plant.csv", 400))
    contract = mk.contract("L2", max_queries=5)
    first = jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    with pytest.raises(JobLimitReached) as mine:
        jobs.submit(mk.ex, mk.insurer.party, contract.id, RECIPE)
    assert mine.value.details["scope"] == "party" and mine.value.status == 429
    monkeypatch.setenv("DATAEX_COMPUTE_MAX_JOBS_PER_NODE", "2")
    lab = add(fresh_node, "AI lab", kind="ai_team", role="consumer")
    offer = mk.offer("L2", max_queries=5)
    from dataex.contracts.lifecycle import approve_contract, request_contract

    theirs = request_contract(mk.ex, offer.id, actor=lab.party, purpose="ai-training")
    theirs = approve_contract(mk.ex, theirs.id, actor=mk.hospital.party)
    with pytest.raises(JobLimitReached) as node_wide:
        jobs.submit(mk.ex, lab.party, theirs.id, RECIPE)
    assert node_wide.value.details["scope"] == "node"
    assert log_events(mk.ex)[-1] == "compute.refused" and job_count(mk) == 2
    done = jobs.run_job(mk.ex, first.id)
    assert done.state == "succeeded" and done.usage["queries"] == 1
    assert remaining(mk, contract.id) == (None, 4)
    assert jobs.submit(mk.ex, lab.party, theirs.id, RECIPE).state == "queued"  # a slot is free again


def test_a_json_recipe_with_a_huge_integer_is_a_4xx(sqlite_node: Node, tmp_path: Path) -> None:
    mk = market(sqlite_node, tabular_csv(tmp_path / "plant.csv", 200))
    contract = mk.contract("L2", max_queries=5)
    body = (
        '{"recipe": {"task": "classification", "features": ["x1"], "target": "label", '
        '"model": "random_forest", "split": {"seed": ' + "9" * 5000 + "}}}"
    )
    huge = {"task": "classification", "features": ["x1"] * 3000, "target": "label", "model": "random_forest"}
    with TestClient(create_app(mk.ex)) as client:
        auth = {"Authorization": f"Bearer {mk.insurer.token}", "Content-Type": "application/json"}
        replies = [
            client.post(f"/contracts/{contract.id}/compute", content=body, headers=auth),
            client.post(f"/contracts/{contract.id}/compute", json={"recipe": huge}, headers=auth),
        ]
    assert [r.status_code // 100 for r in replies] == [4, 4], [r.text[:300] for r in replies]
    assert all(len(r.content) < 2_000 for r in replies)
    assert (
        replies[1].json()["details"]["field"] == "recipe"
        and "at most 16,384 bytes" in replies[1].json()["error"]
    )
    assert job_count(mk) == 0
