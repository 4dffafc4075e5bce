"""Issue 20, classification rows: identifiers inside short free text, and header context.

Through the registration path (``register`` runs the classification hook), on real files.
"""

from __future__ import annotations

from pathlib import Path

from dataex.privacy.detect import recognizer
from tests.conftest import Node, add


def _resident_id(prefix17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(prefix17, weights, strict=True)) % 11]
    return prefix17 + check


def _classified(node: Node, path: Path) -> dict[str, dict[str, object]]:
    owner = add(node, "Clinic")
    reg = node.ex.register(path, owner=owner.party.id, title="t", license="x")
    from dataex.privacy.classify import get_classification

    return {f["name"]: f for f in get_classification(node.ex, reg.dataset.id).fields}


def test_identifiers_in_a_third_of_short_notes_are_flagged(sqlite_node: Node, tmp_path: Path) -> None:
    rid = _resident_id("11010119900307123")
    assert recognizer("cn_resident_id").validate(rid)
    notes = [f"复诊，患者证件{rid}，电话13812345678" if i % 3 == 0 else "复诊" for i in range(90)]
    src = tmp_path / "notes.csv"
    src.write_text("visit,note\n" + "".join(f"{i},{n}\n" for i, n in enumerate(notes)), encoding="utf-8")
    field = _classified(sqlite_node, src)["note"]
    assert field["type"] == "free_text_with_pii"
    assert field["spans"] == {"cn_mobile": 30, "cn_resident_id": 30}
    assert field["share"] == round(30 / 90, 3)
    assert field["category"] != "non_personal" and field["grade"] != "general-1"


def test_customer_codes_are_not_diagnoses(sqlite_node: Node, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text("customer,amount\n" + "".join(f"C{i % 97},{i}\n" for i in range(300)), encoding="utf-8")
    field = _classified(sqlite_node, src)["customer"]
    assert field["type"] != "medical_diagnosis" and field["category"] != "sensitive_personal"


def test_a_hinted_diagnosis_column_is_still_a_diagnosis(sqlite_node: Node, tmp_path: Path) -> None:
    src = tmp_path / "dx.csv"
    codes = ["C34.1", "C50.9", "C18.7", "C61", "C25.0"]
    src.write_text("diagnosis,n\n" + "".join(f"{codes[i % 5]},{i}\n" for i in range(100)), encoding="utf-8")
    assert _classified(sqlite_node, src)["diagnosis"]["type"] == "medical_diagnosis"
