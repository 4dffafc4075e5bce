"""Matching a demand's wanted fields to a dataset's columns, with the reason for each match.

A field name is normalized (NFKC, lower case, only letters and digits: ``Patient_Age`` →
``patientage``) and mapped to a *concept* through a small bilingual synonym table (``年龄``,
``age`` → ``age``). A wanted field ``f`` and a column ``c`` score (best reason wins):

==========================  =====  ==================================================
reason                      score  when
==========================  =====  ==================================================
``same_name``               1.0    normalized names are equal
``synonym``                 1.0    both names map to the same concept (年龄 ≈ age)
``semantic_type``           0.9    the column's metadata semantic type maps to f's concept
``name_part``               0.7 ×  share of f's parts found among c's name parts
                                   (``age`` in ``patient_age``, ``visit_date`` ~ ``date_of_visit``)
``description``             0.5    f's concept or name occurs in the column's description
==========================  =====  ==================================================
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dataex.catalog import text as tx

SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "age": ("age", "年龄", "岁数", "年纪", "ages"),
    "sex": ("sex", "gender", "性别"),
    "diagnosis": ("diagnosis", "diagnoses", "dx", "diag", "诊断", "诊断结果", "icd", "icd10", "诊断编码"),
    "cost": (
        "cost",
        "costs",
        "fee",
        "fees",
        "charge",
        "charges",
        "expense",
        "amount",
        "费用",
        "金额",
        "花费",
    ),
    "report": ("report", "reports", "报告", "报告单", "radiologyreport", "影像报告"),
    "image": ("image", "images", "imaging", "picture", "scan", "影像", "图像", "图片"),
    "name": ("name", "fullname", "姓名", "名字"),
    "date": ("date", "日期"),
    "time": ("time", "datetime", "timestamp", "时间"),
    "visit": ("visit", "encounter", "就诊", "门诊"),
    "department": ("department", "dept", "科室", "部门"),
    "hospital": ("hospital", "医院"),
    "patient": ("patient", "患者", "病人"),
    "doctor": ("doctor", "physician", "医生", "医师"),
    "phone": ("phone", "mobile", "telephone", "电话", "手机", "手机号"),
    "address": ("address", "地址", "住址"),
    "region": ("region", "province", "city", "area", "地区", "省份", "城市"),
    "id": ("id", "identifier", "编号"),
    "idcard": ("idcard", "idno", "idnumber", "身份证", "身份证号"),
    "income": ("income", "salary", "收入", "工资"),
    "label": ("label", "labels", "tag", "标签", "标注"),
    "text": ("text", "content", "文本", "内容"),
    "height": ("height", "身高"),
    "weight": ("weight", "体重"),
    "bloodpressure": ("bloodpressure", "bp", "血压"),
    "medication": ("medication", "drug", "medicine", "prescription", "药品", "用药", "处方"),
    "lab": ("lab", "labresult", "laboratory", "检验", "化验"),
    "symptom": ("symptom", "symptoms", "症状", "主诉"),
}
CONCEPT_OF: Final[dict[str, str]] = {
    unicodedata.normalize("NFKC", word).lower(): concept
    for concept, words in SYNONYMS.items()
    for word in words
}
SCORES: Final = {"same_name": 1.0, "synonym": 1.0, "semantic_type": 0.9, "name_part": 0.7, "description": 0.5}


@dataclass(frozen=True)
class FieldMatch:
    field: str
    column: str
    reason: str
    score: float


def normalize(name: str) -> str:
    """Lower case, NFKC, letters and digits only: ``Patient_Age`` → ``patientage``."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", name).lower() if ch.isalnum())


def concept(name: str) -> str:
    norm = normalize(name)
    return CONCEPT_OF.get(norm, norm)


def parts(name: str) -> set[str]:
    """Concepts of a name's parts (``patient_age`` → {patient, age}, ``患者年龄`` → {patient, age})."""
    return {CONCEPT_OF.get(p, p) for p in tx.identifier_terms(name)} | {concept(name)}


def _semantic_concept(semantic_type: Any) -> str | None:
    if not isinstance(semantic_type, str) or not semantic_type.strip():
        return None
    tail = semantic_type.strip().rstrip("/")
    for sep in ("/", "#", ":"):
        tail = tail.rsplit(sep, 1)[-1]
    return concept(tail)


def match_field(wanted: str, column: str, info: Mapping[str, Any]) -> FieldMatch | None:
    """How well ``column`` (with its metadata ``info``) serves the wanted field, if at all."""
    want = concept(wanted)
    if normalize(wanted) == normalize(column):
        return FieldMatch(wanted, column, "same_name", SCORES["same_name"])
    if want == concept(column):
        return FieldMatch(wanted, column, "synonym", SCORES["synonym"])
    if _semantic_concept(info.get("semantic_type")) == want:
        return FieldMatch(wanted, column, "semantic_type", SCORES["semantic_type"])
    wanted_parts = parts(wanted) - {concept(wanted)} or {want}
    shared = wanted_parts & parts(column)
    if shared:
        share = len(shared) / len(wanted_parts)
        return FieldMatch(wanted, column, "name_part", round(SCORES["name_part"] * share, 4))
    description = info.get("description")
    if isinstance(description, str) and description:
        described = {CONCEPT_OF.get(t, t) for t in tx.terms(description)}
        if want in described or normalize(wanted) in described:
            return FieldMatch(wanted, column, "description", SCORES["description"])
    return None


def best_matches(
    wanted: list[str], columns: list[str], fields: Mapping[str, Any]
) -> tuple[list[FieldMatch], list[str]]:
    """The best column for each wanted field, and the wanted fields no column serves."""
    found: list[FieldMatch] = []
    missing: list[str] = []
    for w in wanted:
        candidates = [match_field(w, c, _info(fields, c)) for c in columns]
        scored = [m for m in candidates if m is not None]
        if scored:
            found.append(max(scored, key=lambda m: m.score))  # max keeps the first of equals
        else:
            missing.append(w)
    return found, missing


def search_terms(wanted: list[str]) -> list[str]:
    """Index terms worth looking for: every wanted field's own terms and its concept's synonyms."""
    out: list[str] = []
    for w in wanted:
        out.extend(tx.identifier_terms(w))
        for word in SYNONYMS.get(concept(w), ()):
            out.extend(tx.terms(word))
    return tx.distinct(out)


def _info(fields: Mapping[str, Any], column: str) -> Mapping[str, Any]:
    info = fields.get(column)
    return info if isinstance(info, Mapping) else {}
