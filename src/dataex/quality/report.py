"""Quality reports: the owner's full JSON, the redacted public view, and one self-contained HTML file.

Public-view redaction (anyone but the dataset's owner and the operator):
* no row positions (label issues, rule violations) and no rule parameters;
* personal fields (category personal / sensitive_personal in the stored classification; without a
  classification, EVERY string and date column is assumed personal) lose min / max and value
  histograms (their top values); their numeric histograms keep inner bin edges only;
* every histogram bin with fewer than ``MIN_BIN`` rows is merged into its neighbour; a histogram
  totalling fewer than ``MIN_BIN`` rows is suppressed; categorical values seen fewer than ``MIN_BIN``
  times are folded into one ``(other)`` bin (itself suppressed when still under ``MIN_BIN``);
* timeliness shows the month of the newest date only.

The HTML is plain inline SVG (a radar of the six dimensions, missing-value bars, histograms): no
scripts and no external URLs, so it opens on an air-gapped node.
"""

from __future__ import annotations

import copy
import math
from html import escape
from typing import Any

from dataex.quality.dimensions import CHINESE, DIMENSIONS

MIN_BIN = 5


# -- public view ------------------------------------------------------------------------------
def merge_bins(bins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merges adjacent numeric bins until each holds at least ``MIN_BIN`` rows (empty → suppressed)."""
    out: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    for b in bins:
        pending = (
            dict(b) if pending is None else {**pending, "hi": b["hi"], "count": pending["count"] + b["count"]}
        )
        if pending["count"] >= MIN_BIN:
            out.append(pending)
            pending = None
    if pending is not None and out:
        out[-1] = {**out[-1], "hi": pending["hi"], "count": out[-1]["count"] + pending["count"]}
    return out


def fold_values(bins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [b for b in bins if b["count"] >= MIN_BIN]
    rest = sum(b["count"] for b in bins if b["count"] < MIN_BIN)
    return kept + ([{"value": "(other)", "count": rest}] if rest >= MIN_BIN else [])


def _public_column(col: dict[str, Any]) -> dict[str, Any]:
    out = dict(col)
    hist = col.get("histogram") or []
    numeric = bool(hist) and "lo" in hist[0]
    if col["personal"]:
        out["stats"] = {k: v for k, v in col["stats"].items() if k not in ("min", "max")}
        if numeric:
            merged = merge_bins(hist)
            if merged:
                merged[0] = {**merged[0], "lo": None}
                merged[-1] = {**merged[-1], "hi": None}
            out["histogram"] = merged
        else:
            out["histogram"] = []
    else:
        out["histogram"] = merge_bins(hist) if numeric else fold_values(hist)
    return out


def public_view(report: dict[str, Any]) -> dict[str, Any]:
    """The report as anyone but the owner and the operator may see it (see the module docstring)."""
    view = copy.deepcopy(report)
    view["view"] = "public"
    view["columns"] = [_public_column(c) for c in report["columns"]]
    view["rules"] = [
        {k: v for k, v in r.items() if k in ("name", "rule", "columns", "violations")}
        for r in report["rules"]
    ]
    view["label_issues"] = {k: v for k, v in report["label_issues"].items() if k != "rows"}
    timely = view["details"]["timeliness"]
    timely["newest"] = str(timely["newest"])[:7]
    timely.pop("age_days", None)
    return view


# -- HTML -------------------------------------------------------------------------------------
def _radar(scores: dict[str, float], size: int = 300) -> str:
    c, r = size / 2, size / 2 - 60
    pts, axes, labels = [], [], []
    for i, name in enumerate(DIMENSIONS):
        angle = -math.pi / 2 + 2 * math.pi * i / len(DIMENSIONS)
        x, y = math.cos(angle), math.sin(angle)
        s = max(0.0, min(100.0, float(scores.get(name, 0)))) / 100
        pts.append(f"{c + r * s * x:.1f},{c + r * s * y:.1f}")
        axes.append(f'<line x1="{c}" y1="{c}" x2="{c + r * x:.1f}" y2="{c + r * y:.1f}" stroke="#ccc"/>')
        text = f"{CHINESE[name]} {name} {scores.get(name, 0):.0f}"
        labels.append(
            f'<text x="{c + (r + 14) * x:.1f}" y="{c + (r + 14) * y:.1f}" font-size="10" '
            f'text-anchor="middle">{escape(text)}</text>'
        )
    ring = " ".join(
        f"{c + r * math.cos(-math.pi / 2 + 2 * math.pi * i / 6):.1f},"
        f"{c + r * math.sin(-math.pi / 2 + 2 * math.pi * i / 6):.1f}"
        for i in range(6)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        f'aria-label="dimension radar"><polygon points="{ring}" fill="none" stroke="#999"/>{"".join(axes)}'
        f'<polygon points="{" ".join(pts)}" fill="#4c78a8" fill-opacity="0.4" stroke="#4c78a8"/>'
        f"{''.join(labels)}</svg>"
    )


def _null_bars(columns: list[dict[str, Any]], rows: int) -> str:
    width, bar = 420, 14
    parts = []
    for i, col in enumerate(columns):
        share = (col["nulls"] + col["empties"]) / rows if rows else 0.0
        y = i * (bar + 4)
        parts.append(
            f'<text x="0" y="{y + 11}" font-size="11">{escape(col["name"])}</text>'
            f'<rect x="160" y="{y}" width="{width * share:.1f}" height="{bar}" fill="#e45756"/>'
            f'<text x="{165 + width * share:.1f}" y="{y + 11}" font-size="10">{share:.1%}</text>'
        )
    height = len(columns) * (bar + 4)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{height}" role="img" '
        f'aria-label="missing values">{"".join(parts)}</svg>'
    )


def _bin_label(b: dict[str, Any]) -> str:
    if "value" in b:
        return str(b["value"])
    lo = "" if b["lo"] is None else f"{b['lo']:g}"
    hi = "" if b["hi"] is None else f"{b['hi']:g}"
    return f"{lo}–{hi}"


def _histogram(col: dict[str, Any]) -> str:
    bins = col.get("histogram") or []
    if not bins:
        return ""
    top = max(b["count"] for b in bins) or 1
    w = max(8, min(40, 480 // len(bins)))
    bars = []
    for i, b in enumerate(bins):
        h = 100 * b["count"] / top
        bars.append(
            f'<rect x="{i * w}" y="{110 - h:.1f}" width="{w - 2}" height="{h:.1f}" fill="#4c78a8">'
            f"<title>{escape(_bin_label(b))}: {b['count']}</title></rect>"
        )
    return (
        f"<h3>{escape(col['name'])}</h3>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(bins) * w}" height="115" role="img" '
        f'aria-label="histogram of {escape(col["name"])}">{"".join(bars)}</svg>'
    )


def _rules_table(rules: list[dict[str, Any]]) -> str:
    if not rules:
        return "<p>No declared rules.</p>"
    head = "<tr><th>rule</th><th>kind</th><th>columns</th><th>violations</th></tr>"
    body = "".join(
        f"<tr><td>{escape(str(r['name']))}</td><td>{escape(str(r['rule']))}</td>"
        f"<td>{escape(', '.join(r['columns']))}</td><td>{r['violations']}</td></tr>"
        for r in rules
    )
    return f"<table>{head}{body}</table>"


def render_html(view: dict[str, Any]) -> str:
    """One self-contained HTML page for a report view (owner or public): inline SVG, no scripts."""
    dims = "".join(
        f"<tr><td>{CHINESE[d]} {d}</td><td>{view['dimensions'][d]:.1f}</td></tr>" for d in DIMENSIONS
    )
    labels = view["label_issues"]
    notes = "".join(f"<li>{escape(n)}</li>" for n in view.get("notes", []))
    hists = "".join(_histogram(c) for c in view["columns"])
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>Quality report {escape(view['dataset_id'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:2px 8px}</style></head><body>"
        f"<h1>数据质量报告 · Quality report {escape(view['dataset_id'])}</h1>"
        f"<p>Grade <b>{escape(view['grade'])}</b> (score {view['score']:.1f}) · {view['rows']} rows · "
        f"{escape(view['view'])} view · GB/T 36344-2018 dimensions</p>"
        f"{_radar(view['dimensions'])}<table>{dims}</table>"
        f"<h2>Missing values</h2>{_null_bars(view['columns'], view['rows'])}"
        f"<h2>Declared rules</h2>{_rules_table(view['rules'])}"
        f"<h2>Label issues</h2><p>{labels.get('count', 0)} suspected label errors"
        f"{' in ' + escape(str(labels['target'])) if labels.get('target') else ''}.</p>"
        f"<h2>Distributions</h2>{hists}<h2>Notes</h2><ul>{notes}</ul></body></html>"
    )
