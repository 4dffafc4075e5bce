"""Identifier normalization: both sides of a PSI must hash exactly the same strings.

Each supported identifier type has one canonical form, reached by :func:`canonical` and then
checked with the type's recognizer from :mod:`dataex.privacy.detect` (check digits, allocated
blocks, real dates). The rules:

| type | canonical form |
| --- | --- |
| ``cn_resident_id`` | trimmed, upper-case ``X``; a legacy 15-digit number becomes 18 characters |
| ``cn_mobile`` | the 11 digits: ``+86`` / ``0086`` / ``86`` and separators removed |
| ``email`` | trimmed and lower-cased |
| ``phone_e164`` | ``+`` and the digits |
| ``bank_card`` / ``credit_card`` | the digits |
| ``cn_social_credit_code`` / ``passport`` | trimmed, upper-case, no spaces |

Every canonical string is prefixed with its type (``cn_mobile:13800138000``) before hashing, so
a resident ID can never match a bank card with the same digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from dataex.errors import EmptyFile, InvalidIdentifiers, InvalidInput
from dataex.privacy.detect import recognizer
from dataex.privacy.detect.identity import resident_id_check

ID_TYPES: Final = (
    "cn_resident_id",
    "cn_mobile",
    "email",
    "phone_e164",
    "bank_card",
    "credit_card",
    "cn_social_credit_code",
    "passport",
)
MAX_INVALID_SHARE: Final = 0.05
"""A column where more than this share of non-empty values fail validation is refused as the wrong type."""


@dataclass(frozen=True)
class Normalized:
    """The distinct canonical identifiers of one input, in first-seen order, with what was dropped."""

    id_type: str
    items: list[str]
    total: int
    invalid: int
    empty: int

    @property
    def duplicates(self) -> int:
        return self.total - self.empty - self.invalid - len(self.items)


def check_type(id_type: str) -> str:
    if id_type not in ID_TYPES:
        raise InvalidInput(f"unknown identifier type {id_type!r}; use one of {', '.join(ID_TYPES)}")
    return id_type


def canonical(id_type: str, value: str) -> str:
    """The canonical form of ``value`` as an identifier of ``id_type`` (not yet validated)."""
    v = value.strip()
    if id_type == "cn_resident_id":
        v = v.upper()
        if len(v) == 15 and v.isdigit():
            first17 = v[:6] + "19" + v[6:]
            v = first17 + resident_id_check(first17)
        return v
    if id_type == "cn_mobile":
        v = v.translate(_SEPARATORS)
        for prefix in ("+86", "0086", "86"):
            if v.startswith(prefix) and len(v) == len(prefix) + 11:
                return v[len(prefix) :]
        return v
    if id_type == "email":
        return v.lower()
    if id_type == "phone_e164":
        return "+" + "".join(c for c in v if c.isdigit()) if v.startswith("+") else v
    if id_type in ("bank_card", "credit_card"):
        return v.translate(_SEPARATORS)
    return v.upper().replace(" ", "")


_SEPARATORS: Final = {ord(c): None for c in " -.()\u3000"}


def normalize(
    values: Iterable[str | None], id_type: str, *, max_invalid_share: float = MAX_INVALID_SHARE
) -> Normalized:
    """Canonical, validated, de-duplicated identifiers of ``id_type``; empty cells are skipped.

    Raises ``InvalidIdentifiers`` (naming the failing share) when more than ``max_invalid_share`` of
    the non-empty values fail validation, and ``EmptyFile`` when no identifier remains.
    """
    check = recognizer(check_type(id_type)).validate
    seen: dict[str, None] = {}
    total = invalid = empty = 0
    for raw in values:
        total += 1
        if raw is None or not str(raw).strip():
            empty += 1
            continue
        v = canonical(id_type, str(raw))
        if not check(v):
            invalid += 1
            continue
        seen.setdefault(f"{id_type}:{v}")
    present = total - empty
    if present and invalid / present > max_invalid_share:
        raise InvalidIdentifiers(
            f"{invalid} of {present} values ({invalid / present:.1%}) are not valid {id_type} identifiers; "
            f"is this the right column and type? (at most {max_invalid_share:.0%} may fail)",
            id_type=id_type,
            invalid=invalid,
            total=present,
        )
    if not seen:
        raise EmptyFile(f"no {id_type} identifier to match: the set is empty")
    return Normalized(id_type, list(seen), total, invalid, empty)


def detect_type(values: Iterable[str | None], *, sample: int = 1000) -> str:
    """The supported identifier type most of the (first ``sample``) non-empty values validate as."""
    cells = [str(v) for v in values if v is not None and str(v).strip()][:sample]
    if not cells:
        raise EmptyFile("no identifier to match: the set is empty")
    shares = {t: sum(recognizer(t).validate(canonical(t, c)) for c in cells) / len(cells) for t in ID_TYPES}
    best = max(shares, key=lambda t: shares[t])
    if shares[best] < 1 - MAX_INVALID_SHARE:
        raise InvalidIdentifiers(
            f"the values are not identifiers of one supported type (best: {best}, "
            f"{1 - shares[best]:.1%} fail); name the type with --type",
            id_type=best,
            invalid=round((1 - shares[best]) * len(cells)),
            total=len(cells),
        )
    return best
