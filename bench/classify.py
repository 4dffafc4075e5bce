"""Classification benchmark: a generated 10-million-row, 20-column table, goal < 15 s.

    python -m bench.classify [--rows 10000000] [--keep]

The table is the visits-like table of ``bench.datagen`` (12 columns, real resident-ID check digits)
plus 8 columns added by DuckDB SQL (e-mail, address, IPv4, plate, free-text note with an embedded
mobile, birth date, landline, organisation code), written as one zstd Parquet file like the
canonical store. Timed: ``detect_parquet`` on that file (sampling, validation, free-text scan).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

EXTRA = """
SELECT *,
  'user' || row_number() OVER () || '@example.cn' AS email,
  ['浙江省杭州市西湖区文三路', '北京市海淀区中关村大街', '广东省深圳市南山区科技园路'][1 + (hash(visit_id) % 3)::INT]
    || (hash(visit_id) % 300)::INT || '号' AS address,
  '10.' || (hash(visit_id) % 256)::INT || '.' || (hash(patient_id) % 256)::INT || '.' || (hash(name) % 256)::INT
    AS client_ip,
  '浙A' || lpad(((hash(patient_id) % 100000)::INT)::VARCHAR, 5, '0') AS plate,
  '患者主诉头痛三天，联系电话' || mobile || '，建议复诊。' AS note,
  DATE '1930-01-01' + ((hash(id_no) % 30000)::INT) AS birth_date,
  '0571-8' || lpad(((hash(visit_id) % 1000000)::INT)::VARCHAR, 7, '0') AS landline,
  ['91330100799655058B', '914403001922038216', '91440300708461136T'][1 + (hash(patient_id) % 3)::INT]
    AS employer_code
FROM read_parquet(?)
"""


def generate(path: Path, rows: int, *, seed: int = 7, chunk_rows: int = 500_000) -> float:
    """Writes the 20-column table to ``path``; returns the seconds it took."""
    import duckdb
    import pyarrow.parquet as pq
    from numpy.random import SeedSequence, default_rng  # noqa: TID251  (seeded benchmark data)

    from bench.datagen import SCHEMA, _chunk

    t0 = time.perf_counter()
    base = path.with_suffix(".base.parquet")
    n_chunks = -(-rows // chunk_rows)
    with pq.ParquetWriter(base, SCHEMA, compression="zstd") as writer:
        for i, child in enumerate(SeedSequence(seed).spawn(n_chunks)):
            start = i * chunk_rows
            writer.write_table(_chunk(default_rng(child), start, min(chunk_rows, rows - start)))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"COPY ({EXTRA.replace('?', repr(str(base)))}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    base.unlink()
    return time.perf_counter() - t0


def bench_classify(rows: int = 10_000_000, *, keep: bool = False) -> dict[str, Any]:
    """Generates the table (cached in bench/work) and times classification; returns the timings."""
    from dataex.privacy.columns import detect_parquet

    WORK.mkdir(exist_ok=True)
    path = WORK / f"classify_{rows}.parquet"
    generate_s = 0.0 if path.exists() else generate(path, rows)
    t0 = time.perf_counter()
    detection = detect_parquet(str(path))
    seconds = time.perf_counter() - t0
    result = {
        "rows": rows,
        "columns": len(detection.fields),
        "generate_seconds": round(generate_s, 2),
        "classify_seconds": round(seconds, 2),
        "goal_seconds": 15,
        "grade": detection.grade,
        "types": {f.name: f.type for f in detection.fields},
        "per_column_seconds": {k: v for k, v in detection.timings.items() if ":" not in k},
    }
    if not keep:
        path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.classify", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated table in bench/work")
    args = parser.parse_args()
    print(json.dumps(bench_classify(args.rows, keep=args.keep), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
