"""PSI benchmarks (issue 10): balanced n x n with 50% overlap, and unbalanced 10k vs a large,
preprocessed provider set. Protocol-level (openmined-psi, in one process, no HTTP): the numbers are
the cryptographic work; messages are bytes in memory.

    .venv/bin/python bench/psi.py [--balanced-log2 16] [--provider 1000000] [--consumer 10000]
"""

from __future__ import annotations

import argparse
import json
import time

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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--balanced-log2", type=int, default=16)
    p.add_argument("--provider", type=int, default=1_000_000)
    p.add_argument("--consumer", type=int, default=10_000)
    a = p.parse_args()
    out = {"balanced": balanced(a.balanced_log2), "unbalanced": unbalanced(a.provider, a.consumer)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
