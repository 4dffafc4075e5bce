"""Issue 18 in the console: a large upload needs a signed-in session before its body is read."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import Console, csrf_of, upload_file, visits_csv


def test_a_large_console_upload_needs_a_signed_in_session(console: Console, tmp_path: Path) -> None:
    big = visits_csv(tmp_path / "big.csv", rows=4000)  # ~100 KB: over anonymous_body_bytes
    assert big.stat().st_size > console.ex.settings.anonymous_body_bytes
    anonymous = console.client()
    page = anonymous.get("/login")
    r = anonymous.post(
        "/provider/datasets",
        data={"csrf": csrf_of(page.text), "title": "T", "license": "CC-BY-4.0"},
        files={"file": (big.name, big.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    signed_out = console.client(console.hospital)
    page = signed_out.get("/provider")
    signed_out.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    r = signed_out.post(
        "/provider/datasets",
        data={"csrf": csrf_of(signed_out.get("/login").text), "title": "T", "license": "CC-BY-4.0"},
        files={"file": (big.name, big.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 401
    provider = console.client(console.hospital)
    dataset_id = upload_file(console, provider, big, "Big visits")
    assert console.ex.get_dataset(dataset_id, viewer=console.hospital.party).rows == 4000
