"""Charts drawn on the server as inline SVG: no script, no network, readable by screen readers.

Each chart is an ``<svg role="img">`` with a translated ``<title>`` and the numbers as text, and
the page also shows the same numbers in a table or list (charts never carry information alone).
Every piece of text is escaped here, so a title with markup in it stays text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

INK = "#1a1a1a"
ACCENT = "#0b4f8a"
GRID = "#8a8a8a"
NODE = "#f4f6f8"


def _svg(width: float, height: float, title: str, body: str) -> Markup:
    """The chart; ``body`` is built by this module, every text in it escaped."""
    return Markup(  # noqa: S704 - text is escaped where it enters ``body`` and ``title``
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" role="img" class="chart">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def radar(scores: Sequence[tuple[str, float]], *, title: str, size: int = 320) -> Markup:
    """A radar of 0-100 scores (the GB/T 36344 dimensions), one labelled axis per score."""
    n = max(len(scores), 3)
    c, r = size / 2, size / 2 - 70
    parts: list[str] = []
    for ring in (0.25, 0.5, 0.75, 1.0):
        pts = " ".join(_point(c, r * ring, i, n) for i in range(n))
        parts.append(f'<polygon points="{pts}" fill="none" stroke="{GRID}" stroke-width="0.5"/>')
    values = []
    for i, (label, score) in enumerate(scores):
        share = max(0.0, min(100.0, float(score))) / 100
        values.append(_point(c, r * share, i, n))
        ax, ay = _xy(c, r, i, n)
        parts.append(f'<line x1="{c}" y1="{c}" x2="{ax:.1f}" y2="{ay:.1f}" stroke="{GRID}"/>')
        x, y = _xy(c, r + 18, i, n)
        anchor = "middle" if abs(x - c) < 1 else ("start" if x > c else "end")
        parts.append(
            f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="12" fill="{INK}" text-anchor="{anchor}">'
            f"{escape(label)} {float(score):.0f}</text>"
        )
    parts.append(
        f'<polygon points="{" ".join(values)}" fill="{ACCENT}" fill-opacity="0.35" '
        f'stroke="{ACCENT}" stroke-width="2"/>'
    )
    return _svg(size, size, title, "".join(parts))


def bars(values: Sequence[tuple[str, float]], *, title: str, maximum: float = 100.0) -> Markup:
    """Horizontal bars, one per (label, value), each with its value written after it."""
    label_w, bar_w, row_h = 130, 300, 24
    parts = []
    for i, (label, value) in enumerate(values):
        y = i * row_h
        share = max(0.0, min(maximum, float(value))) / maximum if maximum else 0.0
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" fill="{INK}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" fill="{NODE}" stroke="{GRID}"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w * share:.1f}" height="16" fill="{ACCENT}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 16}" font-size="12" fill="{INK}">'
            f"{float(value):g}</text>"
        )
    return _svg(label_w + bar_w + 50, max(row_h, len(values) * row_h), title, "".join(parts))


def lineage(
    ancestors: Sequence[tuple[str, str]],
    current: tuple[str, str],
    derived: Sequence[tuple[str, str]],
    *,
    title: str,
) -> Markup:
    """Source → … → this dataset → each derived dataset, as linked boxes and arrows."""
    box_w, box_h, gap_x, gap_y = 200, 46, 50, 14
    column = [*ancestors, current]
    rows = max(1, len(derived))
    height = rows * (box_h + gap_y) + gap_y
    mid = height / 2 - box_h / 2
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>'
    ]
    for i, item in enumerate(column):
        x = i * (box_w + gap_x)
        parts.append(_box(x, mid, box_w, box_h, item, strong=item == current))
        if i:
            parts.append(_arrow(x - gap_x, mid + box_h / 2, x, mid + box_h / 2))
    x_child = len(column) * (box_w + gap_x)
    for j, item in enumerate(derived):
        y = gap_y + j * (box_h + gap_y)
        parts.append(_box(x_child, y, box_w, box_h, item, strong=False))
        parts.append(_arrow(x_child - gap_x, mid + box_h / 2, x_child, y + box_h / 2))
    width = (len(column) + (1 if derived else 0)) * (box_w + gap_x) - gap_x
    return _svg(width, height, title, "".join(parts))


def _box(x: float, y: float, w: float, h: float, item: tuple[str, str], *, strong: bool) -> str:
    dataset_id, name = item
    short = name if len(name) <= 24 else name[:23] + "…"
    fill, ink = (ACCENT, "#ffffff") if strong else (NODE, INK)
    return (
        f'<a href="/dataset/{escape(dataset_id)}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" '
        f'fill="{fill}" stroke="{ACCENT}"/>'
        f'<text x="{x + 8}" y="{y + 19}" font-size="13" fill="{ink}">{escape(short)}</text>'
        f'<text x="{x + 8}" y="{y + 36}" font-size="10" fill="{ink}">{escape(dataset_id)}</text></a>'
    )


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1}" y1="{y1:.1f}" x2="{x2 - 2}" y2="{y2:.1f}" stroke="{INK}" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>'
    )


def _xy(c: float, r: float, i: int, n: int) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * i / n
    return c + r * math.cos(angle), c + r * math.sin(angle)


def _point(c: float, r: float, i: int, n: int) -> str:
    x, y = _xy(c, r, i, n)
    return f"{x:.1f},{y:.1f}"
