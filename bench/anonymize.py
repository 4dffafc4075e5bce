"""Anonymization benchmarks (issue 5): ``python -m bench.anonymize [--quick] [--json]``.

1. Adult, 8 QIs with ARX's hierarchies, k=5, <= 1 % suppression, optimal lattice search,
   timed including reading the CSV and hierarchies and writing the Parquet release (goal < 2 s).
2. Mondrian on a generated 1,000,000-row table with 8 QIs (4 numeric, 4 categorical), k=10
   (goal < 30 s, peak RSS < 4 GB; measured in a child process).
3. dataex Mondrian vs anonypy 0.2.1 Mondrian on Adult and on 100,000 generated rows: time and the
   same information-loss measure (NCP over partitions: numeric ``(max − min) / range``, categorical
   ``(distinct − 1) / (domain − 1)``, averaged over cells). anonypy runs in a throw-away venv
   (``bench/work/venvs/anonypy``) because it is a separate install with its own pins.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "tests" / "data" / "adult"
QI8 = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"]
ANONYPY = ROOT / "bench" / "work" / "venvs" / "anonypy"
NUMERIC = ["age", "zip", "income", "hours"]
CATEGORICAL = ["sex", "race", "education", "marital"]


def adult_optimal() -> dict[str, Any]:
    from dataex.privacy.anonymize.engine import Spec, anonymize_table

    started = time.perf_counter()
    table = pacsv.read_csv(
        ADULT / "adult.csv",
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(QI8, pa.string())),
    )
    spec = Spec(
        qi=QI8,
        k=5,
        max_suppression=0.01,
        hierarchies={c: str(ADULT / f"adult_hierarchy_{c}.csv") for c in QI8},
    )
    out = anonymize_table(table, spec)
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(out.table, Path(tmp) / "out.parquet")
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "goal_seconds": 2.0,
        "levels": out.levels,
        "suppressed": out.suppressed,
        "entropy_loss": out.utility["entropy"],
        "loss": out.utility["loss"],
        "evaluated": out.search["evaluated"],
        "nodes": out.search["nodes"],
    }


def generated(n: int, seed: int = 5) -> pd.DataFrame:
    """A census-like table; seeded generator (bench data only)."""
    rng = np.random.default_rng(seed)  # noqa: TID251 - seeded bench data, not privacy noise
    return pd.DataFrame(
        {
            "age": rng.integers(17, 91, n),
            "zip": rng.integers(10000, 11000, n),
            "income": np.round(rng.lognormal(10, 0.6, n)).astype(np.int64),
            "hours": rng.integers(1, 100, n),
            "sex": rng.choice(["F", "M"], n),
            "race": rng.choice(["a", "b", "c", "d", "e"], n, p=[0.7, 0.1, 0.1, 0.05, 0.05]),
            "education": rng.choice([f"e{i}" for i in range(16)], n),
            "marital": rng.choice([f"m{i}" for i in range(7)], n),
            "salary": rng.choice(["<=50K", ">50K"], n, p=[0.75, 0.25]),
        }
    )


def dataex_partitions(df: pd.DataFrame, qi: list[str], k: int) -> tuple[np.ndarray[Any, Any], float]:
    from dataex.privacy.anonymize import hierarchies as hier
    from dataex.privacy.anonymize import mondrian
    from dataex.privacy.anonymize.models import Models

    started = time.perf_counter()
    table = pa.Table.from_pandas(df[qi], preserve_index=False)
    ords = []
    for c in qi:
        h = hier.flat(hier.distinct_strings(table[c]), column=c)
        q = hier.encode(table[c], h, name=c)
        numeric = pa.types.is_integer(table[c].type)
        ords.append(mondrian.ordinal(q, q.labels[0].astype(np.float64) if numeric else None))
    p = mondrian.partition(ords, [], Models(k=k))
    return p.part, time.perf_counter() - started


def ncp(df: pd.DataFrame, qi: list[str], part: np.ndarray[Any, Any]) -> float:
    """Average normalized certainty penalty of the partitions, the same for both tools."""
    total = 0.0
    for c in qi:
        g = df[c].groupby(part)
        if pd.api.types.is_numeric_dtype(df[c]):
            span = float(df[c].max() - df[c].min()) or 1.0
            per = (g.transform("max") - g.transform("min")) / span
        else:
            per = (g.transform("nunique") - 1) / max(df[c].nunique() - 1, 1)
        total += float(per.mean())
    return total / len(qi)


ANONYPY_SCRIPT = """
import sys, time, numpy as np, pandas as pd
from anonypy import mondrian
df = pd.read_csv(sys.argv[1])
qi = sys.argv[2].split(",")
for c in qi:
    if not pd.api.types.is_numeric_dtype(df[c]):
        df[c] = df[c].astype("category")
t = time.perf_counter()
parts = mondrian.Mondrian(df, qi).partition(int(sys.argv[3]))
seconds = time.perf_counter() - t
label = np.zeros(len(df), dtype=np.int64)
for i, p in enumerate(parts):
    label[df.index.get_indexer(p)] = i
np.save(sys.argv[4], label)
print(seconds)
"""


def side_by_side(df: pd.DataFrame, qi: list[str], k: int, name: str) -> dict[str, Any]:
    part, ours = dataex_partitions(df, qi, k)
    row: dict[str, Any] = {
        "data": name,
        "rows": len(df),
        "k": k,
        "dataex_seconds": round(ours, 3),
        "dataex_ncp": round(ncp(df, qi, part), 5),
        "dataex_min_class": int(np.bincount(part).min()),
    }
    python = ANONYPY / "bin" / "python"
    if not python.exists():
        row["anonypy"] = (
            f"not installed: python -m venv {ANONYPY} && {python} -m pip install anonypy==0.2.1 pandas"
        )
        return row
    with tempfile.TemporaryDirectory() as tmp:
        src, lab = Path(tmp) / "in.csv", Path(tmp) / "labels.npy"
        df.to_csv(src, index=False)
        done = subprocess.run(
            [str(python), "-c", ANONYPY_SCRIPT, str(src), ",".join(qi), str(k), str(lab)],
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = float(done.stdout.strip().splitlines()[-1])
        labels = np.load(lab)
    row.update(
        anonypy_seconds=round(theirs, 3),
        anonypy_ncp=round(ncp(df, qi, labels), 5),
        anonypy_min_class=int(np.bincount(labels).min()),
        speedup=round(theirs / max(ours, 1e-9), 1),
    )
    return row


def mondrian_1m(n: int) -> dict[str, Any]:
    """Runs in a child process so its peak RSS is its own."""
    code = (
        "import json,resource,time; from bench.anonymize import generated, dataex_partitions, ncp, NUMERIC, "
        "CATEGORICAL; df = generated(N); qi = NUMERIC + CATEGORICAL; t = time.perf_counter(); "
        "part, s = dataex_partitions(df, qi, 10); total = time.perf_counter() - t; "
        "print(json.dumps({'rows': len(df), 'qis': len(qi), 'k': 10, 'seconds': round(s, 2), "
        "'partitions': int(part.max()) + 1, 'min_class': int(__import__('numpy').bincount(part).min()), "
        "'ncp': round(ncp(df, qi, part), 5), "
        "'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))"
    )
    code = code.replace("generated(N)", f"generated({int(n)})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(goal_seconds=30, goal_peak_rss_mb=4096)
    return result


def main() -> None:
    quick = "--quick" in sys.argv
    adult = pacsv.read_csv(ADULT / "adult.csv", parse_options=pacsv.ParseOptions(delimiter=";")).to_pandas()
    results = {
        "adult_optimal_k5": adult_optimal(),
        "mondrian_1m_k10": mondrian_1m(100_000 if quick else 1_000_000),
        "vs_anonypy": [
            side_by_side(adult, ["age", *[c for c in QI8 if c != "age"]], 10, "adult"),
            side_by_side(generated(10_000 if quick else 100_000), NUMERIC + CATEGORICAL, 10, "generated"),
        ],
        "peak_rss_mb_parent": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
