"""Benchmarks against peers, side by side in one run; results go to bench/RESULTS.md.

    python -m bench [--rows 10000000] [--keep]

Registration: ``dataex register`` of a generated CSV (import + digest + MinHash + certificate + log)
against DuckDB's own ``COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'``. Each side runs in its own
fresh process, which reports its wall time and peak RSS; the peer runs first and last, and the
better of its two runs is taken (to be fair to the peer on a warm page cache).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

PEER = """
import duckdb, json, resource, sys, time
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect(); con.execute("SET enable_progress_bar=false")
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{src}')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

OURS = """
import json, resource, sys, time
from pathlib import Path
from dataex import Exchange
src, home = Path(sys.argv[1]), Path(sys.argv[2])
ex, _ = Exchange.init(home=home)
party, _ = ex.create_party("bench hospital", kind="hospital", role="provider")
t = time.perf_counter()
reg = ex.register(src, owner=party.id, title="bench", license="x", analyze=False)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the same work again, phase by phase, to show where the time goes
from dataex.storage.importer import import_table
from dataex.catalog.digest import digest_parquet
scratch = home / "phases"; scratch.mkdir()
t = time.perf_counter(); imported = import_table(src, scratch / "c.parquet", work_dir=scratch); t_import = time.perf_counter() - t
t = time.perf_counter(); digest_parquet(scratch / "c.parquet", [c.name for c in imported.columns]); t_digest = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rows": reg.dataset.rows, "peak_rss_mb": peak,
                  "import_seconds": t_import, "digest_seconds": t_digest}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_register(rows: int) -> dict[str, object]:
    from bench.datagen import write_large_csv

    WORK.mkdir(exist_ok=True)
    src = WORK / f"visits_{rows}.csv"
    if not src.exists():
        write_large_csv(src, rows)
    size = src.stat().st_size
    peer1 = _run(PEER, str(src), str(WORK / "peer.parquet"))
    home = WORK / "node"
    shutil.rmtree(home, ignore_errors=True)
    ours = _run(OURS, str(src), str(home))
    peer2 = _run(PEER, str(src), str(WORK / "peer.parquet"))
    peer = min(peer1, peer2, key=lambda r: r["seconds"])
    shutil.rmtree(home, ignore_errors=True)
    (WORK / "peer.parquet").unlink(missing_ok=True)
    return {
        "rows": rows,
        "csv_bytes": size,
        "peer": peer,
        "ours": ours,
        "ratio": ours["seconds"] / peer["seconds"],
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, {platform.system()} {platform.release()}"
    )


def register_section(reg: dict[str, object]) -> str:
    peer, ours = reg["peer"], reg["ours"]
    assert isinstance(peer, dict) and isinstance(ours, dict)
    return f"""## Registration vs DuckDB's own CSV → Parquet copy

Measured {stamp()}. Input: a generated outpatient-visits CSV, {reg["rows"]:,} rows, {int(reg["csv_bytes"]) / 1e9:.2f} GB (`bench/datagen.py`).

| | wall time | peak RSS |
| --- | --- | --- |
| DuckDB `COPY (SELECT * FROM read_csv(…)) TO 'x.parquet' (COMPRESSION zstd)` (best of 2) | {peer["seconds"]:.1f} s | {peer["peak_rss_mb"]:.0f} MB |
| `dataex register` (import, digest, MinHash, originality, certificate, log) | {ours["seconds"]:.1f} s | {ours["peak_rss_mb"]:.0f} MB |
| **ratio** (goal <= 1.5; peak RSS goal <= 2 GB) | **{reg["ratio"]:.2f}** | |

Phases, measured again one by one in the same process: import to canonical Parquet
{ours["import_seconds"]:.1f} s, digest + MinHash {ours["digest_seconds"]:.1f} s.

Where the time goes: the import is DuckDB's own CSV reader and Parquet writer and costs what the
peer costs. On top of it the digest renders every cell as text, computes one SHA-256 per row inside
DuckDB (the dominant cost), sorts the row hashes and streams them through one more SHA-256
(docs/digest.md). That per-row cryptographic hash is what makes the digest independent of row order
and file format while staying unforgeable; cheaper order-independent combinations (sums or XORs of
row hashes) can be forged. So the 1.5 goal is missed by design on 2 cores; peak RSS is within goal.
"""


def stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_section(name: str, body: str) -> None:
    """Replaces one benchmark's section of RESULTS.md, keeping the others."""
    path = HERE / "RESULTS.md"
    header = f"# Benchmark results\n\nWritten by `python -m bench` (`make bench`). Machine: {machine()}.\n\n"
    old = path.read_text() if path.exists() else ""
    sections: dict[str, str] = {}
    for chunk in old.split("<!-- bench:")[1:]:
        key, _, rest = chunk.partition(" -->\n")
        sections[key] = rest.split("<!-- end -->")[0]
    sections[name] = body
    text = header + "".join(
        f"<!-- bench:{k} -->\n{v.strip()}\n<!-- end -->\n\n" for k, v in sorted(sections.items())
    )
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV in bench/work")
    args = parser.parse_args()
    reg = bench_register(args.rows)
    print(json.dumps(reg, indent=2))
    write_section("register", register_section(reg))
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
