"""Sealed fields: the public log names no party; the party itself and auditors can open the commitment."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from dataex.api.app import create_app
from dataex.db.models import LogOpeningRow
from dataex.exchange import Exchange
from dataex.ledger.log import canonical_json

NAME = "Zephyrine Clinic 7731"


def _entry_of(client: TestClient, party_id: str) -> tuple[int, dict[str, object]]:
    size = int(client.get("/log/checkpoint.txt").text.split("\n")[1])
    for i in range(size):
        body = client.get(f"/log/proof/{i}").json()["entry"]
        if body["event"] == "party.added" and body["data"]["party_id"] == party_id:
            return i, body
    raise AssertionError("no party.added entry")


def test_party_names_are_sealed_and_open_only_to_their_audience(tmp_path: Path) -> None:
    ex, _ = Exchange.init(home=tmp_path / "n")
    try:
        clinic, clinic_token = ex.create_party(NAME, kind="hospital", role="provider")
        _other, other_token = ex.create_party("Other Co", kind="enterprise", role="consumer")
        _auditor, auditor_token = ex.create_party("CAC", kind="government", role="auditor")
        with TestClient(create_app(ex)) as client:
            index, body = _entry_of(client, clinic.id)
            public = json.dumps(client.get(f"/log/proof/{index}").json(), ensure_ascii=False)
            assert NAME not in public and "Zephyrine" not in public and "hospital" not in public
            data = body["data"]
            assert isinstance(data, dict) and set(data) == {"party_id", "name", "kind", "role"}
            assert all(set(data[k]) == {"$commit"} for k in ("name", "kind", "role"))

            mine = client.get(f"/log/openings/{index}", headers={"Authorization": f"Bearer {clinic_token}"})
            assert mine.status_code == 200
            opened = {o["field"]: o for o in mine.json()["openings"]}
            assert opened["name"]["value"] == NAME and opened["role"]["value"] == "provider"
            for name, o in opened.items():  # recomputed here, independently of dataex.ledger.seal
                digest = hashlib.sha256(
                    b"dataex-commit-v1\x00" + bytes.fromhex(o["salt"]) + canonical_json(o["value"])
                ).hexdigest()
                assert digest == data[name]["$commit"]

            audited = client.get(
                f"/log/openings/{index}", headers={"Authorization": f"Bearer {auditor_token}"}
            )
            assert audited.status_code == 200 and len(audited.json()["openings"]) == 3
            stranger = client.get(
                f"/log/openings/{index}", headers={"Authorization": f"Bearer {other_token}"}
            )
            unknown = client.get("/log/openings/999999", headers={"Authorization": f"Bearer {other_token}"})
            assert stranger.status_code == unknown.status_code == 404
            assert stranger.json()["code"] == unknown.json()["code"]
            assert NAME not in stranger.text
        assert ex.audit().ok
        with ex.transaction() as s:
            s.execute(
                update(LogOpeningRow)
                .where(LogOpeningRow.idx == index, LogOpeningRow.field == "name")
                .values(value={"v": "Someone Else"})
            )
        problems = ex.audit().problems
        assert [p["code"] for p in problems] == ["opening_mismatch"]
        assert problems[0]["index"] == index
    finally:
        ex.close()
