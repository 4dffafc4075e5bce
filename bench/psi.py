"""PSI benchmarks (issue 10): balanced n x n with 50% overlap, and unbalanced 10k vs a large,
preprocessed provider set.

* ``balanced_http``: the real thing. A node (``dataex serve`` in its own process, loopback HTTP)
  holds a registered dataset of n resident IDs; the consumer runs the CLI's PSI client (count mode)
  with n IDs of which half match. The first session includes the node's one-time preprocessing of
  its set (key, blinding, GCS); the second reuses it, as every later session does.
* ``balanced`` / ``unbalanced``: protocol level (openmined-psi, one process, messages in memory).

Both sides split their work over the machine's cores (dataex.privacy.psi.protocol.WORKERS).

    .venv/bin/python -m bench.psi [--balanced-log2 20] [--provider 1000000] [--consumer 10000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dataex.privacy.psi import protocol


def items(prefix: str, start: int, n: int) -> list[str]:
    return [f"cn_resident_id:{prefix}{i:012d}" for i in range(start, start + n)]


def balanced(log2: int) -> dict[str, float]:
    n = 1 << log2
    server_items, client_items = items("x", 0, n), items("x", n // 2, n)
    t0 = time.perf_counter()
    key = protocol.new_key()
    setup = protocol.server_setup(server_items, key=key, max_client_items=n)
    t1 = time.perf_counter()
    client = protocol.Client(reveal=False)
    request = client.request(client_items)
    t2 = time.perf_counter()
    response = protocol.server_answer(request, key=key, reveal=False)
    t3 = time.perf_counter()
    size = client.size(setup.setup, response)
    t4 = time.perf_counter()
    assert size == n // 2, size
    total = t4 - t0
    return {
        "n": n,
        "setup_s": round(t1 - t0, 2),
        "client_request_s": round(t2 - t1, 2),
        "server_answer_s": round(t3 - t2, 2),
        "client_finish_s": round(t4 - t3, 2),
        "total_s": round(total, 2),
        "extrapolated_2^20_single_core_s": round(total * (1 << 20) / n, 1),
        "bytes": len(setup.setup) + len(request) + len(response),
    }


def unbalanced(provider: int, consumer: int) -> dict[str, float]:
    server_items = items("x", 0, provider)
    t0 = time.perf_counter()
    key = protocol.new_key()
    setup = protocol.server_setup(server_items, key=key, max_client_items=1 << 20)
    t1 = time.perf_counter()
    client = protocol.Client(reveal=True)
    client_items = items("x", provider - consumer // 2, consumer)
    request = client.request(client_items)
    response = protocol.server_answer(request, key=key, reveal=True)
    hits = client.intersection(setup.setup, response)
    t2 = time.perf_counter()
    assert len(hits) == consumer // 2
    return {
        "provider": provider,
        "consumer": consumer,
        "preprocess_once_s": round(t1 - t0, 2),
        "online_session_s": round(t2 - t1, 2),
        "setup_bytes": len(setup.setup),
    }


def resident_ids(start: int, n: int) -> list[str]:
    """``n`` valid 18-character resident IDs (check digit included), distinct for distinct numbers."""
    from dataex.demo.data import resident_id_check_digit

    out = []
    for i in range(start, start + n):
        day = i // 1000 % 336
        first17 = f"{110101 + i // 336000:06d}1990{1 + day // 28:02d}{1 + day % 28:02d}{i % 1000:03d}"
        out.append(first17 + resident_id_check_digit(first17))
    return out


def balanced_http(log2: int) -> dict[str, float]:
    """n x n over loopback HTTP against a real ``dataex serve`` (see the module docstring)."""
    import shutil
    import socket
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from dataex.config import Settings
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer
    from dataex.exchange import Exchange
    from dataex.privacy.psi.client import HttpTransport, run

    n = 1 << log2
    work = Path(__file__).resolve().parent / "work" / "psi"
    home = work / f"node-{log2}"
    shutil.rmtree(home, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    provider_ids = resident_ids(0, n)
    if len(set(provider_ids)) != n:
        raise AssertionError("generated resident IDs collide")
    provider_csv, consumer_csv = work / f"provider-{log2}.csv", work / f"consumer-{log2}.csv"
    pacsv.write_csv(pa.table({"id_no": provider_ids, "n": list(range(n))}), provider_csv)
    pacsv.write_csv(pa.table({"id_no": resident_ids(n // 2, n)}), consumer_csv)
    ex, _ = Exchange.init(Settings(home=home))
    try:
        hospital, _ = ex.create_party("Hospital", kind="hospital", role="provider")
        insurer, token = ex.create_party("Insurer", kind="insurer", role="consumer")
        reg = ex.register(provider_csv, owner=hospital.id, title="IDs", license="proprietary", analyze=False)
        offer = create_offer(
            ex, reg.dataset.id, actor=hospital, tier="L1", purposes=["research"], epsilon=1.0, price=0
        )
        contract = request_contract(ex, offer.id, actor=insurer, purpose="research")
        if contract.state == "requested":
            contract = approve_contract(ex, contract.id, actor=hospital)
    finally:
        ex.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "dataex.cli", "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        first = run(HttpTransport(url, token), contract.id, input=consumer_csv, column="id_no", provider_column="id_no")
        t1 = time.perf_counter()
        second = run(HttpTransport(url, token), contract.id, input=consumer_csv, column="id_no", provider_column="id_no")
        t2 = time.perf_counter()
    finally:
        server.terminate()
        server.wait(30)
    if first.count != n // 2 or second.count != n // 2:
        raise AssertionError(f"wrong intersection size: {first.count}, {second.count} != {n // 2}")
    return {
        "n": n,
        "first_session_with_preprocessing_s": round(t1 - t0, 1),
        "later_session_s": round(t2 - t1, 1),
        "preprocessing_s": round((t1 - t0) - (t2 - t1), 1),
        "cores": protocol.WORKERS,
        "core_seconds_per_million_pair_first": round((t1 - t0) * protocol.WORKERS * 1e6 / n, 1),
    }


def _wait_for(port: int, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/version", timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"dataex serve did not answer on port {port}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--balanced-log2", type=int, default=16)
    p.add_argument("--http-log2", type=int, default=20)
    p.add_argument("--provider", type=int, default=1_000_000)
    p.add_argument("--consumer", type=int, default=10_000)
    p.add_argument("--skip", nargs="*", default=[], choices=["http", "balanced", "unbalanced"])
    a = p.parse_args()
    out: dict[str, object] = {}
    if "http" not in a.skip:
        out["balanced_http"] = balanced_http(a.http_log2)
    if "balanced" not in a.skip:
        out["balanced"] = balanced(a.balanced_log2)
    if "unbalanced" not in a.skip:
        out["unbalanced"] = unbalanced(a.provider, a.consumer)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
