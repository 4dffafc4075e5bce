"""The recognizer shape: ``validate`` a whole cell, ``find`` spans in free text.

Free-text candidates are delimited with lookarounds on ASCII letters and digits instead of ``\\b``:
in Python (and Presidio) ``\\b`` treats Chinese characters as word characters, so ``卡号6222…`` has
no boundary before the ``6`` and the card is missed. ``(?<![0-9A-Za-z])`` / ``(?![0-9A-Za-z])``
accept a Chinese neighbour and still refuse to cut a longer ASCII number or word in two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

NOT_BEFORE = r"(?<![0-9A-Za-z])"
"""Lookbehind: the candidate does not continue an ASCII letter or digit run."""
NOT_AFTER = r"(?![0-9A-Za-z])"
"""Lookahead: the candidate is not followed by an ASCII letter or digit."""


@dataclass(frozen=True)
class Span:
    """Where an identifier of ``kind`` sits in a text: ``text[start:end]``."""

    kind: str
    start: int
    end: int


class Recognizer:
    """One kind of identifier.

    Subclasses set ``kind``, ``pattern`` (free-text candidates; group 1 if present is the value),
    ``hints`` (column-header words in Chinese and English) and ``strong`` (True when validation is
    a check digit or a strict grammar, so a column can be typed from its values alone), and
    implement ``validate``.
    """

    kind: ClassVar[str]
    pattern: ClassVar[re.Pattern[str]]
    hints: ClassVar[re.Pattern[str] | None] = None
    strong: ClassVar[bool] = True

    def validate(self, value: str) -> bool:
        """True when the whole (stripped) ``value`` is a valid identifier of this kind."""
        raise NotImplementedError

    def find(self, text: str) -> list[Span]:
        """Valid identifiers of this kind inside ``text``."""
        spans = []
        for m in self.pattern.finditer(text):
            group = 1 if m.re.groups else 0
            if self.validate(m.group(group)):
                spans.append(Span(self.kind, m.start(group), m.end(group)))
        return spans

    def hinted(self, header: str) -> bool:
        """True when a column header suggests this kind (e.g. ``身份证号``, ``id_no``)."""
        return self.hints is not None and self.hints.search(header) is not None


def compile_hints(*words: str) -> re.Pattern[str]:
    """A case-insensitive header pattern from words or regex fragments."""
    return re.compile("|".join(words), re.IGNORECASE)


def digits_only(value: str, separators: str = " -") -> str:
    """``value`` without the given separator characters."""
    return value.translate({ord(c): None for c in separators})
