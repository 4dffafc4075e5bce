"""Delivery benchmarks: fingerprint embedding, leak tracing, Delta Sharing reads vs pyarrow.

    python -m bench.delivery [--rows 10000000] [--source-rows 1000000] [--leak-rows 100000] [--share-rows 2000000]

* embedding: ``dataex.delivery.fingerprint.embed`` on an in-memory table of ``--rows`` visits
  (visit_id, age, sex, department, visit_date, cost; ``cost`` tolerable), rows/s;
* tracing: ``trace()`` of a ``--leak-rows`` sample of an L4 extract of ``--source-rows`` rows;
* Delta Sharing: the official client's ``load_as_pandas`` against a ``dataex serve`` subprocess
  (after a first query that materializes the contract's copy), vs ``pq.read_table(...).to_pandas()``
  of the same Parquet file from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def visits(rows: int) -> pa.Table:
    sql = f"""
    SELECT 'V' || lpad(i::VARCHAR, 9, '0') AS visit_id, (i * 7919 % 90)::BIGINT AS age,
           CASE WHEN i % 2 = 0 THEN '男' ELSE '女' END AS sex,
           ['内科', '外科', '儿科', '骨科', '眼科'][(i % 5)::INT + 1] AS department,
           DATE '2025-01-01' + (i % 365)::INT AS visit_date,
           round(((i * 104729) % 5000000) / 100.0, 2) AS cost
    FROM range({rows}) t(i)"""
    with duckdb.connect() as con:
        return con.sql(sql).to_arrow_table()


def bench_embed(rows: int) -> dict[str, Any]:
    from dataex.delivery import tardos
    from dataex.delivery.fingerprint import Tolerance, embed

    table = visits(rows)
    secret = b"b" * 32
    p = tardos.biases(secret)
    t = time.perf_counter()
    out = embed(
        table,
        secret=secret,
        tolerances=[Tolerance("cost", 1, 2, "number")],
        codeword=tardos.codeword(secret, "ctr_x", p),
    )
    seconds = time.perf_counter() - t
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "marked": out.marked_cells,
    }


def node_with_extract(tmp: Path, rows: int) -> tuple[Any, Any, str, Path]:
    from dataex import Exchange
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer
    from dataex.delivery.extracts import extract
    from dataex.delivery.tolerances import set_tolerances

    ex, _ = Exchange.init(home=tmp / "node")
    hospital, _ = ex.create_party("H", kind="hospital", role="provider")
    insurer, _token = ex.create_party("I", kind="insurer", role="consumer")
    src = tmp / "visits.parquet"
    pq.write_table(visits(rows), src)
    ds = ex.register(src, owner=hospital.id, title="visits", license="x", analyze=False).dataset.id
    set_tolerances(ex, ds, {"cost": 1}, actor=hospital)
    offer = create_offer(
        ex, ds, actor=hospital, tier="L4", purposes=["research"], price=0, legal_basis="consent"
    )
    c = approve_contract(
        ex, request_contract(ex, offer.id, actor=insurer, purpose="research").id, actor=hospital
    )
    out = extract(ex, c.id, actor=insurer, out=tmp / "extract.parquet")
    return ex, insurer, c.id, out.path


def bench_trace(source_rows: int, leak_rows: int) -> dict[str, Any]:
    from dataex.delivery.trace import trace

    with tempfile.TemporaryDirectory(dir=HERE / "work") as d:
        ex, _, contract_id, path = node_with_extract(Path(d), source_rows)
        leak = Path(d) / "leak.parquet"
        pq.write_table(
            pq.read_table(path).take(list(range(0, source_rows, source_rows // leak_rows))[:leak_rows]), leak
        )
        t = time.perf_counter()
        result = trace(ex, leak)
        seconds = time.perf_counter() - t
        ex.close()
    assert result.matches and result.matches[0].contract_id == contract_id
    return {
        "source_rows": source_rows,
        "leak_rows": leak_rows,
        "seconds": round(seconds, 2),
        "false_accusation_bound": result.matches[0].false_accusation_bound,
    }


def bench_sharing(rows: int) -> dict[str, Any]:
    import delta_sharing
    from tests.delivery.test_delta_sharing import free_port

    from dataex.delivery.sharing import issue_profile

    with tempfile.TemporaryDirectory(dir=HERE / "work") as d:
        tmp = Path(d)
        ex, insurer, contract_id, path = node_with_extract(tmp, rows)
        port = free_port()
        profile = tmp / "p.share"
        endpoint = f"http://127.0.0.1:{port}/delta-sharing"
        profile.write_text(json.dumps(issue_profile(ex, contract_id, actor=insurer, endpoint=endpoint)))
        ds = ex.list_datasets()[0].id
        env = {**os.environ, "PYTHONPATH": f"{HERE.parent / 'src'}{os.pathsep}{HERE.parent}"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "dataex.cli", "serve", "--home", str(tmp / "node"), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            url = f"{profile}#{contract_id}.dataex.{ds}"
            delta_sharing.load_as_pandas(url, limit=1)  # materializes the contract's copy
            t = time.perf_counter()
            frame = delta_sharing.load_as_pandas(url)
            shared = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        t = time.perf_counter()
        direct = pq.read_table(path).to_pandas()
        local = time.perf_counter() - t
        ex.close()
    assert len(frame) == len(direct) == rows
    return {
        "rows": rows,
        "delta_sharing_s": round(shared, 2),
        "pyarrow_s": round(local, 2),
        "delta_sharing_rows_per_s": round(rows / shared),
        "pyarrow_rows_per_s": round(rows / local),
        "ratio": round(shared / local, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--source-rows", type=int, default=1_000_000)
    parser.add_argument("--leak-rows", type=int, default=100_000)
    parser.add_argument("--share-rows", type=int, default=2_000_000)
    args = parser.parse_args()
    (HERE / "work").mkdir(exist_ok=True)
    results = {
        "embed": bench_embed(args.rows),
        "trace": bench_trace(args.source_rows, args.leak_rows),
        "delta_sharing": bench_sharing(args.share_rows),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
