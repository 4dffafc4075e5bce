"""Auditor pages: consistency between two checkpoints, denial statistics from the log."""

from __future__ import annotations

import re
from pathlib import Path

from dataex.policy import authorize
from tests.web.conftest import Console, register, visits_csv


def log_size(console: Console) -> int:
    with console.ex.session() as s:
        return int(console.ex.log.size(s))


def test_consistency_between_two_checkpoints(console: Console, tmp_path: Path) -> None:
    register(console, visits_csv(tmp_path / "visits.csv"), "门诊")
    size = log_size(console)
    client = console.client(console.auditor)
    page = client.get("/auditor").text
    with console.ex.session() as s:
        sizes = [c.size for c in console.ex.log.list_checkpoints(s)]
    first, second = sizes[0], sizes[1]
    new = page.split('<select id="new" name="new">', 1)[1].split("</select>", 1)[0]
    assert f"<option selected>{size}</option>" in new and f"<option>{first}</option>" in new
    r = client.get("/auditor/consistency", params={"old": first, "new": size})
    assert r.status_code == 200 and "<html" in r.text
    assert f"大小为 {size} 的日志与大小为 {first} 的日志一致。" in r.text
    proof = console.ex.prove_consistency(first, size)
    assert proof["ok"] and proof["new_root"] in r.text and proof["old_root"] in r.text
    fragment = client.get(
        "/auditor/consistency", params={"old": second, "new": size}, headers={"HX-Request": "true"}
    )
    assert (
        fragment.status_code == 200
        and "<html" not in fragment.text
        and 'id="consistency-ok"' in fragment.text
    )
    bad = client.get("/auditor/consistency", params={"old": size, "new": first})
    assert bad.status_code == 400 and "<html" in bad.text
    assert client.get("/auditor/consistency", params={"old": first, "new": size + 50}).status_code in (
        400,
        404,
    )
    assert (
        console.client(console.insurer)
        .get("/auditor/consistency", params={"old": 1, "new": size})
        .status_code
        == 403
    )


def test_denial_statistics_count_what_authorize_refused(console: Console, tmp_path: Path) -> None:
    dataset_id = register(console, visits_csv(tmp_path / "visits.csv"), "门诊")
    for action in ("extract", "dp_query", "extract"):
        assert not authorize(console.ex, console.insurer.party, action, dataset_id).allow
    assert not authorize(console.ex, console.auditor.party, "download", dataset_id).allow
    assert authorize(console.ex, console.hospital.party, "extract", dataset_id).allow
    page = console.client(console.auditor).get("/auditor").text
    assert "日志中 authorize() 共拒绝 4 次、允许 1 次。" in page
    denials = page.split('id="denials-h"', 1)[1].split("</section>", 1)[0]
    cells = dict(re.findall(r"<th scope=\"row\"><code>([^<]+)</code></th><td>(\d+)</td>", denials))
    assert cells["extract"] == "2" and cells["dp_query"] == "1" and cells["download"] == "1"
    assert cells["consumer"] == "3" and cells["auditor"] == "1" and cells["auditor.no_data"] == "1"
    english = console.client(console.auditor, lang="en").get("/auditor").text
    assert "4 denied and 1 allowed decisions" in english
