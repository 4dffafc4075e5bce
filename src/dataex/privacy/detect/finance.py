"""Financial accounts: bank cards (Luhn), international credit cards (Luhn + IIN), IBAN (mod 97)."""

from __future__ import annotations

import re
from typing import Final

from dataex.privacy.detect.base import NOT_AFTER, NOT_BEFORE, Recognizer, compile_hints, digits_only


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    return next(d for d in "0123456789" if luhn_ok(payload + d))


# Free-text card candidates: 4-4-4-4(-1..3) with spaces or hyphens, or 13-19 digits in one run.
_CARD_TEXT: Final = NOT_BEFORE + r"(\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19})"


class BankCard(Recognizer):
    """Bank card numbers: 16 to 19 digits passing the Luhn check (UnionPay cards start with 62)."""

    kind = "bank_card"
    pattern = re.compile(_CARD_TEXT + NOT_AFTER)
    hints = compile_hints(r"银行卡", r"卡号", r"账号", r"账户", r"bank", r"card", r"acct", r"account")

    def validate(self, value: str) -> bool:
        v = digits_only(value.strip())
        return v.isascii() and v.isdigit() and 16 <= len(v) <= 19 and v[0] != "0" and luhn_ok(v)


def _network(v: str) -> str | None:
    """The international card network of a card number from its IIN range and length."""
    n, p2, p4 = len(v), int(v[:2]), int(v[:4])
    p6 = int(v[:6])
    if v[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= int(v[:3]) <= 649 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(v[:3]) <= 305 or p2 in (36, 38, 39) or p4 == 3095) and 14 <= n <= 19:
        return "diners"
    return None


class CreditCard(Recognizer):
    """International payment cards: Luhn plus a Visa, Mastercard, Amex, Discover, JCB or Diners
    IIN range with that network's length (so 15-digit Amex numbers are found too)."""

    kind = "credit_card"
    pattern = re.compile(_CARD_TEXT + NOT_AFTER)
    hints = compile_hints(r"信用卡", r"credit", r"\bcc\b", r"card", r"卡号", r"\bpan\b")

    def validate(self, value: str) -> bool:
        v = digits_only(value.strip())
        if not (v.isascii() and v.isdigit() and 13 <= len(v) <= 19) or v.startswith("62"):
            return False
        return _network(v) is not None and luhn_ok(v)


# ISO 13616 IBAN lengths by country (the SWIFT IBAN registry).
IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN: Final = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


def iban_ok(value: str) -> bool:
    """ISO 13616: known country, its length, and ``int(rearranged) mod 97 == 1``."""
    v = value.replace(" ", "").upper()
    if _IBAN.fullmatch(v) is None or IBAN_LENGTHS.get(v[:2]) != len(v):
        return False
    rearranged = v[4:] + v[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


class Iban(Recognizer):
    """International bank account numbers (ISO 13616), optionally printed in groups of four."""

    kind = "iban"
    pattern = re.compile(
        NOT_BEFORE + r"([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)" + NOT_AFTER
    )
    hints = compile_hints(r"iban", r"账号", r"account")

    def validate(self, value: str) -> bool:
        return iban_ok(value.strip())
