"""`audit verify` on a large log: every leaf hash, every checkpoint, and the state replay.

    python -m bench.log [--entries 1000000] [--charges 100000] [--write]

Builds a SQLite node whose log holds ``--entries`` entries: ``--charges`` real usage charges through
``budget.charge_many`` (each a ``budget.charged`` entry and a posting that the replay folds into
contract budgets and wallet balances) and, for the rest, ``access.allowed`` decisions appended in
batches, as a busy node's policy point writes them. Then times ``verify_node`` (what
``dataex audit verify`` runs: leaf hashes, checkpoints, datasets, state replay and comparison) and,
separately, the replay alone over the same entries. Goal: linear, < 60 s for 1,000,000 entries.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
BATCH = 10_000


def build(home: Path, entries: int, charges: int) -> dict[str, object]:
    from dataex import Exchange
    from dataex.contracts.budget import ChargeRequest, charge_many
    from dataex.contracts.lifecycle import approve_contract, request_contract
    from dataex.contracts.offers import create_offer
    from dataex.market.settlement import deposit

    ex, _ = Exchange.init(home=home)
    with ex:
        hospital, _ = ex.create_party("Hospital", kind="hospital", role="provider")
        insurer, _ = ex.create_party("Insurer", kind="insurer", role="consumer")
        operator = next(p for p in ex.list_parties() if p.is_operator)
        csv = home.parent / "d.csv"
        csv.write_text("a,b\n" + "\n".join(f"{i},{i * 7 % 13}" for i in range(200)) + "\n")
        ds = ex.register(csv, owner=hospital.id, title="d", license="p").dataset.id
        ids = []
        for _ in range(4):
            offer = create_offer(
                ex,
                ds,
                actor=hospital,
                tier="L2",
                purposes=["research"],
                price={"amount_fen": 1, "unit": "query"},
                max_queries=10 * charges + 10,
            )
            c = request_contract(ex, offer.id, actor=insurer, purpose="research")
            ids.append(approve_contract(ex, c.id, actor=hospital).id)
        deposit(ex, insurer.id, charges + 10, actor=operator)
        t = time.perf_counter()
        done = 0
        while done < charges:
            n = min(500, charges - done)
            charge_many(ex, [ChargeRequest(ids[(done + i) % 4], queries=1) for i in range(n)])
            done += n
        charge_s = time.perf_counter() - t
        t = time.perf_counter()
        with ex.session() as s:
            size = ex.log.size(s)
        while size < entries:
            n = min(BATCH, entries - size)
            with ex.transaction() as s:
                ex.log.append_many(
                    s,
                    [
                        (
                            "access.allowed",
                            {
                                "action": "dp_query",
                                "dataset_id": ds,
                                "contract_id": ids[i % 4],
                                "rule": "tier",
                            },
                            insurer.id,
                        )
                        for i in range(n)
                    ],
                )
                ex.log.checkpoint(s)
            size += n
        fill_s = time.perf_counter() - t
    return {"charge_seconds": charge_s, "fill_seconds": fill_s, "entries": size}


def _ignore(message: str, **where: object) -> None:
    """The replay's problems are counted by ``verify_node``; here only its time matters."""


def measure(home: Path) -> dict[str, object]:
    from sqlalchemy import select

    from dataex import Exchange
    from dataex.audit import verify_node
    from dataex.db.models import LogEntryRow
    from dataex.replay import Replay

    ex = Exchange.open(home=home)
    with ex:
        t = time.perf_counter()
        report = verify_node(ex)
        verify_s = time.perf_counter() - t
        t = time.perf_counter()
        replay = Replay()
        with ex.session() as s:
            for raw in s.scalars(
                select(LogEntryRow.entry).order_by(LogEntryRow.idx).execution_options(yield_per=5000)
            ):
                replay.apply(json.loads(raw))
            checked = replay.compare(s, _ignore)
        replay_s = time.perf_counter() - t
    return {
        "ok": report.ok,
        "problems": report.problems[:3],
        "verify_seconds": verify_s,
        "replay_seconds": replay_s,
        "checked": {**report.checked, **checked},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def section(r: dict[str, object], provenance: str) -> str:
    from bench.run import section as make_section
    from bench.run import table

    entries = int(r["entries"])  # type: ignore[call-overload]
    verify_s, replay_s = float(r["verify_seconds"]), float(r["replay_seconds"])  # type: ignore[arg-type]
    rows = [
        (
            f"`audit verify`, {entries:,} entries (hashes, checkpoints, replay)",
            f"{verify_s:.1f} s",
            "< 60 s",
            verify_s < 60,
        ),
        ("the state replay alone, measured as a separate pass (parse, fold, compare)", f"{replay_s:.1f} s", "", None),
        ("entries per second (`audit verify`)", f"{entries / verify_s:,.0f}", "", None),
        ("peak RSS", f"{float(r['peak_rss_mb']):,.0f} MB", "", None),  # type: ignore[arg-type]
        ("result", "ok" if r["ok"] else f"problems: {r['problems']}", "ok", bool(r["ok"])),
    ]
    head = (
        f"A SQLite node with {entries:,} log entries: {int(r['charges']):,} usage charges through "  # type: ignore[call-overload]
        "`budget.charge_many` (budgets and postings the replay folds) and `access.allowed` decisions for "
        "the rest (`bench/log.py`)."
    )
    return make_section("Log: `audit verify` and the state replay", provenance, head + "\n\n" + table(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--charges", type=int, default=100_000)
    p.add_argument("--write", action="store_true", help="update the Log section of RESULTS.md")
    a = p.parse_args()
    WORK.mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    try:
        built = build(tmp / "node", a.entries, a.charges)
        result = {**built, **measure(tmp / "node"), "charges": a.charges}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2, default=str))
    if a.write:
        from bench.run import live, write_section

        write_section("log", section(result, live(load_before)))


if __name__ == "__main__":
    main()
