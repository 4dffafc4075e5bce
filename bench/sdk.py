"""API overhead: the same SDK calls through ``dataex.connect()`` (HTTP) and ``dataex.open()`` (in-process).

    python -m bench.sdk [--rows 1000000] [--reps 5]

A node with one registered table of ``rows`` outpatient visits (bench/datagen.py), its privacy metadata
declared and an auto-approved L1 offer; an insurer holds the contract. The node is served by a real
``dataex serve`` (uvicorn) in its own process on loopback; ``open()`` opens the same home in this
process. Measured, alternating the two transports, median of ``reps``:

* a catalog list: ``client.datasets()`` (``GET /datasets``);
* a DP query: ``contract.query(QUERY, epsilon=…)`` (``POST /contracts/{id}/query``) — a slightly
  different ε each time, so the answer cache never serves it and every call runs the DP release.

The ratio is connect / open; the issue's goal is <= 1.3 for the DP query on 1M rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "sdk"
QUERY = (
    "SELECT diagnosis, COUNT(*) AS n, AVG(cost) AS avg_cost FROM visits WHERE age >= 60 GROUP BY diagnosis"
)
GOAL_RATIO = 1.3
SERVE = "from dataex.cli.main import main; main()"


def build_node(rows: int) -> tuple[Path, str]:
    """A fresh node under bench/work/sdk with the visits table, offered at L1; returns (home, contract)."""
    import dataex
    from bench.dp import make_data

    parquet = make_data(rows)
    home = WORK / f"node-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    ex, _ = dataex.Exchange.init(home=home)
    _hospital, hospital_token = ex.create_party("bench hospital", kind="hospital", role="provider")
    _insurer, insurer_token = ex.create_party("bench insurer", kind="insurer", role="consumer")
    ex.close()
    domain = [r[0] for r in duckdb.sql(f"SELECT DISTINCT diagnosis FROM '{parquet}' ORDER BY 1").fetchall()]
    with dataex.open(home, hospital_token) as provider:
        named = shutil.copy(parquet, home / "visits.parquet")  # the table is named after the file
        ds = provider.register(named, "bench visits", "proprietary")
        ds.set_privacy(
            unit="patient_id", max_contributions=3, bounds={"cost": (0, 20000)}, domains={"diagnosis": domain}
        )
        offer = ds.offer("L1", purposes=["research"], epsilon=10_000.0, approval="auto")
    with dataex.open(home, insurer_token) as consumer:
        contract = consumer.request(offer.id, purpose="research")
    (home / "bench-token").write_text(insurer_token)
    return home, contract.id


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``dataex serve --home HOME --port P`` on loopback, once it answers ``GET /version``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--home", str(home), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/version", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"dataex serve did not answer within 60 s; see {home / 'serve.log'}")


def bench_sdk(rows: int = 1_000_000, reps: int = 5, list_reps: int = 50) -> dict[str, Any]:
    import dataex

    home, contract_id = build_node(rows)
    token = (home / "bench-token").read_text()
    proc, url = serve(home)
    times: dict[str, dict[str, list[float]]] = {"list": {"open": [], "connect": []}}
    times["query"] = {"open": [], "connect": []}
    try:
        local, remote = dataex.open(home, token), dataex.connect(url, token)
        with local, remote:
            clients = {"open": local, "connect": remote}
            contracts = {name: c.contract(contract_id) for name, c in clients.items()}
            for k, (name, c) in enumerate(clients.items()):  # warm both: imports, connections, engine
                c.datasets()
                contracts[name].query(QUERY, epsilon=0.5 + k / 10)
            for _ in range(list_reps):
                for name, c in clients.items():
                    t = time.perf_counter()
                    c.datasets()
                    times["list"][name].append(time.perf_counter() - t)
            for i in range(reps):
                for j, name in enumerate(clients):
                    eps = 0.01 + (2 * i + j) * 1e-4  # never the same (query, ε): no cache hits
                    t = time.perf_counter()
                    frame = contracts[name].query(QUERY, epsilon=eps)
                    times["query"][name].append(time.perf_counter() - t)
                    assert frame.attrs["cached"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out: dict[str, Any] = {"rows": rows, "reps": reps, "list_reps": list_reps, "goal_ratio": GOAL_RATIO}
    for what, by in times.items():
        med = {name: statistics.median(v) for name, v in by.items()}
        out[what] = {
            "open_ms": round(med["open"] * 1000, 2),
            "connect_ms": round(med["connect"] * 1000, 2),
            "ratio": round(med["connect"] / med["open"], 2),
        }
    shutil.rmtree(home, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(bench_sdk(args.rows, args.reps), indent=2))


if __name__ == "__main__":
    main()
