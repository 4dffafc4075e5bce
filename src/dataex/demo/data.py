"""Realistic, seeded synthetic data: a hospital's outpatient visits and an insurer's policy holders.

Everything here is *demo* data: fully synthetic, generated from Faker (names) and a seeded numpy
``Generator`` (everything else), so the same arguments always give a byte-identical table.

Conventions:

* ``age`` is the completed age in years on :data:`REFERENCE_DATE` (2025-01-01); the birth date
  encoded in ``id_no`` agrees with it, and every visit (in 2025) is on or after the birth date.
* ``id_no`` is an 18-character resident identity number (GB 11643-1999) with a county-level area
  code, the birth date, a sequence code whose last digit is odd for men and even for women, and the
  ISO 7064 MOD 11-2 check character.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

import numpy as np
import pyarrow as pa
from faker import Faker
from faker.providers.person.zh_CN import Provider as _ZhPersonProvider
from faker.providers.ssn.zh_CN import Provider as _ZhSsnProvider

# Demo data is seeded synthetic data, not privacy noise: a seeded numpy Generator is exactly what we want.
from numpy.random import Generator, default_rng  # noqa: TID251

__all__ = [
    "CHRONIC",
    "DEPARTMENTS",
    "DIAGNOSES",
    "PANEL_SCHEMA",
    "PLANS",
    "POLICYHOLDERS_SCHEMA",
    "REFERENCE_DATE",
    "VISITS_SCHEMA",
    "hospital_visits",
    "insurer_policyholders",
    "is_valid_resident_id",
    "patient_panel",
    "resident_id_check_digit",
]

REFERENCE_DATE: Final = dt.date(2025, 1, 1)
"""Ages are completed years on this date; visits fall in the calendar year that starts here."""

# --------------------------------------------------------------------------- resident identity numbers

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_FIRST17_RE: Final = re.compile(r"[0-9]{17}")
_ID_RE: Final = re.compile(r"[0-9]{17}[0-9X]")


def resident_id_check_digit(first17: str) -> str:
    """Return the GB 11643-1999 (ISO 7064 MOD 11-2) check character for the first 17 digits."""
    if not _FIRST17_RE.fullmatch(first17):
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def is_valid_resident_id(s: str) -> bool:
    """True if ``s`` is an 18-character resident ID with a real birth date and a correct check character.

    The check character must be an upper-case ``X`` when it is ten; the area code is not checked.
    """
    if not isinstance(s, str) or not _ID_RE.fullmatch(s):
        return False
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return resident_id_check_digit(s[:17]) == s[17]


def _check_chars(first17: np.ndarray) -> np.ndarray:
    """Vectorised check characters for an array of 17-digit strings."""
    digits = first17.astype("S17").view(np.uint8).reshape(-1, 17).astype(np.int64) - ord("0")
    remainder = (digits @ np.asarray(_ID_WEIGHTS, dtype=np.int64)) % 11
    return np.asarray(list(_ID_CHECK_CHARS))[remainder]


# County-level area codes (Faker's list also holds province/prefecture totals ending in "00" and
# the 81/82/83 residence-permit prefixes, which never appear on a mainland resident ID).
_AREA_CODES: Final = np.asarray(
    sorted({c for c in _ZhSsnProvider.area_codes if c[0] in "123456" and not c.endswith("00")})
)
_LOCAL_PREFIX: Final = "3301"  # the demo hospital is in Hangzhou; most of its patients are local
_LOCAL_AREA_CODES: Final = _AREA_CODES[np.char.startswith(_AREA_CODES, _LOCAL_PREFIX)]

# Mobile prefixes (China Mobile / Unicom / Telecom), weighted roughly by subscriber share.
_MOBILE_PREFIXES: Final = np.asarray(
    ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
     "150", "151", "152", "153", "155", "156", "157", "158", "159",
     "166", "173", "175", "176", "177", "178",
     "180", "181", "182", "183", "185", "186", "187", "188", "189",
     "191", "193", "195", "198", "199"]
)  # fmt: skip
_MOBILE_WEIGHTS: Final = np.asarray(
    [3, 3, 3, 3, 4, 5, 5, 5, 6, 6,
     4, 4, 3, 3, 3, 3, 3, 4, 4,
     2, 1, 1, 1, 1, 2,
     3, 2, 2, 2, 2, 3, 3, 3, 3,
     1, 1, 1, 2, 2],
    dtype=np.float64,
)  # fmt: skip

# --------------------------------------------------------------------------- hospital vocabularies

DEPARTMENTS: Final = ("内科", "外科", "儿科", "妇产科", "眼科", "皮肤科", "耳鼻喉科", "口腔科", "急诊科")
_OBGYN: Final = DEPARTMENTS.index("妇产科")

# Department mix per age band (child <14, 14-44, 45-64, 65+); 妇产科 is zeroed for men.
_DEPT_BY_BAND: Final = np.asarray(
    [
        [0, 4, 62, 0, 6, 6, 8, 6, 8],
        [28, 12, 0, 18, 7, 9, 8, 8, 10],
        [40, 14, 0, 8, 8, 6, 6, 7, 9],
        [52, 12, 0, 2, 10, 4, 5, 5, 10],
    ],
    dtype=np.float64,
)

# ICD-10 code -> (Chinese name, relative likelihood per age band: child, 14-44, 45-64, 65+).
_CODES: Final[dict[str, tuple[str, tuple[float, float, float, float]]]] = {
    "I10": ("原发性高血压", (0.0, 0.4, 1.5, 2.2)),
    "E11.9": ("2型糖尿病", (0.0, 0.3, 1.3, 1.6)),
    "J06.9": ("急性上呼吸道感染", (1.0, 1.6, 0.9, 0.6)),
    "K29.7": ("胃炎", (0.5, 1.2, 1.1, 0.8)),
    "J20.9": ("急性支气管炎", (1.0, 1.0, 1.0, 1.3)),
    "I25.1": ("冠状动脉粥样硬化性心脏病", (0.0, 0.1, 0.8, 1.8)),
    "E78.5": ("高脂血症", (0.0, 0.4, 1.3, 1.2)),
    "I63.9": ("脑梗死", (0.0, 0.05, 0.6, 1.6)),
    "J18.9": ("肺炎", (1.0, 0.6, 0.8, 1.6)),
    "M54.5": ("腰痛", (0.1, 1.0, 1.3, 1.2)),
    "S93.4": ("踝关节扭伤", (0.6, 1.6, 0.8, 0.4)),
    "M17.9": ("膝关节骨关节炎", (0.0, 0.3, 1.3, 2.0)),
    "K80.2": ("胆囊结石", (0.0, 0.6, 1.3, 1.2)),
    "N20.0": ("肾结石", (0.05, 1.1, 1.1, 0.8)),
    "J03.9": ("急性扁桃体炎", (1.0, 1.0, 0.6, 0.4)),
    "J02.9": ("急性咽炎", (1.0, 1.0, 1.0, 1.0)),
    "A09.9": ("胃肠炎", (1.0, 1.0, 1.0, 1.0)),
    "B08.4": ("手足口病", (1.0, 0.0, 0.0, 0.0)),
    "R50.9": ("发热", (1.0, 0.7, 0.7, 0.9)),
    "Z34.9": ("正常妊娠监督", (0.0, 1.6, 0.0, 0.0)),
    "N76.0": ("急性阴道炎", (0.0, 1.3, 1.0, 0.6)),
    "N73.9": ("盆腔炎", (0.0, 1.2, 1.0, 0.5)),
    "N95.1": ("绝经期综合征", (0.0, 0.05, 1.5, 0.4)),
    "H52.1": ("近视", (2.0, 1.5, 0.5, 0.2)),
    "H10.9": ("结膜炎", (1.0, 1.0, 1.0, 1.0)),
    "H25.9": ("老年性白内障", (0.0, 0.0, 0.8, 2.5)),
    "H04.1": ("干眼症", (0.2, 1.0, 1.3, 1.2)),
    "L20.9": ("特应性皮炎", (2.0, 1.0, 0.8, 0.7)),
    "L50.9": ("荨麻疹", (1.0, 1.2, 1.0, 0.8)),
    "L70.0": ("寻常痤疮", (0.3, 2.5, 0.2, 0.0)),
    "J30.4": ("过敏性鼻炎", (1.3, 1.3, 0.8, 0.5)),
    "H66.9": ("中耳炎", (2.5, 0.7, 0.6, 0.6)),
    "K02.9": ("龋病", (2.0, 1.0, 1.0, 0.8)),
    "K05.1": ("慢性牙龈炎", (0.3, 1.0, 1.3, 1.2)),
    "R10.4": ("腹痛", (1.0, 1.0, 1.0, 1.0)),
    "T78.4": ("过敏反应", (1.0, 1.0, 1.0, 1.0)),
}

DIAGNOSES: Final[dict[str, str]] = {code: name for code, (name, _) in _CODES.items()}
"""ICD-10 code -> Chinese diagnosis name, for every code the generator can emit."""

# Department -> [(ICD-10 code, base weight)].
_DEPT_CODES: Final[dict[str, list[tuple[str, float]]]] = {
    "内科": [("I10", 22), ("E11.9", 14), ("J06.9", 16), ("K29.7", 10), ("J20.9", 7),
             ("I25.1", 6), ("E78.5", 6), ("I63.9", 3), ("J18.9", 3)],
    "外科": [("M54.5", 18), ("S93.4", 12), ("M17.9", 12), ("K80.2", 8), ("N20.0", 7)],
    "儿科": [("J06.9", 30), ("J20.9", 10), ("J18.9", 6), ("J03.9", 8), ("J02.9", 8),
             ("A09.9", 10), ("B08.4", 5), ("R50.9", 8)],
    "妇产科": [("Z34.9", 25), ("N76.0", 18), ("N73.9", 10), ("N95.1", 6)],
    "眼科": [("H52.1", 20), ("H10.9", 15), ("H25.9", 12), ("H04.1", 12)],
    "皮肤科": [("L20.9", 12), ("L50.9", 14), ("L70.0", 12)],
    "耳鼻喉科": [("J30.4", 18), ("H66.9", 8), ("J02.9", 14), ("J03.9", 6)],
    "口腔科": [("K02.9", 20), ("K05.1", 14)],
    "急诊科": [("J06.9", 10), ("R50.9", 10), ("R10.4", 12), ("T78.4", 4), ("S93.4", 5),
             ("I10", 4), ("J18.9", 4), ("A09.9", 6), ("I63.9", 2)],
}  # fmt: skip

# Department -> (median cost in yuan, lognormal sigma).
_DEPT_COST: Final = np.asarray(
    [(210, 0.75), (320, 0.85), (150, 0.70), (280, 0.80), (180, 0.80), (130, 0.70), (170, 0.70),
     (350, 0.90), (450, 0.90)],
    dtype=np.float64,
)  # fmt: skip

_CODE_LIST: Final = tuple(_CODES)
_CODE_NAMES: Final = tuple(name for name, _ in _CODES.values())

VISITS_SCHEMA: Final = pa.schema(
    [
        ("visit_id", pa.string()),
        ("patient_id", pa.string()),
        ("name", pa.string()),
        ("id_no", pa.string()),
        ("sex", pa.string()),
        ("age", pa.int64()),
        ("mobile", pa.string()),
        ("visit_date", pa.date32()),
        ("department", pa.string()),
        ("diagnosis", pa.string()),
        ("diagnosis_name", pa.string()),
        ("cost", pa.float64()),
        ("insured", pa.bool_()),
    ]
)

# --------------------------------------------------------------------------- insurer vocabularies

# Plan -> (share of policies, base annual premium in yuan, premium growth per year of age over 30).
_PLAN_TABLE: Final[dict[str, tuple[float, float, float]]] = {
    "惠民保": (0.35, 99.0, 0.0),
    "百万医疗险": (0.28, 320.0, 0.055),
    "重大疾病保险": (0.14, 4200.0, 0.045),
    "门急诊医疗险": (0.11, 480.0, 0.02),
    "防癌医疗险": (0.07, 260.0, 0.05),
    "高端医疗险": (0.05, 12800.0, 0.03),
}
PLANS: Final = tuple(_PLAN_TABLE)

POLICYHOLDERS_SCHEMA: Final = pa.schema(
    [
        ("policy_no", pa.string()),
        ("name", pa.string()),
        ("id_no", pa.string()),
        ("mobile", pa.string()),
        ("birth_date", pa.date32()),
        ("sex", pa.string()),
        ("plan", pa.string()),
        ("annual_premium", pa.float64()),
        ("start_date", pa.date32()),
    ]
)

# --------------------------------------------------------------------------- per-patient panels

CHRONIC: Final = frozenset({"I10", "E11.9", "I25.1", "E78.5", "I63.9", "M17.9"})
"""Chronic diagnoses: hypertension, type 2 diabetes, coronary heart disease, hyperlipidaemia,
cerebral infarction, knee osteoarthritis."""

PANEL_SCHEMA: Final = pa.schema(
    [
        ("age", pa.int64()),
        ("male", pa.bool_()),
        ("visits", pa.int64()),
        ("total_cost", pa.float64()),
        ("chronic", pa.int64()),
    ]
)

# Independent streams per dataset, so equal seeds never give correlated tables.
_STREAM_VISITS: Final = 0x7615
_STREAM_INSURER: Final = 0x1A5E
_STREAM_PANEL: Final = 0x9A4E

_EPOCH_DAY: Final = np.datetime64("1970-01-01", "D")
_REF_DAY: Final = np.datetime64(REFERENCE_DATE.isoformat(), "D")


# --------------------------------------------------------------------------- helpers


def _rng(stream: int, seed: int) -> Generator:
    return default_rng([stream, seed])


def _sample_rows(rng: Generator, weights: np.ndarray) -> np.ndarray:
    """For each row of a non-negative weight matrix, draw one column index proportionally."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cum[:, -1]
    return np.asarray(np.minimum((u[:, None] >= cum).sum(axis=1), weights.shape[1] - 1), dtype=np.int64)


def _age_band(ages: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray([14, 45, 65]), ages, side="right")


def _birth_dates(rng: Generator, ages: np.ndarray) -> np.ndarray:
    """Birth dates (datetime64[D]) such that the completed age on REFERENCE_DATE equals ``ages``."""
    year = REFERENCE_DATE.year - ages
    latest = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")  # Jan 1 of ``year``
    span = (latest - (year - 1971).astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    return np.asarray(latest - rng.integers(0, span), dtype="datetime64[D]")  # Jan 2 of year-1 .. Jan 1


def _people(
    fake: Faker,
    rng: Generator,
    ages: np.ndarray,
    male: np.ndarray,
    *,
    local_share: float,
    taken: set[str],
) -> dict[str, np.ndarray | list[str]]:
    """Names, unique resident IDs, birth dates and mobiles for people of the given ages and sexes."""
    m = len(ages)
    if m == 0:  # np.char.replace() fails on empty arrays
        empty = np.asarray([], dtype=str)
        return {"name": [], "id_no": empty, "birth": np.asarray([], "datetime64[D]"), "mobile": empty}
    births = _birth_dates(rng, ages)
    local = rng.random(m) < local_share
    area = np.where(
        local,
        _LOCAL_AREA_CODES[rng.integers(0, len(_LOCAL_AREA_CODES), m)],
        _AREA_CODES[rng.integers(0, len(_AREA_CODES), m)],
    )
    prefix = np.char.add(area, np.char.replace(np.datetime_as_string(births, unit="D"), "-", ""))
    parity = np.where(male, 1, 0)
    seq = rng.integers(0, 100, m) * 10 + rng.integers(0, 5, m) * 2 + parity

    def ids_for(idx: np.ndarray) -> np.ndarray:
        first17 = np.char.add(prefix[idx], np.char.zfill(seq[idx].astype(str), 3))
        return np.char.add(first17, _check_chars(first17))

    ids = ids_for(np.arange(m))
    # Re-draw the sequence code of the (rare) people whose ID already exists.
    while True:
        seen = set(taken)
        dup = []
        for i, s in enumerate(ids.tolist()):
            if s in seen:
                dup.append(i)
            else:
                seen.add(s)
        if not dup:
            break
        d = np.asarray(dup)
        seq[d] = rng.integers(0, 100, len(d)) * 10 + rng.integers(0, 5, len(d)) * 2 + parity[d]
        ids[d] = ids_for(d)

    mobile = np.char.add(
        _MOBILE_PREFIXES[rng.choice(len(_MOBILE_PREFIXES), m, p=_MOBILE_WEIGHTS / _MOBILE_WEIGHTS.sum())],
        np.char.zfill(rng.integers(0, 10**8, m).astype(str), 8),
    )
    # zh_CN Faker's name_male()/name_female() ignore sex, so compose a (frequency-weighted) surname with a
    # sex-specific given name from Faker's zh_CN lists, drawn in bulk: per-call Faker is ~30 us a name.
    surnames = fake.random_elements(_ZhPersonProvider.last_names, length=m, use_weighting=True)
    given = np.empty(m, dtype=object)
    given[male] = fake.random_elements(_ZhPersonProvider.first_names_male, length=int(male.sum()))
    given[~male] = fake.random_elements(_ZhPersonProvider.first_names_female, length=int((~male).sum()))
    names = [s + g for s, g in zip(surnames, given.tolist(), strict=True)]
    return {"name": names, "id_no": ids, "birth": births, "mobile": mobile}


def _sex_and_birth(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode (is_male, birth date) from an array of 18-character resident IDs."""
    digits = ids.astype("S18").view(np.uint8).reshape(-1, 18).astype(np.int64) - ord("0")
    is_male = digits[:, 16] % 2 == 1
    iso = [f"{s[6:10]}-{s[10:12]}-{s[12:14]}" for s in ids.tolist()]
    return is_male, np.asarray(iso, dtype="datetime64[D]")


def _completed_age(birth: np.ndarray) -> np.ndarray:
    """Completed years of age on REFERENCE_DATE for datetime64[D] birth dates."""
    years = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    months = birth.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (birth - months.astype("datetime64[D]")).astype(np.int64) + 1
    not_yet = (month > REFERENCE_DATE.month) | ((month == REFERENCE_DATE.month) & (day > REFERENCE_DATE.day))
    return np.asarray(REFERENCE_DATE.year - years - not_yet.astype(np.int64), dtype=np.int64)


def _sex_labels(male: np.ndarray) -> pa.Array:
    return pa.array(np.where(male, "男", "女"))


def _dates(days: np.ndarray) -> pa.Array:
    """datetime64[D] -> pyarrow date32."""
    return pa.array((days - _EPOCH_DAY).astype(np.int32), type=pa.int32()).cast(pa.date32())


def _day_weights(year: int) -> np.ndarray:
    """Relative outpatient volume per day of ``year``: quiet weekends and public holidays."""
    start = np.datetime64(f"{year}-01-01", "D")
    days = np.arange(start, np.datetime64(f"{year + 1}-01-01", "D"))
    weekday = (days - np.datetime64("1970-01-05", "D")).astype(np.int64) % 7  # 0 = Monday
    w = np.asarray([1.3, 1.1, 1.05, 1.05, 1.0, 0.55, 0.4])[weekday]
    for first, last, factor in (("01-28", "02-04", 0.3), ("10-01", "10-08", 0.4), ("05-01", "05-05", 0.6)):
        lo, hi = np.datetime64(f"{year}-{first}", "D"), np.datetime64(f"{year}-{last}", "D")
        w[(days >= lo) & (days <= hi)] *= factor
    return np.asarray(w / w.sum(), dtype=np.float64)


# --------------------------------------------------------------------------- public generators


def hospital_visits(n: int, *, seed: int) -> pa.Table:
    """``n`` outpatient visits of a Hangzhou hospital in 2025 (about ``n / 2.5`` distinct patients)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return VISITS_SCHEMA.empty_table()
    rng = _rng(_STREAM_VISITS, seed)
    fake = Faker("zh_CN")
    fake.seed_instance(int(rng.integers(0, 2**62)))

    # Patients: children and the elderly dominate an outpatient clinic; women visit a little more.
    m = max(1, round(n / 2.5))
    child = rng.random(m) < 0.18
    child_age = np.floor(rng.exponential(4.0, m)).astype(np.int64)
    child_age = np.where(child_age > 13, rng.integers(0, 14, m), child_age)
    adult_age = 14 + np.floor(rng.beta(1.8, 2.2, m) * 87).astype(np.int64)
    ages = np.where(child, child_age, adult_age)
    male = rng.random(m) < np.where(ages < 14, 0.53, 0.45)
    people = _people(fake, rng, ages, male, local_share=0.75, taken=set())
    patient_no = rng.choice(90_000_000, size=m, replace=False) + 10_000_000
    patient_id = np.char.add("P", patient_no.astype(str))
    insured_patient = rng.random(m) < 0.93

    # Visits per patient: one each, the rest to "frequent flyers" (chronic, elderly, small children).
    activity = rng.gamma(0.7, 1.0, m) * (0.6 + ages / 60.0 + (ages < 6) * 0.8)
    counts = 1 + rng.multinomial(n - m, activity / activity.sum())
    pidx = np.repeat(np.arange(m), counts)

    day = rng.choice(365, size=n, p=_day_weights(REFERENCE_DATE.year))
    order = np.lexsort((rng.random(n), day))
    pidx, day = pidx[order], day[order]
    v_age, v_male = ages[pidx], male[pidx]
    band = _age_band(v_age)

    dept_w = _DEPT_BY_BAND[band]
    dept_w[v_male, _OBGYN] = 0.0
    dept = _sample_rows(rng, dept_w)

    code = np.empty(n, dtype=np.int64)
    for d, dept_name in enumerate(DEPARTMENTS):
        rows = np.flatnonzero(dept == d)
        if rows.size == 0:
            continue
        codes = [_CODE_LIST.index(c) for c, _ in _DEPT_CODES[dept_name]]
        base = np.asarray([w for _, w in _DEPT_CODES[dept_name]])
        by_band = np.asarray([_CODES[c][1] for c, _ in _DEPT_CODES[dept_name]]).T  # (4, k)
        code[rows] = np.asarray(codes)[_sample_rows(rng, base * by_band[band[rows]])]

    median, sigma = _DEPT_COST[dept, 0], _DEPT_COST[dept, 1]
    cost = median * np.exp(sigma * rng.standard_normal(n)) * np.where(v_age >= 65, 1.15, 1.0)
    cost = np.round(np.maximum(cost, 12.0), 2)
    insured = insured_patient[pidx] & (rng.random(n) > 0.04)

    width = max(7, len(str(n)))
    visit_id = np.char.add("V", np.char.zfill(np.arange(1, n + 1).astype(str), width))
    take = pa.array(pidx)
    return pa.table(
        [
            pa.array(visit_id),
            pa.array(patient_id).take(take),
            pa.array(people["name"], type=pa.string()).take(take),
            pa.array(people["id_no"]).take(take),
            _sex_labels(male).take(take),
            pa.array(ages, type=pa.int64()).take(take),
            pa.array(people["mobile"]).take(take),
            _dates(_REF_DAY + day),
            pa.array(DEPARTMENTS).take(pa.array(dept)),
            pa.array(_CODE_LIST).take(pa.array(code)),
            pa.array(_CODE_NAMES).take(pa.array(code)),
            pa.array(cost, type=pa.float64()),
            pa.array(insured, type=pa.bool_()),
        ],
        schema=VISITS_SCHEMA,
    )


def insurer_policyholders(visits: pa.Table, n: int, *, overlap: float, seed: int) -> pa.Table:
    """``n`` policy holders of an insurer; ``round(overlap * n)`` of them are patients from ``visits``.

    Shared people carry the same name, ``id_no`` and mobile as in ``visits``; the rest are new people
    whose IDs do not occur in ``visits``. Rows are shuffled.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= overlap <= 1.0:
        raise ValueError("overlap must be in [0, 1]")
    if n == 0:
        return POLICYHOLDERS_SCHEMA.empty_table()
    rng = _rng(_STREAM_INSURER, seed)
    fake = Faker("zh_CN")
    fake.seed_instance(int(rng.integers(0, 2**62)))

    visit_ids = np.asarray(visits.column("id_no").to_pylist(), dtype=str)
    _, first_row = np.unique(visit_ids, return_index=True)  # one row per patient, ordered by id_no
    k = round(overlap * n)
    if k > first_row.size:
        raise ValueError(f"overlap needs {k} shared people but visits has only {first_row.size} patients")
    shared = visits.take(pa.array(first_row[rng.choice(first_row.size, size=k, replace=False)]))
    shared_ids = np.asarray(shared.column("id_no").to_pylist(), dtype=str).reshape(-1)
    shared_male, shared_birth = _sex_and_birth(shared_ids)

    # New people: mostly working-age adults, plus children insured by their parents.
    fresh = n - k
    kid = rng.random(fresh) < 0.08
    ages = np.where(kid, rng.integers(0, 18, fresh), 18 + np.floor(rng.beta(2.2, 3.2, fresh) * 62))
    ages = ages.astype(np.int64)
    male = rng.random(fresh) < 0.49
    people = _people(fake, rng, ages, male, local_share=0.5, taken=set(visit_ids.tolist()))

    name = shared.column("name").to_pylist() + list(people["name"])
    id_no = np.concatenate([shared_ids, np.asarray(people["id_no"], dtype=str)])
    mobile = np.concatenate([np.asarray(shared.column("mobile").to_pylist(), dtype=str).reshape(-1),
                             np.asarray(people["mobile"], dtype=str)])  # fmt: skip
    birth = np.concatenate([shared_birth, np.asarray(people["birth"], dtype="datetime64[D]")])
    is_male = np.concatenate([shared_male, male])
    age = _completed_age(birth)

    plan_share = np.asarray([share for share, _, _ in _PLAN_TABLE.values()])
    plan = rng.choice(len(PLANS), size=n, p=plan_share / plan_share.sum())
    base = np.asarray([b for _, b, _ in _PLAN_TABLE.values()])[plan]
    growth = np.asarray([g for _, _, g in _PLAN_TABLE.values()])[plan]
    premium = base * np.exp(growth * np.clip(age - 30, -20, 35)) * np.exp(0.08 * rng.standard_normal(n))
    premium = np.round(premium, 2)

    lo, hi = np.datetime64("2020-01-01", "D"), np.datetime64("2025-12-31", "D")
    start = lo + rng.integers(0, (hi - lo).astype(np.int64) + 1, n)
    start = np.maximum(start, birth + np.timedelta64(28, "D"))  # insurable from 28 days old
    years = np.datetime_as_string(start, unit="Y")
    policy_no = np.char.add(
        np.char.add("BD", years),
        np.char.zfill(rng.choice(10**8, size=n, replace=False).astype(str), 8),
    )

    perm = rng.permutation(n)
    return pa.table(
        [
            pa.array(policy_no[perm]),
            pa.array([name[i] for i in perm.tolist()], type=pa.string()),
            pa.array(id_no[perm]),
            pa.array(mobile[perm]),
            _dates(birth[perm]),
            _sex_labels(is_male[perm]),
            pa.array(PLANS).take(pa.array(plan[perm])),
            pa.array(premium[perm], type=pa.float64()),
            _dates(start[perm]),
        ],
        schema=POLICYHOLDERS_SCHEMA,
    )


def patient_panel(visits: pa.Table, *, label_noise: float = 0.0, seed: int = 0) -> pa.Table:
    """One row per patient of ``visits``: age, sex, visit count, total cost and a chronic-disease label.

    ``chronic`` is 1 when any of the patient's visits has a :data:`CHRONIC` diagnosis; with
    ``label_noise`` that share of the labels is flipped (a hospital that codes the flag from billing
    items rather than diagnoses). No identifier is kept; rows are in patient-id order.
    """
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError("label_noise must be in [0, 1]")
    if visits.num_rows == 0:
        return PANEL_SCHEMA.empty_table()
    patients, first, inverse = np.unique(
        np.asarray(visits.column("patient_id").to_pylist(), dtype=str), return_index=True, return_inverse=True
    )
    n = patients.size
    count = np.bincount(inverse, minlength=n)
    cost = np.bincount(inverse, weights=visits.column("cost").to_numpy(), minlength=n)
    chronic_visit = np.isin(np.asarray(visits.column("diagnosis").to_pylist(), dtype=str), list(CHRONIC))
    chronic = np.bincount(inverse, weights=chronic_visit, minlength=n) > 0
    flip = _rng(_STREAM_PANEL, seed).random(n) < label_noise
    return pa.table(
        [
            visits.column("age").take(pa.array(first)),
            pa.array(np.asarray(visits.column("sex").to_pylist(), dtype=str)[first] == "男"),
            pa.array(count, type=pa.int64()),
            pa.array(np.round(cost, 2), type=pa.float64()),
            pa.array((chronic ^ flip).astype(np.int64)),
        ],
        schema=PANEL_SCHEMA,
    )
