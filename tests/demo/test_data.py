"""Tests for dataex.demo.data (synthetic visits / policy holders) and bench.datagen (large CSV)."""

from __future__ import annotations

import collections
import datetime as dt
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bench.datagen import SCHEMA as BENCH_SCHEMA
from bench.datagen import write_large_csv
from dataex.demo.data import (
    CHRONIC,
    DEPARTMENTS,
    DIAGNOSES,
    PANEL_SCHEMA,
    PLANS,
    POLICYHOLDERS_SCHEMA,
    REFERENCE_DATE,
    VISITS_SCHEMA,
    hospital_visits,
    insurer_policyholders,
    is_valid_resident_id,
    patient_panel,
    resident_id_check_digit,
)

MOBILE_RE = re.compile(r"1(3[0-9]|5[0-35-9]|66|7[35-8]|8[0-9]|9[13589])[0-9]{8}")


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _birth(id_no: str) -> dt.date:
    return dt.date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))


def _age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _faker_check(first17: str) -> str:
    """Independent oracle: Faker's closed form of ISO 7064 MOD 11-2, (1 - 2 * int(s, 13)) mod 11."""
    return str((1 - 2 * int(first17, 13)) % 11).replace("10", "X")


@pytest.fixture(scope="module")
def visits() -> pa.Table:
    return hospital_visits(5000, seed=42)


@pytest.fixture(scope="module")
def rows(visits: pa.Table) -> list[dict[str, object]]:
    return visits.to_pylist()


# --------------------------------------------------------------------------- resident IDs


@pytest.mark.parametrize("id_no", ["11010519491231002X", "440524188001010014"])
def test_published_example_ids_validate(id_no: str) -> None:
    assert resident_id_check_digit(id_no[:17]) == id_no[17]
    assert is_valid_resident_id(id_no)


def test_check_digit_matches_independent_formula() -> None:
    for i in range(3000):
        first17 = f"{(i * 982_451_653 + 12_345) % 10**17:017d}"
        assert resident_id_check_digit(first17) == _faker_check(first17)
    # every check character occurs
    chars = {resident_id_check_digit(f"1101051949123100{d}") for d in "0123456789"}
    chars |= {resident_id_check_digit(f"110105194912310{d}0") for d in "0123456789"}
    assert chars == set("0123456789X")


@pytest.mark.parametrize(
    "id_no",
    [
        "110105194912310020",  # wrong check digit (should be X)
        "110105194912310021",
        "440524188001010015",
        "11010519491231002x",  # lower-case x
        "11010519490231002X",  # February 31st
        "110105194913310028",  # month 13
        "11010519491231002",  # 17 chars
        "11010519491231002X0",  # 19 chars
        "1101051949123100AX",
        "１１０１０５１９４９１２３１００２X",  # full-width digits
        "",
    ],
)
def test_invalid_ids_fail(id_no: str) -> None:
    assert not is_valid_resident_id(id_no)


def test_invalid_date_fails_even_with_correct_check_digit() -> None:
    first17 = "11010519490229002"  # 1949 is not a leap year
    assert not is_valid_resident_id(first17 + resident_id_check_digit(first17))
    leap = "11010520000229002"
    assert is_valid_resident_id(leap + resident_id_check_digit(leap))


def test_non_string_is_invalid() -> None:
    assert not is_valid_resident_id(11010519491231002)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["1101051949123100", "110105194912310021", "1101051949123100X", " 1101051949123100"]
)
def test_check_digit_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_digit(bad)


# --------------------------------------------------------------------------- hospital visits


def test_visits_shape(visits: pa.Table, rows: list[dict[str, object]]) -> None:
    assert visits.schema == VISITS_SCHEMA
    assert visits.num_rows == 5000
    ids = [r["visit_id"] for r in rows]
    assert len(set(ids)) == 5000
    assert all(re.fullmatch(r"V[0-9]{7}", str(v)) for v in ids)
    assert all(re.fullmatch(r"P[0-9]{8}", str(r["patient_id"])) for r in rows)
    assert visits.to_pydict()["visit_date"] == sorted(visits.to_pydict()["visit_date"])


def test_every_id_no_validates(rows: list[dict[str, object]]) -> None:
    assert all(is_valid_resident_id(str(r["id_no"])) for r in rows)


def test_sex_matches_id_parity(rows: list[dict[str, object]]) -> None:
    for r in rows:
        assert r["sex"] == ("男" if int(str(r["id_no"])[16]) % 2 else "女")
    assert {r["sex"] for r in rows} == {"男", "女"}


def test_age_matches_birth_date(rows: list[dict[str, object]]) -> None:
    for r in rows:
        birth = _birth(str(r["id_no"]))
        assert r["age"] == _age_on(birth, REFERENCE_DATE)
        assert isinstance(r["visit_date"], dt.date)
        assert birth <= r["visit_date"]
        assert r["visit_date"].year == 2025
    ages = [int(str(r["age"])) for r in rows]
    assert min(ages) >= 0
    assert max(ages) <= 100
    assert sum(a < 14 for a in ages) > 0.05 * len(ages)  # children present
    assert sum(a >= 65 for a in ages) > 0.15 * len(ages)  # elderly over-represented


def test_patients_repeat_and_attributes_are_constant(rows: list[dict[str, object]]) -> None:
    per_patient: dict[object, set[tuple[object, ...]]] = collections.defaultdict(set)
    for r in rows:
        per_patient[r["patient_id"]].add((r["name"], r["id_no"], r["sex"], r["age"], r["mobile"]))
    assert all(len(attrs) == 1 for attrs in per_patient.values())
    assert 0.9 * 5000 / 2.5 <= len(per_patient) <= 1.1 * 5000 / 2.5
    visits_per_patient = collections.Counter(r["patient_id"] for r in rows)
    assert sum(c > 1 for c in visits_per_patient.values()) > 0.3 * len(per_patient)
    assert max(visits_per_patient.values()) >= 5
    # id_no identifies the patient one-to-one
    assert len({r["id_no"] for r in rows}) == len(per_patient)


def test_mobile_numbers(rows: list[dict[str, object]]) -> None:
    assert all(MOBILE_RE.fullmatch(str(r["mobile"])) for r in rows)


def test_names_are_chinese(rows: list[dict[str, object]]) -> None:
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", str(r["name"])) for r in rows)


def test_departments_and_diagnoses(rows: list[dict[str, object]]) -> None:
    assert {r["department"] for r in rows} == set(DEPARTMENTS)
    assert all(DIAGNOSES[str(r["diagnosis"])] == r["diagnosis_name"] for r in rows)
    counts = collections.Counter(r["diagnosis"] for r in rows)
    assert 25 <= len(counts) <= len(DIAGNOSES)
    (top, top_n), *_ = counts.most_common()
    assert top in {"I10", "J06.9"}
    assert top_n > 5 * min(counts.values())
    assert all(r["sex"] == "女" for r in rows if r["department"] == "妇产科")
    assert all(int(str(r["age"])) < 14 for r in rows if r["department"] == "儿科")
    assert all(14 <= int(str(r["age"])) <= 44 for r in rows if r["diagnosis"] == "Z34.9")


def test_costs(visits: pa.Table, rows: list[dict[str, object]]) -> None:
    costs = [float(str(r["cost"])) for r in rows]
    assert all(c >= 12.0 and round(c, 2) == c for c in costs)
    con = duckdb.connect()
    try:
        con.register("v", visits)
        medians = dict(con.execute("select department, median(cost) from v group by 1").fetchall())
    finally:
        con.close()
    assert medians["急诊科"] > 2 * medians["皮肤科"]
    insured = sum(bool(r["insured"]) for r in rows) / len(rows)
    assert 0.8 < insured < 0.97


def test_visits_deterministic() -> None:
    a, b = hospital_visits(3000, seed=7), hospital_visits(3000, seed=7)
    assert _ipc_bytes(a) == _ipc_bytes(b)
    assert _ipc_bytes(a) != _ipc_bytes(hospital_visits(3000, seed=8))


def test_visits_edge_sizes() -> None:
    assert hospital_visits(0, seed=1).schema == VISITS_SCHEMA
    assert hospital_visits(0, seed=1).num_rows == 0
    one = hospital_visits(1, seed=1)
    assert one.num_rows == 1
    assert is_valid_resident_id(one.column("id_no")[0].as_py())
    with pytest.raises(ValueError, match="n must be"):
        hospital_visits(-1, seed=1)


# --------------------------------------------------------------------------- insurer policy holders


def test_policyholders_overlap_and_consistency(visits: pa.Table, rows: list[dict[str, object]]) -> None:
    holders = insurer_policyholders(visits, 1000, overlap=0.3, seed=5)
    assert holders.schema == POLICYHOLDERS_SCHEMA
    assert holders.num_rows == 1000
    patients = {r["id_no"]: (r["name"], r["mobile"]) for r in rows}
    hrows = holders.to_pylist()
    shared = [h for h in hrows if h["id_no"] in patients]
    assert len(shared) == 300
    assert all((h["name"], h["mobile"]) == patients[h["id_no"]] for h in shared)
    # shared people are spread through the table, not a block at the start
    positions = [i for i, h in enumerate(hrows) if h["id_no"] in patients]
    assert positions[0] < 50
    assert positions[-1] > 950
    assert len({h["id_no"] for h in hrows}) == 1000
    assert len({h["policy_no"] for h in hrows}) == 1000
    for h in hrows:
        id_no = str(h["id_no"])
        assert is_valid_resident_id(id_no)
        assert h["birth_date"] == _birth(id_no)
        assert h["sex"] == ("男" if int(id_no[16]) % 2 else "女")
        assert MOBILE_RE.fullmatch(str(h["mobile"]))
        assert h["plan"] in PLANS
        assert float(str(h["annual_premium"])) > 0
        assert isinstance(h["start_date"], dt.date)
        assert h["start_date"] >= h["birth_date"]
        assert str(h["policy_no"]).startswith(f"BD{h['start_date'].year}")


@pytest.mark.parametrize("overlap", [0.0, 0.1, 0.5, 1.0])
def test_policyholders_overlap_fraction(visits: pa.Table, overlap: float) -> None:
    holders = insurer_policyholders(visits, 400, overlap=overlap, seed=2)
    patient_ids = set(visits.column("id_no").to_pylist())
    shared = sum(i in patient_ids for i in holders.column("id_no").to_pylist())
    assert shared == round(overlap * 400)


def test_policyholders_deterministic(visits: pa.Table) -> None:
    a = insurer_policyholders(visits, 800, overlap=0.25, seed=11)
    b = insurer_policyholders(visits, 800, overlap=0.25, seed=11)
    assert _ipc_bytes(a) == _ipc_bytes(b)
    assert _ipc_bytes(a) != _ipc_bytes(insurer_policyholders(visits, 800, overlap=0.25, seed=12))


def test_policyholders_rejects_bad_arguments(visits: pa.Table) -> None:
    with pytest.raises(ValueError, match="overlap must be"):
        insurer_policyholders(visits, 10, overlap=1.5, seed=1)
    with pytest.raises(ValueError, match="only 2000 patients"):
        insurer_policyholders(visits, 5000, overlap=0.5, seed=1)
    assert insurer_policyholders(visits, 0, overlap=0.5, seed=1).schema == POLICYHOLDERS_SCHEMA


# --------------------------------------------------------------------------- benchmark CSV


def test_bench_csv_small(tmp_path: Path) -> None:
    path = tmp_path / "bench.csv"
    size = write_large_csv(path, 10_000, seed=3, chunk_rows=3_000)  # 4 chunks, the last one partial
    assert size == path.stat().st_size
    assert 80 * 10_000 < size < 130 * 10_000
    with path.open(encoding="utf-8") as f:
        header = f.readline().strip().replace('"', "").split(",")
    assert header == BENCH_SCHEMA.names
    con = duckdb.connect()
    try:
        n, distinct_ids, min_date, max_date = con.execute(
            "select count(*), count(distinct visit_id), min(visit_date), max(visit_date) from read_csv(?)",
            [str(path)],
        ).fetchone() or (None, None, None, None)
        sample = con.execute("select id_no, sex from read_csv(?, all_varchar = true) limit 500", [str(path)])
        id_rows = sample.fetchall()
    finally:
        con.close()
    assert n == 10_000
    assert distinct_ids == 10_000
    assert min_date >= dt.date(2025, 1, 1)
    assert max_date <= dt.date(2025, 12, 31)
    assert all(is_valid_resident_id(i) for i, _ in id_rows)
    assert all(s == ("男" if int(i[16]) % 2 else "女") for i, s in id_rows)


def test_bench_csv_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_large_csv(a, 2_500, seed=9)
    write_large_csv(b, 2_500, seed=9)
    assert a.read_bytes() == b.read_bytes()
    empty = tmp_path / "empty.csv"
    size = write_large_csv(empty, 0)
    assert size == empty.stat().st_size
    assert empty.read_text(encoding="utf-8").strip().replace('"', "").split(",") == BENCH_SCHEMA.names


def test_patient_panel_has_one_row_per_patient_and_the_chronic_flag() -> None:
    visits = hospital_visits(600, seed=3)
    panel = patient_panel(visits)
    assert panel.schema == PANEL_SCHEMA
    rows = visits.to_pylist()
    patients = sorted({r["patient_id"] for r in rows})
    assert panel.num_rows == len(patients)
    expected = []
    for p in patients:
        mine = [r for r in rows if r["patient_id"] == p]
        chronic = int(any(r["diagnosis"] in CHRONIC for r in mine))
        expected.append((mine[0]["age"], mine[0]["sex"] == "男", len(mine), chronic))
    got = panel.to_pylist()
    assert [(r["age"], r["male"], r["visits"], r["chronic"]) for r in got] == expected
    totals = [round(sum(r["cost"] for r in rows if r["patient_id"] == p), 2) for p in patients]
    assert [r["total_cost"] for r in got] == pytest.approx(totals)
    assert 0 < sum(r["chronic"] for r in got) < len(got)

    noisy = patient_panel(visits, label_noise=0.3, seed=1)
    flipped = sum(
        a != b for a, b in zip(panel["chronic"].to_pylist(), noisy["chronic"].to_pylist(), strict=True)
    )
    assert 0.15 * len(got) < flipped < 0.45 * len(got)
    assert noisy.equals(patient_panel(visits, label_noise=0.3, seed=1))
    assert noisy.drop(["chronic"]).equals(panel.drop(["chronic"]))
    with pytest.raises(ValueError, match="label_noise"):
        patient_panel(visits, label_noise=1.5)
    assert patient_panel(hospital_visits(0, seed=1)).num_rows == 0
