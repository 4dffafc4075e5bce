"""Highlighted snippets: a short window of a dataset's original text around the query's terms.

The snippet is HTML: the text is escaped and every occurrence of a query term is wrapped in
``<mark>…</mark>``. It is cut from the first indexed text that matched, in the order description,
field descriptions, keywords, column names, title, and shows the window holding the most terms.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Final

from dataex.db.models import DatasetMetadataRow, DatasetRow

WIDTH: Final = 90
LEAD: Final = 20
ORDER: Final = ("description", "field_descriptions", "keywords", "column_names", "title")


def field_texts(row: DatasetRow, meta: DatasetMetadataRow | None) -> dict[str, str]:
    """The original texts of a dataset, by index column."""
    fields = meta.fields if meta is not None and isinstance(meta.fields, dict) else {}
    described = []
    for name, info in fields.items():
        desc = info.get("description") if isinstance(info, dict) else None
        if desc:
            described.append(f"{name}: {desc}")
    keywords = meta.keywords if meta is not None and isinstance(meta.keywords, list) else []
    return {
        "title": row.title,
        "keywords": ", ".join(str(k) for k in keywords),
        "column_names": ", ".join(str(c.get("name", "")) for c in row.columns),
        "field_descriptions": "; ".join(described),
        "description": meta.description if meta is not None and meta.description else "",
    }


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "高血压" wins over "血压"; Latin terms only match whole words.
    parts = []
    for term in sorted(set(terms), key=len, reverse=True):
        escaped = re.escape(term)
        parts.append(rf"(?<![0-9a-z]){escaped}(?![0-9a-z])" if term.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    if len(text) <= WIDTH:
        return 0, len(text)
    best, best_count = 0, -1
    for start, _ in spans:
        begin = max(0, start - LEAD)
        count = sum(1 for s, e in spans if s >= begin and e <= begin + WIDTH)
        if count > best_count:
            best, best_count = begin, count
    begin = min(best, len(text) - WIDTH)
    return begin, begin + WIDTH


def highlight(text: str, terms: Sequence[str]) -> str:
    """``text`` (cut to a window around the terms) as escaped HTML with ``<mark>`` around terms."""
    spans = [m.span() for m in _pattern(terms).finditer(text)] if terms else []
    begin, end = _window(text, spans)
    out = ["…" if begin > 0 else ""]
    pos = begin
    for s, e in spans:
        if s < begin or e > end:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def snippet(texts: dict[str, str], terms: Sequence[str], matched: Sequence[str]) -> str:
    """The snippet of a hit, from the first matched text in ``ORDER`` (else the description)."""
    for name in ORDER:
        if name in matched and texts.get(name):
            return highlight(texts[name], terms)
    return highlight(texts.get("description") or texts["title"], terms)
