"""Official identifiers: resident identity numbers, unified social credit codes, passports, plates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from dataex.privacy.detect.base import NOT_AFTER, NOT_BEFORE, Recognizer, compile_hints

# First two digits of an area code (GB/T 2260 provinces) plus 81/82/83, the prefixes of residence
# permits for Hong Kong, Macao and Taiwan residents, which use the same 18-character format.
PROVINCE_CODES: Final = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
     "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
     "81", "82", "83")
)  # fmt: skip
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_ID18: Final = re.compile(r"[1-9]\d{16}[0-9X]")
_ID15: Final = re.compile(r"[1-9]\d{14}")


def resident_id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character (GB 11643-1999) of the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _real_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return None
    today = dt.datetime.now(dt.UTC).date()
    return born if dt.date(1890, 1, 1) <= born <= today else None


def resident_id_birth_date(value: str) -> dt.date | None:
    """The birth date encoded in a valid 18- or 15-digit resident ID, else None."""
    v = value.strip().upper()
    if len(v) == 18:
        return _real_date(int(v[6:10]), int(v[10:12]), int(v[12:14])) if ResidentId().validate(v) else None
    if len(v) == 15 and ResidentId().validate(v):
        return _real_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
    return None


class ResidentId(Recognizer):
    """Resident identity number: 18 characters (GB 11643-1999) or the legacy 15 digits.

    18: area code (plausible province prefix), birth date YYYYMMDD (a real, past date), sequence
    (odd for men), ISO 7064 MOD 11-2 check character (``X`` for ten; a lower-case ``x`` is
    accepted). 15: area code, YYMMDD read as 19YY, sequence; no check digit.
    """

    kind = "cn_resident_id"
    pattern = re.compile(NOT_BEFORE + r"([1-9]\d{16}[0-9Xx]|[1-9]\d{14})" + NOT_AFTER)
    hints = compile_hints(
        r"身份证", r"证件号", r"公民身份", r"\bid[_ ]?(?:no|num|number|card)\b", r"id_?card",
        r"resident[_ ]?id", r"citizen[_ ]?id", r"national[_ ]?id", r"sfz",
    )  # fmt: skip

    def validate(self, value: str) -> bool:
        v = value.strip().upper()
        if v[:2] not in PROVINCE_CODES:
            return False
        if _ID18.fullmatch(v):
            born = _real_date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
            return born is not None and resident_id_check(v[:17]) == v[17]
        if _ID15.fullmatch(v):
            return _real_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12])) is not None
        return False


USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC: Final = re.compile(r"[1-9AGNY][1-9]\d{6}[0-9A-HJ-NPQRTUWXY]{10}")


def uscc_check(first17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters of a unified social credit code."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


class SocialCreditCode(Recognizer):
    """Unified social credit code (统一社会信用代码, GB 32100-2015) of an organisation.

    Registration authority (1-9, A, G, N, Y), organisation type (1-9), six-digit area code, the
    nine-character organisation code and a check character over the 31-character alphabet without
    I, O, S, V, Z: ``31 - (Σ value·weight mod 31)``, weights 3^i mod 31.
    """

    kind = "cn_social_credit_code"
    pattern = re.compile(NOT_BEFORE + r"([0-9A-Z]{18})" + NOT_AFTER)
    hints = compile_hints(r"信用代码", r"社会信用", r"uscc", r"credit[_ ]?code", r"统一代码", r"税号")

    def validate(self, value: str) -> bool:
        v = value.strip().upper()
        return _USCC.fullmatch(v) is not None and uscc_check(v[:17]) == v[17]


class Passport(Recognizer):
    """People's Republic of China passport numbers (format only: the number has no check digit).

    E + 8 digits or E + letter + 7 digits (e-passports since 2012), G + 8 digits (ordinary, before
    2012), P + 7 digits (public affairs), D/S + 7 or 8 digits (diplomatic, service). Without a check
    digit the format alone is too weak to type a column: a header hint (护照, passport) is required.
    """

    kind = "passport"
    pattern = re.compile(NOT_BEFORE + r"(E\d{8}|E[A-HJ-NP-Z]\d{7}|G\d{8}|P\d{7}|[DS]E?\d{7,8})" + NOT_AFTER)
    hints = compile_hints(r"护照", r"passport")
    _full = re.compile(r"E\d{8}|E[A-HJ-NP-Z]\d{7}|G\d{8}|P\d{7}|[DS]E?\d{7,8}")

    def validate(self, value: str) -> bool:
        return self._full.fullmatch(value.strip().upper()) is not None


PLATE_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_BODY: Final = (
    rf"[{PLATE_PROVINCES}][A-HJ-NP-Z]"
    r"(?:[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF]|[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳])"
)


class LicensePlate(Recognizer):
    """Mainland vehicle plates: province character, issuing-office letter, then five characters
    (I and O never used) or six for new-energy vehicles (``D``/``F`` first for cars, last for
    trucks and buses); trailing 挂/学/警/港/澳 allowed."""

    kind = "license_plate"
    pattern = re.compile(rf"({_PLATE_BODY})" + NOT_AFTER)
    hints = compile_hints(r"车牌", r"号牌", r"plate", r"车号")
    _full = re.compile(_PLATE_BODY)

    def validate(self, value: str) -> bool:
        return self._full.fullmatch(value.strip().upper().replace("·", "").replace(" ", "")) is not None
