"""Delivery benchmarks: fingerprint embedding, leak tracing, Delta Sharing reads vs pyarrow.

    python -m bench.delivery [--rows 10000000] [--source-rows 1000000] [--leak-rows 100000]
                             [--share-rows 10000000] [--write]

* embedding: ``dataex.delivery.fingerprint.embed`` on an in-memory table of ``--rows`` visits
  (visit_id, age, sex, department, visit_date, cost; ``cost`` tolerable), rows/s;
* tracing: ``trace()`` of a ``--leak-rows`` sample of an L4 extract of ``--source-rows`` rows;
* Delta Sharing: the official client's ``load_as_pandas`` against a ``dataex serve`` subprocess on
  loopback (after a first query that makes the contract's copy, timed apart), vs
  ``pq.read_table(...).to_pandas()`` of the same Parquet file from disk; best of 2 alternating runs.

``--write`` replaces the delivery section of bench/RESULTS.md (``bench.run.write_section``), with
the load average at the start and end of the run.
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
from functools import partial
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
    from dataex.delivery.fingerprint import WORKERS, Tolerance, embed

    table = visits(rows)
    secret = b"b" * 32
    p = tardos.biases(secret)
    mark = partial(
        embed,
        secret=secret,
        tolerances=[Tolerance("cost", 1, 2, "number")],
        codeword=tardos.codeword(secret, "ctr_x", p),
    )
    mark(table.slice(0, 1000))  # one-time imports (pyarrow's to_numpy loads pandas), not throughput
    t = time.perf_counter()
    out = mark(table)
    seconds = time.perf_counter() - t
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "marked": out.marked_cells,
        "workers": min(WORKERS, os.cpu_count() or 1),
    }


def node_with_contract(tmp: Path, rows: int) -> tuple[Any, Any, str]:
    """A node with ``rows`` visits (``cost`` tolerable) and an approved L4 contract of an insurer."""
    from dataex import Exchange
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer
    from dataex.delivery.tolerances import set_tolerances

    ex, _ = Exchange.init(home=tmp / "node")
    hospital, _ = ex.create_party("H", kind="hospital", role="provider")
    insurer, _token = ex.create_party("I", kind="insurer", role="consumer")
    src = tmp / "visits.parquet"
    pq.write_table(visits(rows), src)
    ds = ex.register(src, owner=hospital.id, title="visits", license="x", analyze=False).dataset.id
    src.unlink()
    set_tolerances(ex, ds, {"cost": 1}, actor=hospital)
    offer = create_offer(
        ex, ds, actor=hospital, tier="L4", purposes=["research"], price=0, legal_basis="consent"
    )
    c = approve_contract(
        ex, request_contract(ex, offer.id, actor=insurer, purpose="research").id, actor=hospital
    )
    return ex, insurer, c.id


def node_with_extract(tmp: Path, rows: int) -> tuple[Any, Any, str, Path]:
    from dataex.delivery.extracts import extract

    ex, insurer, contract_id = node_with_contract(tmp, rows)
    out = extract(ex, contract_id, actor=insurer, out=tmp / "extract.parquet")
    return ex, insurer, contract_id, out.path


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``dataex serve`` in a subprocess, returned once it accepts connections."""
    env = {**os.environ, "PYTHONPATH": f"{HERE.parent / 'src'}{os.pathsep}{HERE.parent}"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dataex.cli", "serve", "--home", str(home), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"dataex serve did not start: {log.read_text()}") from None
            time.sleep(0.1)


def http_get_seconds(profile: dict[str, Any], share: str, table: str) -> tuple[float, int]:
    """A plain GET of the table's pre-signed file URL (what the server's file route delivers)."""
    import requests

    base = f"{profile['endpoint']}/shares/{share}/schemas/dataex/tables/{table}"
    auth = {"Authorization": f"Bearer {profile['bearerToken']}"}
    query = requests.post(f"{base}/query", json={}, headers=auth, timeout=60)
    query.raise_for_status()
    url = json.loads(query.text.splitlines()[-1])["file"]["url"]
    t = time.perf_counter()
    size = 0
    with requests.get(url, stream=True, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            size += len(chunk)
    return time.perf_counter() - t, size


def bench_sharing(rows: int, repeats: int = 2) -> dict[str, Any]:
    """The official client's ``load_as_pandas`` through ``dataex serve`` vs pyarrow on the same file.

    The first query (``limit=1``) makes the contract's fingerprinted copy and is timed apart. Then
    each side runs ``repeats`` times, alternating, and the best run of each side is compared (the
    machine is shared: the best run is the least disturbed one).
    """
    import delta_sharing

    from dataex.delivery.sharing import issue_profile

    with tempfile.TemporaryDirectory(dir=HERE / "work") as d:
        tmp = Path(d)
        t = time.perf_counter()
        ex, insurer, contract_id = node_with_contract(tmp, rows)
        setup = time.perf_counter() - t
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}/delta-sharing"
        profile = issue_profile(ex, contract_id, actor=insurer, endpoint=endpoint)
        (tmp / "p.share").write_text(json.dumps(profile))
        ds = ex.list_datasets()[0].id
        ex.close()
        proc = serve(tmp / "node", port, tmp / "serve.log")
        try:
            url = f"{tmp / 'p.share'}#{contract_id}.dataex.{ds}"
            t = time.perf_counter()
            delta_sharing.load_as_pandas(url, limit=1)  # makes (fingerprints, charges) the copy
            first_query = time.perf_counter() - t
            (copy,) = (tmp / "node" / "shares" / contract_id).glob("*.parquet")
            http_s, size = http_get_seconds(profile, contract_id, ds)
            shared: list[float] = []
            local: list[float] = []
            for _ in range(repeats):
                t = time.perf_counter()
                frame = delta_sharing.load_as_pandas(url)
                shared.append(time.perf_counter() - t)
                assert len(frame) == rows
                del frame
                t = time.perf_counter()
                direct = pq.read_table(copy).to_pandas()
                local.append(time.perf_counter() - t)
                assert len(direct) == rows
                del direct
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    best_shared, best_local = min(shared), min(local)
    return {
        "rows": rows,
        "file_mb": round(size / 1e6, 1),
        "setup_s": round(setup, 1),
        "first_query_s": round(first_query, 2),
        "http_get_s": round(http_s, 2),
        "http_mb_per_s": round(size / 1e6 / http_s),
        "delta_sharing_s": round(best_shared, 2),
        "pyarrow_s": round(best_local, 2),
        "delta_sharing_runs_s": [round(x, 2) for x in shared],
        "pyarrow_runs_s": [round(x, 2) for x in local],
        "delta_sharing_rows_per_s": round(rows / best_shared),
        "pyarrow_rows_per_s": round(rows / best_local),
        "ratio": round(best_shared / best_local, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--source-rows", type=int, default=1_000_000)
    parser.add_argument("--leak-rows", type=int, default=100_000)
    parser.add_argument("--share-rows", type=int, default=10_000_000)
    parser.add_argument("--write", action="store_true", help="write the delivery section of bench/RESULTS.md")
    args = parser.parse_args()
    (HERE / "work").mkdir(exist_ok=True)
    load_before = os.getloadavg()
    results = {
        "embed": bench_embed(args.rows),
        "trace": bench_trace(args.source_rows, args.leak_rows),
        "delta_sharing": bench_sharing(args.share_rows),
    }
    results["load_average"] = {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)}
    print(json.dumps(results, indent=2))
    if args.write:
        from bench.run import delivery_section, write_section

        write_section("delivery", delivery_section(results, provenance(results), notes(results)))


def provenance(r: dict[str, Any]) -> str:
    load = r["load_average"]
    return (
        f"Measured {stamp_now()} by `python -m bench.delivery --write` on this 2-core machine "
        f"**while other engineers' jobs were running** (1-minute load average {load['before']} before, "
        f"{load['after']} after): absolute times are inflated by the contention."
    )


def stamp_now() -> str:
    from bench.run import stamp

    return stamp()


def notes(r: dict[str, Any]) -> str:
    e, d = r["embed"], r["delta_sharing"]
    return f"""Embedding: {e["rows"]:,} rows in memory, `cost` tolerable, {e["workers"]} thread(s) over row chunks
(`dataex.delivery.fingerprint.embed`); the row keys and marks are byte-identical to the earlier
implementation (pinned by `tests/delivery/test_fingerprint.py`).

Delta Sharing: {d["rows"]:,} rows, one {d["file_mb"]} MB fingerprinted Parquet copy. The official client
(`delta_sharing.load_as_pandas`) against `dataex serve` on loopback vs `pq.read_table(...).to_pandas()`
of the same file from disk, best of {len(d["delta_sharing_runs_s"])} alternating runs each (client runs
{d["delta_sharing_runs_s"]} s, pyarrow runs {d["pyarrow_runs_s"]} s). The first query, which makes the
contract's copy (read, fingerprint, write, hash, charge, log), took {d["first_query_s"]} s and is not in the
ratio. A plain GET of the pre-signed URL moves the file at {d["http_mb_per_s"]} MB/s
({d["http_get_s"]} s): the transfer is a small part of the client's time, most of which is its own
single-threaded Arrow → pandas conversion."""


if __name__ == "__main__":
    main()
