"""Categories and grades of detected field types.

Category (PIPL art. 4 and 28; GB/T 45574-2025 for what is *sensitive*):

* ``non_personal`` — nothing about an identified or identifiable natural person;
* ``personal`` — identifies or relates to a natural person (names, contact numbers, resident ID
  numbers: GB/T 45574-2025 treats the ID number as personal but no longer sensitive by itself);
* ``sensitive_personal`` — PIPL art. 28: medical health, financial accounts, biometrics,
  religion, specific identity, whereabouts/location tracks, and any personal information of a
  minor under 14.

Grade: the GB/T 43697-2024 levels general < important < core, with general data split into four
levels as sector guides do (e.g. JR/T 0197). The names avoid ``L0``-``L4``, which are dataex's access
tiers. Ordered scale: ``general-1`` < ``general-2`` < ``general-3`` < ``general-4`` < ``important``
< ``core``. Detection never assigns ``important`` or ``core`` on its own: those depend on sector
catalogues and volumes only the data holder's authority can judge. A dataset takes the highest
grade of its fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, get_args

Category = Literal["non_personal", "personal", "sensitive_personal"]
CATEGORIES: Final[tuple[str, ...]] = get_args(Category)

Grade = Literal["general-1", "general-2", "general-3", "general-4", "important", "core"]
GRADES: Final[tuple[str, ...]] = get_args(Grade)

FieldType = Literal[
    "cn_resident_id", "cn_mobile", "cn_landline", "bank_card", "credit_card", "email", "person_name",
    "address", "cn_social_credit_code", "passport", "license_plate", "ip_address", "date_of_birth",
    "iban", "phone_e164", "medical_diagnosis", "free_text_with_pii", "none",
]  # fmt: skip
FIELD_TYPES: Final[tuple[str, ...]] = get_args(FieldType)

GRADING: Final[dict[str, tuple[Category, Grade, str]]] = {
    "none": ("non_personal", "general-1", "no personal information detected"),
    "cn_social_credit_code": ("non_personal", "general-1", "organisation identifier, publicly disclosed"),
    "ip_address": ("personal", "general-2", "online identifier"),
    "email": ("personal", "general-2", "contact information"),
    "cn_mobile": ("personal", "general-2", "contact information (real-name registered)"),
    "cn_landline": ("personal", "general-2", "contact information"),
    "phone_e164": ("personal", "general-2", "contact information"),
    "person_name": ("personal", "general-2", "basic personal information"),
    "date_of_birth": ("personal", "general-2", "basic personal information"),
    "address": ("personal", "general-2", "basic personal information (residence, not a track)"),
    "license_plate": ("personal", "general-2", "identifies a person's vehicle"),
    "cn_resident_id": ("personal", "general-3", "identity document number; not sensitive by itself"),
    "passport": ("personal", "general-3", "identity document number"),
    "bank_card": ("sensitive_personal", "general-4", "financial account (PIPL art. 28)"),
    "credit_card": ("sensitive_personal", "general-4", "financial account (PIPL art. 28)"),
    "iban": ("sensitive_personal", "general-4", "financial account (PIPL art. 28)"),
    "medical_diagnosis": ("sensitive_personal", "general-4", "medical health (PIPL art. 28)"),
}
"""Field type → (category, grade, basis). ``free_text_with_pii`` takes the highest of its spans."""

MINORS_GRADE: Final[Grade] = "general-4"
"""Personal information of minors under 14 is sensitive (PIPL art. 28): a dataset holding any
personal field about people under 14 is graded at least this, whatever its fields' own grades."""


def grade_of(field_type: str) -> tuple[Category, Grade]:
    """Category and grade of one detected field type."""
    category, grade, _ = GRADING[field_type]
    return category, grade


def grade_of_spans(kinds: Iterable[str]) -> tuple[Category, Grade]:
    """The highest category and grade among the kinds of spans found in a free-text field."""
    graded = [grade_of(k) for k in kinds] or [grade_of("none")]
    return max(graded, key=lambda cg: (CATEGORIES.index(cg[0]), GRADES.index(cg[1])))


def highest(grades: Iterable[str]) -> str:
    """The highest grade of an iterable (``general-1`` for none)."""
    return max(grades, key=GRADES.index, default="general-1")
