"""ARX's own expected results on the Adult files, reproduced exactly (issue 5, part 5b)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataex.privacy.anonymize import risk
from dataex.privacy.anonymize.engine import Spec, anonymize_table
from dataex.privacy.anonymize.verify import verify_frame
from tests.privacy.anonymize.adult import COLUMNS, QI8, hierarchies, table

ARX_LEVELS = {
    "sex": 1,
    "age": 0,
    "race": 1,
    "marital-status": 1,
    "education": 3,
    "native-country": 2,
    "workclass": 2,
    "occupation": 0,
    "salary-class": 1,
}


def test_optimum_for_k5_with_4_percent_suppression_is_arxs() -> None:
    spec = Spec(qi=COLUMNS, k=5, max_suppression=0.04, hierarchies=hierarchies(COLUMNS), metric="entropy")
    out = anonymize_table(table(), spec)
    assert out.levels == ARX_LEVELS
    assert out.suppressed == 906
    assert out.utility["entropy"] == pytest.approx(255559.85455731, rel=1e-6)
    assert out.search["metric_value"] == pytest.approx(255559.85455731, rel=1e-6)
    assert out.table.num_rows == 30162 - 906
    assert verify_frame(out.table.to_pandas(), COLUMNS, [])["k"] >= 5


def test_raw_risk_is_arxs() -> None:
    out = anonymize_table(
        table(), Spec(qi=COLUMNS, k=5, max_suppression=0.04, hierarchies=hierarchies(COLUMNS))
    )
    before = out.risk["before"]
    assert before["classes"] == 19502
    assert before["prosecutor"]["average"] == 0.6465751607983555
    assert before["sample_uniqueness"] == 0.5142895033485844
    assert before["journalist"] == before["prosecutor"]
    assert before["marketer"] == pytest.approx(19502 / 30162)


def test_the_8_qi_benchmark_setting_is_k_anonymous_and_verified() -> None:
    spec = Spec(qi=QI8, k=5, max_suppression=0.01, hierarchies=hierarchies(QI8))
    out = anonymize_table(table(), spec)
    assert out.suppressed <= 301
    v = verify_frame(out.table.to_pandas(), QI8, [])
    assert v["k"] >= 5 and v["k"] == out.achieved["k"]
    assert out.risk["after"]["prosecutor"]["highest"] <= 0.2
    assert out.search["evaluated"] < out.search["nodes"] / 4  # pruning did its work


@pytest.mark.parametrize("metric", ["loss", "discernibility"])
def test_other_metrics_find_a_valid_optimum(metric: str) -> None:
    qi = ["sex", "age", "race", "education"]
    spec = Spec(qi=qi, k=5, max_suppression=0.01, hierarchies=hierarchies(qi), metric=metric)  # type: ignore[arg-type]
    out = anonymize_table(table(), spec)
    assert verify_frame(out.table.to_pandas(), qi, [])["k"] >= 5
    # exhaustive check of optimality on this small lattice
    best = _exhaustive(qi, metric)
    assert out.search["metric_value"] == pytest.approx(best)


def _exhaustive(qi: list[str], metric: str) -> float:
    from dataex.privacy.anonymize import hierarchies as hier
    from dataex.privacy.anonymize import lattice
    from dataex.privacy.anonymize.models import Models

    t = table()
    qis = [hier.encode(t[c], hier.read_arx(Path(hierarchies(qi)[c]), column=c), name=c) for c in qi]
    units = lattice.fold(qis, [])
    s = lattice.Search(qis, units, Models(k=5), metric, 301)  # type: ignore[arg-type]
    shape = [q.height + 1 for q in qis]
    nodes = np.indices(shape).reshape(len(shape), -1).T
    bounds = s.bounds(nodes)
    losses = [
        ev.loss
        for node, b in zip(nodes, bounds, strict=True)
        if (ev := s.evaluate(tuple(int(x) for x in node), float(b))).suppressed <= 301
    ]
    return float(min(losses))


def test_risk_of_the_release_uses_released_and_population_classes() -> None:
    out = anonymize_table(
        table(), Spec(qi=COLUMNS, k=5, max_suppression=0.04, hierarchies=hierarchies(COLUMNS))
    )
    after = out.risk["after"]
    assert after["records"] == 30162 - 906
    assert after["prosecutor"]["highest"] <= 0.2
    assert after["journalist"]["average"] <= after["prosecutor"]["average"]
    assert risk.measure(np.array([1, 2]))["prosecutor"]["highest"] == 1.0
