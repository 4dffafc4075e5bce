"""Label issues on a learnable dataset with injected noise: recall and precision of the flipped rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataex.errors import InvalidInput
from dataex.quality import labels, profile

N, FLIP = 600, 30  # 5% of the labels flipped


def _dataset(tmp_path: Path) -> tuple[Path, set[int]]:
    rng = np.random.default_rng(7)  # noqa: TID251  (test data, not privacy noise)
    cls = np.arange(N) % 3
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    x = centers[cls] + rng.normal(0, 0.7, size=(N, 2))
    flipped = rng.choice(N, size=FLIP, replace=False)
    label = cls.copy()
    label[flipped] = (label[flipped] + 1 + rng.integers(0, 2, size=FLIP)) % 3
    names = np.array(["cat", "dog", "bird"])
    table = pa.table(
        {
            "x1": x[:, 0],
            "x2": x[:, 1],
            "site": np.where(np.arange(N) % 2 == 0, "north", "south"),
            "record_id": [f"R{i:05d}" for i in range(N)],  # high-cardinality: not a feature
            "label": names[label],
            "constant": ["same"] * N,
        }
    )
    path = tmp_path / "labels.parquet"
    pq.write_table(table, path)
    return path, {int(i) for i in flipped}


def _run(path: Path, target: str | None) -> labels.LabelIssues:
    con = profile.connect(path)
    types = con.execute("DESCRIBE SELECT * EXCLUDE (file_row_number) FROM t").fetchall()
    p = profile.profile(con, [(str(n), str(t)) for n, t, *_ in types])
    return labels.find_label_issues(con, p, target)


def test_flipped_labels_are_found(tmp_path: Path) -> None:
    path, flipped = _dataset(tmp_path)
    found = _run(path, "label")
    hits = flipped & set(found.rows)
    assert len(hits) / FLIP >= 0.6  # recall
    assert len(hits) / found.count >= 0.7  # precision
    assert found.count == len(found.rows) and found.examined == N
    assert found.rows == sorted(found.rows)
    assert _run(path, "label").rows == found.rows  # deterministic


def test_missing_target_is_refused(tmp_path: Path) -> None:
    path, _ = _dataset(tmp_path)
    with pytest.raises(InvalidInput, match="'nope' is not a column"):
        _run(path, "nope")


def test_single_class_target_is_refused(tmp_path: Path) -> None:
    path, _ = _dataset(tmp_path)
    with pytest.raises(InvalidInput, match="1 class"):
        _run(path, "constant")
