"""Web console latency: the catalog and dataset pages under 50 concurrent clients, 10,000 datasets.

    python -m bench.web [--datasets 10000] [--clients 50] [--requests 2000] [--think 1.0] [--workers 1]

A node is filled in bulk with generated bilingual catalog entries (``bench.search``'s generator
and loader, so the search index is the real one). ``dataex serve``'s app (API + console, from
the same app factory as ``dataex serve --workers N``) runs under a real uvicorn on a loopback port
in its own process(es), ``--workers`` of them; a timing middleware adds a
``Server-Timing: app;dur=…`` header to each response. ``--clients`` signed-in consumers (httpx,
asyncio, one session cookie each) then request, as fast as they can, a mix of pages: the catalog
home (newest datasets), the catalog with a Chinese or English query, the catalog with a filter, and
dataset pages, each client pausing a random think time (exponential, mean ``--think`` seconds,
like a person reading the page; ``--think 0`` saturates the server) between pages. Reported per page kind: the server time (the header: from the request entering the
app to the response leaving it) and the client-observed latency (which adds queueing in uvicorn and
the client's own work), p50/p95/p99, and the throughput. Goal: server-time p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Benchmark data is seeded synthetic data, not privacy noise: a seeded numpy Generator is what we want.
from numpy.random import default_rng  # noqa: TID251

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
KINDS = ("home", "search", "filter", "dataset")


def server_app() -> Any:
    """The uvicorn factory (``bench.web:server_app``): ``dataex serve --workers N``'s app, timed.

    It is ``dataex.server.app_from_env`` (the node at ``$DATAEX_HOME``) wrapped in ``_Timed``, run
    by uvicorn with the same ``--workers`` as ``dataex serve --workers``: only the header is added.
    """
    from dataex.server import app_from_env

    return _Timed(app_from_env())


class _Timed:
    """ASGI middleware: ``Server-Timing: app;dur=<ms>`` from the call to the response's start."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={ms:.2f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, timed)


def build(home: Path, datasets: int) -> dict[str, Any]:
    """A node with ``datasets`` generated entries; returns a consumer token and sample ids."""
    from bench.search import _documents, _load, generate, queries
    from dataex import Exchange
    from dataex.catalog import text as tx

    tx.terms("预热")
    items = generate(datasets)
    docs = _documents(items)
    ex, _ = Exchange.init(home=home)
    with ex:
        owner, _ = ex.create_party("bench provider", kind="hospital", role="provider")
        _consumer, token = ex.create_party("bench consumer", kind="ai_team", role="consumer")
        t = time.perf_counter()
        _load(ex, owner.id, items, docs)
        with ex.engine.begin() as conn:
            # no ANALYZE: with every derived_from NULL its statistics would make SQLite scan the
            # table for the lineage query (nodes do not run ANALYZE either)
            conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        load_s = time.perf_counter() - t
        public = [f"ds_{i:016x}" for i, item in enumerate(items) if not item["private"]]
        licenses = sorted({item["license"].lower() for item in items})
    return {
        "token": token,
        "datasets": public[:: max(1, len(public) // 200)][:200],
        "queries": queries(100),
        "licenses": licenses,
        "load_seconds": round(load_s, 1),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATAEX_HOME": str(home), "PYTHONPATH": f"{HERE.parent}:{HERE.parent / 'src'}"}
    cmd = [sys.executable, "-m", "uvicorn", "bench.web:server_app", "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(cmd, env=env, cwd=HERE.parent)


async def _sign_in(client: Any, token: str) -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    r = await client.post("/login", data={"token": token, "csrf": csrf.group(1)})
    assert r.status_code == 303, r.text


def _url(kind: str, rng: Any, plan: dict[str, Any]) -> str:
    if kind == "home":
        return "/"
    if kind == "search":
        return "/?q=" + plan["queries"][int(rng.integers(len(plan["queries"])))]
    if kind == "filter":
        return "/?license=" + plan["licenses"][int(rng.integers(len(plan["licenses"])))]
    return "/dataset/" + plan["datasets"][int(rng.integers(len(plan["datasets"])))]


async def load(base: str, plan: dict[str, Any], clients: int, requests: int, think: float) -> dict[str, Any]:
    import httpx

    results: list[tuple[str, float, float]] = []
    per_client = max(1, requests // clients)

    async def one(n: int, count: int, pause: float) -> None:
        rng = default_rng(1000 + n)
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=60, headers={"Accept": "text/html"}
        ) as c:
            await _sign_in(c, plan["token"])
            for _ in range(count):
                kind = KINDS[int(rng.integers(len(KINDS)))]
                t = time.perf_counter()
                r = await c.get(_url(kind, rng, plan))
                elapsed = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, (r.status_code, r.text[:300])
                server = float(r.headers["server-timing"].split("dur=")[1])
                results.append((kind, server, elapsed))
                if pause:
                    await asyncio.sleep(float(rng.exponential(pause)))

    # warm-up: every worker imports templates, jieba, catalogs
    await asyncio.gather(*(one(-i - 1, 20, 0.0) for i in range(min(clients, 8))))
    results.clear()
    t = time.perf_counter()
    await asyncio.gather(*(one(i, per_client, think) for i in range(clients)))
    wall = time.perf_counter() - t
    out: dict[str, Any] = {
        "requests": len(results),
        "seconds": round(wall, 1),
        "rps": round(len(results) / wall, 1),
    }
    for kind in (*KINDS, "all"):
        rows = [r for r in results if kind in ("all", r[0])]
        out[kind] = {
            "n": len(rows),
            **{f"server_p{p}_ms": _pct([r[1] for r in rows], p) for p in (50, 95, 99)},
            **{f"client_p{p}_ms": _pct([r[2] for r in rows], p) for p in (50, 95, 99)},
        }
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1) if ordered else 0.0


def bench_web(
    datasets: int = 10_000, *, clients: int = 50, requests: int = 2_000, think: float = 1.0, workers: int = 1
) -> dict[str, Any]:
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="web-") as tmp:
        home = Path(tmp) / "node"
        plan = build(home, datasets)
        port = free_port()
        server = serve(home, port, workers)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base, server)
            measured = asyncio.run(load(base, plan, clients, requests, think))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "datasets": datasets,
        "clients": clients,
        "think_seconds": think,
        "workers": workers,
        "load_seconds": plan["load_seconds"],
        **measured,
    }


def _wait(base: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting server process, not a test
    raise SystemExit("the server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between pages, seconds")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    result = bench_web(
        args.datasets, clients=args.clients, requests=args.requests, think=args.think, workers=args.workers
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
