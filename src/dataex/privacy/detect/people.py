"""Weakly structured personal data: names, addresses, dates of birth, diagnoses.

These have no check digit, so a column needs a header hint (or an overwhelming share of valid
values) to be typed, and in free text they are found only next to a cue word (``姓名``, ``患者``,
``出生``, ``诊断``) — a surname followed by two characters is too common in Chinese prose to be
reported without one.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from dataex.privacy.detect.base import NOT_AFTER, Recognizer, Span, compile_hints
from dataex.privacy.detect.gazetteer import CITIES, COMPOUND_SURNAMES, PROVINCES, SINGLE_SURNAMES

_HAN: Final = re.compile(r"[\u4e00-\u9fff]{2,4}")
_NAME_CUE: Final = re.compile(
    r"(?:姓名|患者|病人|病患|联系人|家属|申请人|收件人|客户|持卡人|户主|法定代表人|监护人|被保险人|投保人)"
    r"[:：\s]*([\u4e00-\u9fff]{2,4})"
)
_NAME_STOP: Final = frozenset("男女于在因的是，。身手电年岁住等与和及系现今已")


def is_chinese_name(value: str) -> bool:
    """A known surname (single or compound) followed by one or two given-name characters."""
    v = value.strip().replace(" ", "")
    if _HAN.fullmatch(v) is None:
        return False
    if v[:2] in COMPOUND_SURNAMES and len(v) in (3, 4):
        return True
    if v[0] in SINGLE_SURNAMES and len(v) in (2, 3):
        return True
    return len(v) == 4 and v[0] in SINGLE_SURNAMES and v[1] in SINGLE_SURNAMES  # 冠夫姓: 陈林秀英


class PersonName(Recognizer):
    """Chinese personal names: surname list plus length (2-4 characters)."""

    kind = "person_name"
    pattern = _NAME_CUE
    hints = compile_hints(
        r"姓名", r"名字", r"患者(?!id|编号|号)", r"病人", r"联系人", r"客户名", r"持卡人", r"户主", r"^name$",
        r"(?:^|_)(?:full|first|last|patient|customer|person|contact|holder)_?name", r"^xm$",
    )  # fmt: skip
    strong = False

    def validate(self, value: str) -> bool:
        return is_chinese_name(value)

    def find(self, text: str) -> list[Span]:
        spans = []
        for m in self.pattern.finditer(text):
            cand = m.group(1)
            cut = next((i for i, c in enumerate(cand) if i >= 2 and c in _NAME_STOP), len(cand))
            cand = cand[:cut]
            while len(cand) >= 2 and not is_chinese_name(cand):
                cand = cand[:-1]
            if len(cand) >= 2:
                spans.append(Span(self.kind, m.start(1), m.start(1) + len(cand)))
        return spans


_PLACE: Final = "|".join(sorted({*PROVINCES, *CITIES}, key=len, reverse=True))
_ADDRESS_UNIT: Final = re.compile(r"区|县|旗|镇|乡|街道|路|街|巷|弄|道|村|号|栋|幢|单元|室|组")
_ADDRESS_TEXT: Final = re.compile(
    rf"((?:{_PLACE})(?:省|市|自治区|特别行政区)?[\u4e00-\u9fff]{{0,20}}?(?:区|县|旗|镇|乡|路|街|巷|弄|村)"
    r"(?:[\u4e00-\u9fff]{0,12}?(?:路|街|巷|弄|村|大道))?"
    r"(?:\d+(?:-\d+)?号)?(?:\d+(?:栋|幢|单元|室|楼|层))*)"
)


class Address(Recognizer):
    """Postal addresses: start with a province or major city (or contain 省/市), and carry at
    least one finer unit (区/县/镇/乡/街道/路/街/号/村/室 …)."""

    kind = "address"
    pattern = _ADDRESS_TEXT
    hints = compile_hints(
        r"地址", r"住址", r"住所", r"居住地", r"户籍", r"address", r"^addr", r"street", r"家庭住"
    )
    strong = False

    def validate(self, value: str) -> bool:
        v = value.strip()
        if not 5 <= len(v) <= 120 or not re.search(r"[\u4e00-\u9fff]", v):
            return False
        placed = v.startswith(tuple(PROVINCES)) or v.startswith(tuple(CITIES)) or re.search(r"省|市", v[:12])
        return bool(placed) and _ADDRESS_UNIT.search(v[2:]) is not None


_DATE: Final = re.compile(
    r"(1[89]\d{2}|20\d{2})(?:[-/.]([01]?\d)[-/.]([0-3]?\d)|年([01]?\d)月([0-3]?\d)日?|([01]\d)([0-3]\d))"
    r"(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)


def parse_date(value: str) -> dt.date | None:
    """A calendar date written as 1990-05-03, 1990/5/3, 1990.05.03, 19900503 or 1990年5月3日."""
    m = _DATE.fullmatch(value.strip())
    if m is None:
        return None
    year = int(m.group(1))
    month, day = next((m.group(i), m.group(i + 1)) for i in (2, 4, 6) if m.group(i) is not None)
    try:
        return dt.date(year, int(month), int(day))
    except ValueError:
        return None


class DateOfBirth(Recognizer):
    """Dates of birth: a real date between 1890 and today; a column also needs a header hint."""

    kind = "date_of_birth"
    pattern = re.compile(
        r"(?:出生日期|出生年月日|出生于|出生|生日|DOB|date of birth|born on|born)[:：\s]*"
        r"((?:1[89]|20)\d{2}(?:[-/.]\d{1,2}[-/.]\d{1,2}|年\d{1,2}月\d{1,2}日?|\d{4}))" + NOT_AFTER,
        re.IGNORECASE,
    )
    hints = compile_hints(r"出生", r"生日", r"birth", r"\bdob\b", r"^dob", r"born", r"csrq")
    strong = False

    def validate(self, value: str) -> bool:
        born = parse_date(value)
        return born is not None and dt.date(1890, 1, 1) <= born <= dt.datetime.now(dt.UTC).date()


_ICD10: Final = re.compile(r"[A-Z]\d{2}(?:\.[0-9Xx]{1,4}\d{0,3})?")


class MedicalDiagnosis(Recognizer):
    """Diagnoses: ICD-10 codes (``I10``, ``E11.9``, ``I10.x00`` in the Chinese clinical edition);
    a column of diagnosis names is recognised by its header (诊断, 疾病, diagnosis, icd …)."""

    kind = "medical_diagnosis"
    pattern = re.compile(
        r"(?:诊断|ICD-?10|ICD)[:：为是\s]*([A-Z]\d{2}(?:\.[0-9Xx]{1,4}\d{0,3})?)" + NOT_AFTER
    )
    hints = compile_hints(
        r"诊断", r"疾病", r"病名", r"病种", r"病症", r"病史", r"病因", r"病情", r"主诉", r"症状",
        r"病(?!人|历|房|区|床|号|案号)", r"diagnos", r"icd", r"disease", r"disorder", r"symptom",
        r"condition",
    )  # fmt: skip
    strong = False

    def validate(self, value: str) -> bool:
        return _ICD10.fullmatch(value.strip()) is not None
