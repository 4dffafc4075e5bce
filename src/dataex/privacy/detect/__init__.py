"""Validating recognizers for personal and organisational identifiers.

Each recognizer has ``validate(value)`` for a whole cell and ``find(text)`` for spans inside free
text; :data:`RECOGNIZERS` lists them in priority order, and :func:`find_all` resolves overlaps in
that order (a valid resident ID wins over the Luhn-valid card number it happens to also be).
"""

from __future__ import annotations

from typing import Final

from dataex.privacy.detect.base import Recognizer, Span
from dataex.privacy.detect.contact import Email, IpAddress, Landline, Mobile, PhoneE164
from dataex.privacy.detect.finance import BankCard, CreditCard, Iban
from dataex.privacy.detect.identity import LicensePlate, Passport, ResidentId, SocialCreditCode
from dataex.privacy.detect.people import Address, DateOfBirth, MedicalDiagnosis, PersonName

__all__ = ["RECOGNIZERS", "Recognizer", "Span", "find_all", "recognizer"]

RECOGNIZERS: Final[tuple[Recognizer, ...]] = (
    ResidentId(),
    SocialCreditCode(),
    CreditCard(),
    BankCard(),
    Iban(),
    Email(),
    Mobile(),
    Landline(),
    PhoneE164(),
    IpAddress(),
    Passport(),
    LicensePlate(),
    DateOfBirth(),
    PersonName(),
    Address(),
    MedicalDiagnosis(),
)
_BY_KIND: Final = {r.kind: r for r in RECOGNIZERS}


def recognizer(kind: str) -> Recognizer:
    """The recognizer of ``kind`` (``KeyError`` for an unknown kind)."""
    return _BY_KIND[kind]


def find_all(text: str) -> list[Span]:
    """Every identifier in ``text``, without overlaps (earlier recognizers win), by position."""
    taken: list[Span] = []
    for r in RECOGNIZERS:
        for span in r.find(text):
            if all(span.end <= t.start or span.start >= t.end for t in taken):
                taken.append(span)
    return sorted(taken, key=lambda s: s.start)
