"""Quality benchmarks: our full quality run against DuckDB's SUMMARIZE and against ydata-profiling.

    python -m bench.quality [--rows 10000000] [--ydata-rows 100000]

Each side runs in its own fresh process that reports wall time and peak RSS (ru_maxrss). Ours is
``dataex.quality.evaluate`` on a registered copy of the table minus registration; the peer is
``SUMMARIZE`` of the same Parquet file. Goals: ratio <= 3 and peak RSS <= 3 GB at 10M x 20;
>= 20x faster than ydata-profiling (minimal mode) at 100k rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

GENERATE = """
import duckdb, sys
rows, cols, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
exprs = []
for i in range(cols):
    k = i % 5
    if k == 0: exprs.append(f"(hash(i, {i}) % 100000)::BIGINT AS n{i}")
    elif k == 1: exprs.append(f"((hash(i, {i}) % 1000000) / 100.0)::DOUBLE AS x{i}")
    elif k == 2: exprs.append(f"CASE WHEN hash(i, {i}) % 50 = 0 THEN NULL ELSE 'c' || (hash(i, {i}) % 20)::VARCHAR END AS s{i}")
    elif k == 3: exprs.append(f"(DATE '2020-01-01' + (hash(i, {i}) % 2000)::INTEGER) AS d{i}")
    else: exprs.append(f"'k' || (hash(i, {i}) % 5000000)::VARCHAR AS t{i}")
con = duckdb.connect(); con.execute("SET enable_progress_bar=false")
con.execute(f"COPY (SELECT {', '.join(exprs)} FROM range({rows}) r(i)) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
"""

SUMMARIZE = """
import duckdb, json, resource, sys, time
con = duckdb.connect(); con.execute("SET enable_progress_bar=false")
t = time.perf_counter()
con.execute(f"SUMMARIZE SELECT * FROM read_parquet('{sys.argv[1]}')").fetchall()
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

OURS = """
import json, resource, sys, time
from pathlib import Path
from dataex import Exchange
from dataex.quality import evaluate
src, home = Path(sys.argv[1]), Path(sys.argv[2])
ex, _ = Exchange.init(home=home)
party, _ = ex.create_party("bench", kind="hospital", role="provider")
ds = ex.register(src, owner=party.id, title="bench", license="CC-BY-4.0").dataset
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
r = evaluate(ex, ds.id)
print(json.dumps({"seconds": time.perf_counter() - t, "grade": r.grade,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_rss_before_mb": base}))
"""

YDATA = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_parquet(sys.argv[1])
t = time.perf_counter()
ProfileReport(df, minimal=True, progress_bar=False).to_json()
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _table(rows: int, cols: int) -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"quality_{rows}x{cols}.parquet"
    if not path.exists():
        subprocess.run([sys.executable, "-c", GENERATE, str(rows), str(cols), str(path)], check=True)
    return path


def _ours(path: Path) -> dict[str, float]:
    home = WORK / "quality_node"
    shutil.rmtree(home, ignore_errors=True)
    try:
        return _run(OURS, str(path), str(home))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_quality(rows: int = 10_000_000, cols: int = 20) -> dict[str, object]:
    path = _table(rows, cols)
    peer1 = _run(SUMMARIZE, str(path))
    ours = _ours(path)
    peer2 = _run(SUMMARIZE, str(path))
    peer = min(peer1, peer2, key=lambda r: r["seconds"])
    return {
        "rows": rows,
        "cols": cols,
        "ours": ours,
        "summarize": peer,
        "ratio": round(ours["seconds"] / peer["seconds"], 2),
        "goal_ratio": 3,
        "goal_peak_rss_mb": 3072,
    }


def bench_quality_vs_ydata(rows: int = 100_000) -> dict[str, object]:
    path = _table(rows, 20)
    ours = _ours(path)
    try:
        peer = _run(YDATA, str(path))
    except subprocess.CalledProcessError as e:
        return {"rows": rows, "ours": ours, "ydata": None, "error": e.stderr.strip().splitlines()[-1:]}
    return {
        "rows": rows,
        "ours": ours,
        "ydata": peer,
        "speedup": round(peer["seconds"] / ours["seconds"], 1),
        "goal_speedup": 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ydata-rows", type=int, default=100_000)
    a = parser.parse_args()
    print(
        json.dumps(
            {"quality": bench_quality(a.rows), "ydata": bench_quality_vs_ydata(a.ydata_rows)}, indent=2
        )
    )


if __name__ == "__main__":
    main()
