"""The shared upload service (``dataex.catalog.upload``): phases, limits, refusals, nothing stored."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dataex.catalog.upload import PHASES, register_upload
from dataex.errors import Forbidden, InvalidInput
from dataex.quality.service import get_report
from tests.web.conftest import Console, visits_csv


def test_phases_are_reported_in_order_and_the_dataset_is_analyzed(console: Console, tmp_path: Path) -> None:
    data = visits_csv(tmp_path / "v.csv").read_bytes()
    seen: list[tuple[str, int]] = []
    done = register_upload(
        console.ex,
        io.BytesIO(data),
        filename="../../etc/visits.CSV",
        actor=console.hospital.party,
        title=" 门诊 ",
        license="MIT",
        progress=lambda phase, n: seen.append((phase, n)),
    )
    phases = [p for p, _ in seen]
    assert [p for p in PHASES if p in phases] == list(dict.fromkeys(phases))  # in order
    assert phases[-1] == "done" and set(phases) == set(PHASES)
    assert seen[-1][1] == len(data)
    assert done.created and done.dataset.title == "门诊" and done.dataset.source["name"] == "visits.CSV"
    assert get_report(console.ex, done.dataset.id)["grade"] in "ABCD"
    again = register_upload(
        console.ex, io.BytesIO(data), filename="v.csv", actor=console.hospital.party, title="x", license="MIT"
    )
    assert not again.created and again.dataset.id == done.dataset.id


@pytest.mark.parametrize(
    ("filename", "options", "error"),
    [
        ("evil.exe", {}, "unsupported file type .exe"),
        ("noext", {}, "unsupported file type (none)"),
        ("v.csv", {"max_bytes": 10}, "larger than the limit of 10 bytes"),
        ("v.csv", {"title": "  "}, "needs a title and a license"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(
    console: Console, tmp_path: Path, filename: str, options: dict[str, object], error: str
) -> None:
    data = visits_csv(tmp_path / "v.csv").read_bytes()
    args: dict[str, object] = {"title": "t", "license": "MIT"} | options
    with pytest.raises(InvalidInput, match=error.replace("(", r"\(").replace(")", r"\)")):
        register_upload(
            console.ex,
            io.BytesIO(data),
            filename=filename,
            actor=console.hospital.party,
            **args,  # type: ignore[arg-type]
        )
    assert console.ex.list_datasets() == []
    assert not any(console.ex.settings.staging_dir.glob("*/*"))


def test_a_party_registers_for_itself_only(console: Console, tmp_path: Path) -> None:
    with pytest.raises(Forbidden):
        register_upload(
            console.ex,
            io.BytesIO(visits_csv(tmp_path / "v.csv").read_bytes()),
            filename="v.csv",
            actor=console.hospital.party,
            title="t",
            license="MIT",
            owner=console.insurer.party.id,
        )
    assert console.ex.list_datasets() == []
