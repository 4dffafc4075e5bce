"""Contact identifiers: mobile and landline numbers, E.164 phones, e-mail, IP addresses."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from dataex.privacy.detect.base import NOT_AFTER, NOT_BEFORE, Recognizer, compile_hints, digits_only

# Allocated mainland mobile number blocks (MIIT numbering plan): 13x, 14[5-9], 15[0-35-9],
# 16[2567], 17[0-8], 18x, 19[0-35-9].
_MOBILE_BODY: Final = r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])"
_MOBILE: Final = re.compile(_MOBILE_BODY + r"\d{8}")


class Mobile(Recognizer):
    """Mainland mobile numbers: 11 digits in an allocated 1[3-9]x block, optionally written with
    +86 / 0086 / 86 in front and with spaces or hyphens as 3-4-4."""

    kind = "cn_mobile"
    pattern = re.compile(
        NOT_BEFORE + r"((?:(?:\+|00)86[ -]?)?" + _MOBILE_BODY + r"[ -]?\d{4}[ -]?\d{4})" + NOT_AFTER
    )
    hints = compile_hints(r"手机", r"移动电话", r"mobile", r"cell", r"phone", r"电话", r"联系方式", r"tel")

    def validate(self, value: str) -> bool:
        v = digits_only(value.strip(), " -()")
        for prefix in ("+86", "0086", "86"):
            if v.startswith(prefix) and len(v) == len(prefix) + 11:
                v = v[len(prefix) :]
                break
        return _MOBILE.fullmatch(v) is not None


# Three-digit area codes are 010 and 02x (eight-digit local numbers); the rest are 0xxx with
# seven- or eight-digit local numbers. Local numbers never start with 0 or 1.
_LANDLINE: Final = r"(?:\(?0(?:10|2\d)\)?[ -]?[2-9]\d{7}|\(?0[3-9]\d{2}\)?[ -]?[2-9]\d{6,7})"
_LANDLINE_FULL: Final = re.compile(_LANDLINE + r"(?:(?:-|转|ext\.?)\d{1,5})?")


class Landline(Recognizer):
    """Mainland fixed-line numbers with their area code: ``010-12345678``, ``0571 8765 4321``."""

    kind = "cn_landline"
    pattern = re.compile(NOT_BEFORE + r"(" + _LANDLINE + r")" + NOT_AFTER)
    hints = compile_hints(
        r"座机", r"固话", r"固定电话", r"电话", r"landline", r"phone", r"tel", r"fax", r"传真"
    )

    def validate(self, value: str) -> bool:
        v = value.strip().replace("（", "(").replace("）", ")")
        return _LANDLINE_FULL.fullmatch(v) is not None


class PhoneE164(Recognizer):
    """International numbers in E.164 form: ``+``, a country code (not 0), 8 to 15 digits in all."""

    kind = "phone_e164"
    pattern = re.compile(r"(?<![0-9A-Za-z+])(\+[1-9]\d{0,3}(?:[ -]?\d{2,5}){2,5})" + NOT_AFTER)
    hints = compile_hints(r"phone", r"tel", r"电话", r"msisdn")
    _full = re.compile(r"\+[1-9]\d{7,14}")

    def validate(self, value: str) -> bool:
        return self._full.fullmatch(digits_only(value.strip(), " -()")) is not None


_EMAIL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)


class Email(Recognizer):
    """E-mail addresses (RFC 5322 dot-atom local part, DNS host name with an alphabetic TLD)."""

    kind = "email"
    pattern = re.compile(r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])(" + _EMAIL.pattern + r")(?![A-Za-z0-9-])")
    hints = compile_hints(r"邮箱", r"邮件", r"e-?mail", r"mail")

    def validate(self, value: str) -> bool:
        v = value.strip()
        if len(v) > 254 or _EMAIL.fullmatch(v) is None:
            return False
        return len(v.split("@", 1)[0]) <= 64


class IpAddress(Recognizer):
    """IPv4 and IPv6 addresses, validated by :mod:`ipaddress` (no leading zeros in IPv4)."""

    kind = "ip_address"
    pattern = re.compile(
        r"(?<![0-9A-Za-z.:])((?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})"
        r"(?![0-9A-Za-z:]|\.\d)"
    )
    hints = compile_hints(r"\bip\b", r"ip_?addr", r"ipv[46]", r"ip地址", r"客户端地址", r"remote_?addr")

    def validate(self, value: str) -> bool:
        v = value.strip()
        if not any(c.isdigit() or c in "abcdefABCDEF" for c in v) or ("." not in v and ":" not in v):
            return False
        try:
            ipaddress.ip_address(v)
        except ValueError:
            return False
        return True
