"""Registration against DuckDB alone, side by side (issue 20: register ≤ 2x COPY + SUMMARIZE).

    python -m bench.register_vs_duckdb [--rows 3000000]

Peer: DuckDB's ``COPY (SELECT * FROM read_csv(src)) TO 'x.parquet' (FORMAT parquet, COMPRESSION
zstd)`` followed by ``SUMMARIZE`` of that file. Ours: ``Exchange.register(analyze=False)`` — import
(sniff, type checks, near-typed report), digest + MinHash, originality sketch, certificate, log —
then its phases timed separately. Each side runs in its own process on the same generated CSV.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

PEER = """
import duckdb, json, sys, time
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect(); con.execute("SET enable_progress_bar=false")
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{src}')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
copy = time.perf_counter() - t
con.execute(f"SUMMARIZE SELECT * FROM read_parquet('{out}')").fetchall()
print(json.dumps({"copy_seconds": copy, "seconds": time.perf_counter() - t}))
"""

OURS = """
import json, shutil, sys, time
from pathlib import Path
from dataex import Exchange
from dataex.catalog.digest import connect, digest_parquet
from dataex.catalog.sketch import sketch_parquet
from dataex.storage.importer import import_table
src, home = Path(sys.argv[1]), Path(sys.argv[2])
shutil.rmtree(home, ignore_errors=True)
ex, _ = Exchange.init(home=home)
party, _ = ex.create_party("bench hospital", kind="hospital", role="provider")
t = time.perf_counter()
reg = ex.register(src, owner=party.id, title="bench", license="x", analyze=False)
seconds = time.perf_counter() - t
scratch = home / "phases"; scratch.mkdir()
t = time.perf_counter(); imp = import_table(src, scratch / "c.parquet", work_dir=scratch); t_import = time.perf_counter() - t
con = connect()
t = time.perf_counter(); digest_parquet(scratch / "c.parquet", [c.name for c in imp.columns], con=con); t_digest = time.perf_counter() - t
t = time.perf_counter(); sketch_parquet(scratch / "c.parquet", [(c.name, c.type) for c in imp.columns], con=con); t_sketch = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rows": reg.dataset.rows, "import_seconds": t_import,
                  "digest_seconds": t_digest, "sketch_seconds": t_sketch}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args(argv)
    from bench.datagen import write_large_csv

    WORK.mkdir(exist_ok=True)
    src = WORK / f"visits_{args.rows}.csv"
    if not src.exists():
        write_large_csv(src, args.rows)
    peer = _run(PEER, str(src), str(WORK / "peer.parquet"))
    ours = _run(OURS, str(src), str(WORK / "register-node"))
    result = {
        "rows": args.rows,
        "csv_mb": round(src.stat().st_size / 2**20, 1),
        "duckdb": peer,
        "dataex": ours,
    }
    result["ratio"] = round(ours["seconds"] / peer["seconds"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
