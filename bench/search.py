"""Search latency over a generated catalog of 100,000 bilingual entries, on SQLite and PostgreSQL.

    python -m bench.search [--entries 100000] [--queries 500] [--backend sqlite|postgres|both]

Entries are inserted in bulk (datasets, metadata and search documents, segmented with the same
tokenizer the node uses), not through registration. Then ~500 mixed Chinese/English queries run
through ``dataex.catalog.search.search`` as a consumer would (visibility filter included) and the
per-query wall time is reported as p50/p95/p99. Goal: p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

# Benchmark data is seeded synthetic data, not privacy noise: a seeded numpy Generator is what we want.
from numpy.random import Generator, default_rng  # noqa: TID251
from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

DOMAINS: dict[str, dict[str, list[str]]] = {
    "medical": {
        "zh": [
            "门诊",
            "住院",
            "诊断",
            "高血压",
            "糖尿病",
            "影像",
            "放射科",
            "报告",
            "费用",
            "患者",
            "随访",
            "检验",
            "处方",
            "手术",
            "病案",
            "胸部",
            "心电图",
            "体检",
            "慢病",
            "医保",
        ],
        "en": [
            "outpatient",
            "inpatient",
            "diagnosis",
            "hypertension",
            "diabetes",
            "imaging",
            "radiology",
            "report",
            "cost",
            "patient",
            "followup",
            "lab",
            "prescription",
            "surgery",
            "chest",
            "ecg",
        ],
        "cols": [
            "patient_id",
            "age",
            "sex",
            "diagnosis_code",
            "department",
            "cost",
            "visit_date",
            "image_path",
            "report_text",
            "systolic_bp",
            "medication",
            "icd10",
        ],
    },
    "finance": {
        "zh": [
            "信贷",
            "贷款",
            "违约",
            "风控",
            "交易",
            "账户",
            "信用卡",
            "保险",
            "理赔",
            "反欺诈",
            "利率",
            "征信",
        ],
        "en": ["credit", "loan", "default", "risk", "transaction", "account", "insurance", "claim", "fraud"],
        "cols": ["account_id", "amount", "balance", "txn_time", "merchant", "credit_score", "claim_amount"],
    },
    "retail": {
        "zh": ["零售", "销售", "门店", "商品", "会员", "订单", "库存", "促销", "电商", "物流", "退货"],
        "en": [
            "retail",
            "sales",
            "store",
            "product",
            "member",
            "order",
            "inventory",
            "promotion",
            "logistics",
        ],
        "cols": ["store", "sku", "amount", "date", "member_id", "order_id", "quantity", "price"],
    },
    "transport": {
        "zh": ["交通", "出行", "公交", "地铁", "网约车", "轨迹", "拥堵", "停车", "车辆", "路网"],
        "en": ["traffic", "mobility", "bus", "metro", "ridehailing", "trajectory", "congestion", "parking"],
        "cols": ["vehicle_id", "lat", "lon", "speed", "timestamp", "route", "station"],
    },
    "government": {
        "zh": ["政务", "社保", "户籍", "企业", "登记", "税务", "审批", "公积金", "人口", "统计"],
        "en": ["government", "social", "registry", "enterprise", "tax", "approval", "population", "census"],
        "cols": ["org_code", "region", "year", "count", "category", "status", "approval_date"],
    },
}
REGIONS = ["上海", "北京", "浙江", "广东", "四川", "湖北", "江苏", "Shanghai", "Beijing", "Zhejiang"]
LICENSES = ["CC-BY-4.0", "CC0-1.0", "proprietary", "CC-BY-NC-4.0"]


def _pick(rng: Generator, items: list[str], k: int) -> list[str]:
    return [items[i] for i in rng.choice(len(items), size=min(k, len(items)), replace=False)]


def generate(entries: int, seed: int = 7) -> list[dict[str, Any]]:
    """Bilingual catalog entries: title, description, keywords, columns."""
    rng = default_rng(seed)
    names = list(DOMAINS)
    out = []
    for i in range(entries):
        d = DOMAINS[names[int(rng.integers(len(names)))]]
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        zh, en = _pick(rng, d["zh"], 6), _pick(rng, d["en"], 5)
        out.append(
            {
                "title": f"{region}{zh[0]}{zh[1]}数据 {2015 + i % 11} {en[0].title()} {en[1]}",
                "description": f"{region}{''.join(zh[2:5])}相关记录，覆盖{zh[5]}与{zh[0]}。"
                f"{' '.join(en[1:]).capitalize()} records for {en[0]} analysis, batch {i}.",
                "keywords": _pick(rng, d["zh"] + d["en"], 3),
                "columns": _pick(rng, d["cols"], int(rng.integers(4, 9))),
                "license": LICENSES[int(rng.integers(len(LICENSES)))],
                "private": bool(rng.random() < 0.05),
            }
        )
    return out


def queries(count: int, seed: int = 11) -> list[str]:
    rng = default_rng(seed)
    out = []
    for i in range(count):
        d = DOMAINS[list(DOMAINS)[int(rng.integers(len(DOMAINS)))]]
        kind = i % 5
        if kind == 0:
            out.append(_pick(rng, d["zh"], 1)[0])  # one Chinese word (most are two characters)
        elif kind == 1:
            out.append(" ".join(_pick(rng, d["zh"], 2)))  # two Chinese words
        elif kind == 2:
            out.append(" ".join(_pick(rng, d["en"], 2)))  # two English words
        elif kind == 3:
            out.append(f"{_pick(rng, d['zh'], 1)[0]} {_pick(rng, d['en'], 1)[0]}")  # mixed
        else:
            out.append(f"{REGIONS[int(rng.integers(7))]}{_pick(rng, d['zh'], 1)[0]}")  # unsegmented phrase
    return out


def _load(ex: Any, owner: str, items: list[dict[str, Any]], docs: list[dict[str, str]]) -> None:
    from dataex.db.models import DatasetMetadataRow, DatasetRow, SearchDocumentRow
    from dataex.ledger.log import utc_now

    now = utc_now()
    batch = 5_000
    for start in range(0, len(items), batch):
        chunk = range(start, min(start + batch, len(items)))
        ids = [f"ds_{i:016x}" for i in chunk]
        with ex.transaction() as s:
            s.execute(
                insert(DatasetRow),
                [
                    {
                        "id": ids[j - start],
                        "owner_id": owner,
                        "title": items[j]["title"],
                        "license": items[j]["license"],
                        "digest": f"sha256:{j:064x}",
                        "schema_hash": "x",
                        "rows": 1,
                        "columns": [{"name": c, "type": "string"} for c in items[j]["columns"]],
                        "file_sha256": f"{j:064x}",
                        "size_bytes": 1,
                        "source_name": "bench.csv",
                        "source_format": "csv",
                        "source_encoding": "utf-8",
                        "rights": ["holding"],
                        "derived_from": None,
                        "minhash": b"",
                        "registered_at": now,
                        "log_index": -1,
                        "certificate": "",
                    }
                    for j in chunk
                ],
            )
            s.execute(
                insert(DatasetMetadataRow),
                [
                    {
                        "dataset_id": ids[j - start],
                        "description": items[j]["description"],
                        "keywords": items[j]["keywords"],
                        "languages": ["zh", "en"],
                        "fields": {},
                        "rai": {},
                        "visibility": "private" if items[j]["private"] else "public",
                        "updated_at": now,
                        "temporal_coverage": None,
                        "spatial_coverage": None,
                    }
                    for j in chunk
                ],
            )
            s.execute(
                insert(SearchDocumentRow),
                [
                    {
                        "dataset_id": ids[j - start],
                        "updated_at": now,
                        "owner_id": owner,
                        "license": items[j]["license"].lower(),
                        "visibility": "private" if items[j]["private"] else "public",
                        **docs[j],
                    }
                    for j in chunk
                ],
            )


def _documents(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    from dataex.catalog import text as tx

    return [
        {
            "title": tx.joined(tx.terms(e["title"])),
            "keywords": tx.joined(tx.terms(", ".join(e["keywords"]))),
            "column_names": tx.joined(t for c in e["columns"] for t in tx.identifier_terms(c)),
            "field_descriptions": "",
            "description": tx.joined(tx.terms(e["description"])),
        }
        for e in items
    ]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _measure(
    home: Path, db_url: str | None, items: list[dict[str, Any]], docs: list[dict[str, str]], qs: list[str]
) -> dict[str, Any]:
    from dataex import Exchange
    from dataex.catalog.search import search

    ex, _ = Exchange.init(home=home, db_url=db_url)
    with ex:
        owner, _ = ex.create_party("bench provider", kind="hospital", role="provider")
        consumer, _ = ex.create_party("bench consumer", kind="ai_team", role="consumer")
        t = time.perf_counter()
        _load(ex, owner.id, items, docs)
        if db_url is not None:
            with ex.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with ex.engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
                conn.exec_driver_sql("ANALYZE")
        load_s = time.perf_counter() - t
        for q in qs[:25]:  # warm-up: caches, jieba, prepared plans
            search(ex, q, actor=consumer)
        times, totals = [], []
        for q in qs:
            t = time.perf_counter()
            result = search(ex, q, actor=consumer)
            times.append((time.perf_counter() - t) * 1000)
            totals.append(result.total)
    return {
        "entries": len(items),
        "queries": len(qs),
        "load_seconds": round(load_s, 1),
        "p50_ms": round(_percentile(times, 50), 2),
        "p95_ms": round(_percentile(times, 95), 2),
        "p99_ms": round(_percentile(times, 99), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "median_hits": int(statistics.median(totals)),
        "queries_without_hits": sum(1 for n in totals if n == 0),
    }


def bench_search(
    entries: int = 100_000, *, queries_count: int = 500, backends: tuple[str, ...] = ("sqlite", "postgres")
) -> dict[str, Any]:
    """Builds the catalog on each backend, runs the queries, returns latency percentiles per backend."""
    from dataex.catalog import text as tx

    tx.terms("预热")  # load jieba outside the timings
    t = time.perf_counter()
    items = generate(entries)
    docs = _documents(items)
    out: dict[str, Any] = {"segment_seconds": round(time.perf_counter() - t, 1)}
    qs = queries(queries_count)
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="search-") as tmp:
        if "sqlite" in backends:
            out["sqlite"] = _measure(Path(tmp) / "sqlite", None, items, docs, qs)
        if "postgres" in backends:
            from tests.pg import create_database, postgres_server

            with postgres_server() as base:
                url = create_database(base, "bench_search")
                out["postgres"] = _measure(Path(tmp) / "postgres", url, items, docs, qs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    print(json.dumps(bench_search(args.entries, queries_count=args.queries, backends=backends), indent=2))


if __name__ == "__main__":
    main()
