"""Search terms from Chinese and English text: one tokenizer for the index and for queries.

Text is NFKC-normalized, segmented with jieba in search mode (``cut_for_search``: every word plus
the shorter dictionary words inside it, so "高血压" gives "高血压" and "血压"), lower-cased, and
stripped of punctuation and a few stop words. The terms are joined with spaces and handed to the
database's plain word tokenizer (SQLite FTS5 ``unicode61``, PostgreSQL's ``simple`` configuration),
which then only has to split on spaces. jieba ships its dictionary inside the package, so this
works on an air-gapped node; it is loaded lazily, on the first call (about a second).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from typing import Final

STOP_WORDS: Final = frozenset(
    {
        *("的", "了", "和", "与", "及", "或", "在", "是", "等", "之", "其", "对", "将", "为", "由"),
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of"),
        *("on", "or", "the", "to", "with"),
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_lock = threading.Lock()
_cut: Callable[[str], Iterable[str]] | None = None


def _segmenter() -> Callable[[str], Iterable[str]]:
    """jieba's search-mode segmenter, loaded once, quietly (no log lines, no pkg_resources warning)."""
    global _cut
    if _cut is None:
        with _lock:
            if _cut is None:
                with warnings.catch_warnings():
                    # jieba 0.42.1 imports pkg_resources, which newer setuptools deprecate on import.
                    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _cut = jieba.cut_for_search
    return _cut


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def _pieces(token: str) -> list[str]:
    """Splits a token at every character that is not a letter or a digit."""
    out: list[str] = []
    current: list[str] = []
    for ch in token:
        if _is_word_char(ch):
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def terms(text: str) -> list[str]:
    """The search terms of ``text``, in order, repeats kept (term frequency matters for ranking)."""
    text = unicodedata.normalize("NFKC", text)
    if not any(_is_word_char(ch) for ch in text):
        return []
    out: list[str] = []
    for token in _segmenter()(text):
        for piece in _pieces(token.lower()):
            if piece not in STOP_WORDS:
                out.append(piece)
    return out


def identifier_terms(name: str) -> list[str]:
    """Terms of a column name: ``patientAge`` and ``patient_age`` both give ``patient age``."""
    return terms(_CAMEL.sub(" ", unicodedata.normalize("NFKC", name)).replace("_", " "))


def distinct(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, first occurrence first."""
    return list(dict.fromkeys(items))


def joined(items: Iterable[str]) -> str:
    return " ".join(items)
