"""The shared upload service (``dataex.catalog.upload``): phases, limits, refusals, nothing stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataex.catalog.upload import PHASES, register_upload
from dataex.errors import FileTooLarge, Forbidden, InvalidInput
from dataex.exchange import Exchange
from dataex.quality.service import get_report
from tests.conftest import Actor, Node, add
from tests.state import snapshot


def visits_bytes(rows: int = 80) -> bytes:
    lines = ["patient_id,age,diagnosis,cost"]
    lines += [f"P{i:04d},{30 + i % 50},{'ABC'[i % 3]},{(i * 37) % 300}.5" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def hospital(sqlite_node: Node) -> Actor:
    return add(sqlite_node, "Ruijin Hospital")


def test_phases_are_reported_in_order_and_the_dataset_is_analyzed(sqlite_node: Node, hospital: Actor) -> None:
    data = visits_bytes()
    seen: list[tuple[str, int]] = []
    done = register_upload(
        sqlite_node.ex,
        io.BytesIO(data),
        filename="../../etc/visits.CSV",
        actor=hospital.party,
        title=" 门诊 ",
        license="MIT",
        progress=lambda phase, n: seen.append((phase, n)),
    )
    phases = [p for p, _ in seen]
    assert [p for p in PHASES if p in phases] == list(dict.fromkeys(phases))  # in order
    assert phases[-1] == "done" and set(phases) == set(PHASES)
    assert seen[-1][1] == len(data)
    assert done.created and done.dataset.title == "门诊" and done.dataset.source["name"] == "visits.CSV"
    assert get_report(sqlite_node.ex, done.dataset.id)["grade"] in "ABCD"
    again = register_upload(
        sqlite_node.ex, io.BytesIO(data), filename="v.csv", actor=hospital.party, title="x", license="MIT"
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
    sqlite_node: Node, hospital: Actor, filename: str, options: dict[str, object], error: str
) -> None:
    before = snapshot(sqlite_node.ex)
    args: dict[str, object] = {"title": "t", "license": "MIT"} | options
    with pytest.raises(InvalidInput, match=error.replace("(", r"\(").replace(")", r"\)")):
        register_upload(
            sqlite_node.ex,
            io.BytesIO(visits_bytes()),
            filename=filename,
            actor=hospital.party,
            **args,  # type: ignore[arg-type]
        )
    assert sqlite_node.ex.list_datasets() == []
    assert not any(sqlite_node.ex.settings.staging_dir.glob("*/*"))
    assert snapshot(sqlite_node.ex) == before


@pytest.fixture
def small_limit_node(tmp_path: Path) -> Iterator[Node]:
    """A node whose settings allow uploads of 100 bytes at most."""
    ex, token = Exchange.init(home=tmp_path / "node", max_upload_bytes=100)
    yield Node(ex, tmp_path / "node", token)
    ex.close()


def test_the_node_limit_comes_from_the_settings(small_limit_node: Node) -> None:
    ex = small_limit_node.ex
    hospital = add(small_limit_node, "Ruijin Hospital")
    before = snapshot(ex)
    with pytest.raises(FileTooLarge, match="larger than the limit of 100 bytes") as caught:
        register_upload(
            ex, io.BytesIO(visits_bytes()), filename="v.csv", actor=hospital.party, title="t", license="MIT"
        )
    assert (caught.value.code, caught.value.status, caught.value.limit) == ("file_too_large", 413, 100)
    assert snapshot(ex) == before
    small = visits_bytes(rows=2)
    assert len(small) <= 100
    done = register_upload(
        ex, io.BytesIO(small), filename="v.csv", actor=hospital.party, title="t", license="MIT"
    )
    assert done.created and done.dataset.rows == 2


def test_the_default_limit_is_two_gibibytes_and_the_environment_overrides_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataex.config import Settings

    monkeypatch.delenv("DATAEX_MAX_UPLOAD_BYTES", raising=False)
    assert Settings(home=tmp_path).max_upload_bytes == 2 * 1024**3
    monkeypatch.setenv("DATAEX_MAX_UPLOAD_BYTES", "4096")
    assert Settings(home=tmp_path).max_upload_bytes == 4096
    monkeypatch.setenv("DATAEX_MAX_UPLOAD_BYTES", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings(home=tmp_path)


def test_a_party_registers_for_itself_only(sqlite_node: Node, hospital: Actor) -> None:
    insurer = add(sqlite_node, "Ping An Health", kind="insurer", role="consumer")
    with pytest.raises(Forbidden):
        register_upload(
            sqlite_node.ex,
            io.BytesIO(visits_bytes()),
            filename="v.csv",
            actor=hospital.party,
            title="t",
            license="MIT",
            owner=insurer.party.id,
        )
    assert sqlite_node.ex.list_datasets() == []
