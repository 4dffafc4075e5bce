"""Stream a large, visits-like CSV for benchmarks (about 100 bytes a row, bounded memory).

Rows are built chunk by chunk with vectorised numpy ops (fixed-width digit strings are assembled
as byte matrices and wrapped as Arrow string arrays without any per-row Python) and appended with
``pyarrow.csv.CSVWriter``. Check digits of ``id_no`` are real; nothing else is validated.

    python -m bench.datagen out.csv 10000000 [--seed 7] [--chunk-rows 200000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Benchmark data is seeded synthetic data, not privacy noise: a seeded numpy Generator is what we want.
from numpy.random import Generator, SeedSequence, default_rng  # noqa: TID251

__all__ = ["SCHEMA", "write_large_csv"]

CHUNK_ROWS: Final = 200_000

SCHEMA: Final = pa.schema(
    [
        ("visit_id", pa.string()),
        ("patient_id", pa.string()),
        ("name", pa.string()),
        ("id_no", pa.string()),
        ("sex", pa.string()),
        ("age", pa.int16()),
        ("mobile", pa.string()),
        ("visit_date", pa.date32()),
        ("department", pa.string()),
        ("diagnosis", pa.string()),
        ("cost", pa.float64()),
        ("insured", pa.bool_()),
    ]
)

_SURNAMES: Final = pa.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"))
_GIVEN: Final = pa.array(
    ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
     "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "文", "华", "红梅", "志强", "玉兰",
     "子涵", "浩然", "欣怡", "宇轩"]
)  # fmt: skip
_SEXES: Final = pa.array(["女", "男"])
_DEPARTMENTS: Final = pa.array(
    ["内科", "外科", "儿科", "妇产科", "眼科", "皮肤科", "耳鼻喉科", "口腔科", "急诊科"]
)
_DEPT_P: Final = np.asarray([30, 12, 11, 6, 8, 7, 7, 7, 12], dtype=np.float64)
# Four typical ICD-10 codes per department (same order as _DEPARTMENTS), drawn with _DIAG_P.
_DEPT_DIAGNOSES: Final = (
    ("I10", "E11.9", "J06.9", "K29.7"),
    ("M54.5", "S93.4", "M17.9", "K80.2"),
    ("J06.9", "J20.9", "A09.9", "R50.9"),
    ("N76.0", "Z34.9", "N73.9", "N95.1"),
    ("H52.1", "H10.9", "H04.1", "H25.9"),
    ("L50.9", "L20.9", "L70.0", "B35.3"),
    ("J30.4", "J02.9", "J03.9", "H66.9"),
    ("K02.9", "K05.1", "K04.0", "K08.8"),
    ("R10.4", "J06.9", "R50.9", "S93.4"),
)
_DIAGNOSES: Final = pa.array([code for codes in _DEPT_DIAGNOSES for code in codes])
_DIAG_P: Final = np.asarray([0.4, 0.3, 0.2, 0.1])
_PEDIATRICS, _OBGYN, _INTERNAL = 2, 3, 0
_DEPT_MEDIAN: Final = np.asarray([210, 320, 150, 280, 180, 130, 170, 350, 450], dtype=np.float64)
_AREAS: Final = np.asarray(
    [330102, 330105, 330106, 330108, 330109, 330110, 330122, 110105, 110108, 310104, 310115,
     320106, 440106, 440305, 510107, 420106, 610113, 370102, 350102, 430104],
    dtype=np.int64,
)  # fmt: skip
_MOBILE_PREFIXES: Final = np.asarray(
    [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 158, 159, 177, 180, 186, 188, 189, 199],
    dtype=np.int64,
)
_ID_WEIGHTS: Final = np.asarray([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)
_DAY0_2025: Final = int((np.datetime64("2025-01-01", "D") - np.datetime64("1970-01-01", "D")).astype(int))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as a (len, width) uint8 matrix of ASCII."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def _fixed_strings(chars: np.ndarray) -> pa.StringArray:
    """Wrap a (rows, width) uint8 ASCII matrix as an Arrow string array, zero-copy."""
    rows, width = chars.shape
    offsets = np.arange(0, rows * width + 1, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))


def _prefixed(prefix: bytes, values: np.ndarray, width: int) -> pa.StringArray:
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (len(values), len(prefix)))
    return _fixed_strings(np.hstack([head, _digits(values, width)]))


def _chunk(rng: Generator, start: int, rows: int) -> pa.Table:
    """Rows ``start .. start + rows - 1`` of the benchmark table."""
    age = np.minimum(np.floor(rng.gamma(2.2, 20.0, rows)), 100).astype(np.int64)
    male = rng.random(rows) < 0.47
    birth_days = _DAY0_2025 - 365 * age - rng.integers(1, 365, rows)
    birth = (birth_days.astype("datetime64[D]")).astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    months = birth.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (birth - months.astype("datetime64[D]")).astype(np.int64) + 1
    seq = rng.integers(0, 50, rows) * 20 + rng.integers(0, 5, rows) * 2 + male
    first17 = np.hstack(
        [
            _digits(_AREAS[rng.integers(0, len(_AREAS), rows)], 6),
            _digits(year * 10_000 + month * 100 + day, 8),
            _digits(seq, 3),
        ]
    )
    check = _ID_CHECK[((first17.astype(np.int64) - ord("0")) @ _ID_WEIGHTS) % 11]
    id_no = _fixed_strings(np.hstack([first17, check[:, None]]))

    mobile = _prefixed(b"", _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), rows)] * 10**8
                       + rng.integers(0, 10**8, rows), 11)  # fmt: skip
    name = pc.binary_join_element_wise(
        _SURNAMES.take(pa.array(rng.integers(0, len(_SURNAMES), rows))),
        _GIVEN.take(pa.array(rng.integers(0, len(_GIVEN), rows))),
        "",
    )
    dept = rng.choice(len(_DEPARTMENTS), size=rows, p=_DEPT_P / _DEPT_P.sum())
    # Cheap plausibility: children mostly see 儿科, adults never do, men never see 妇产科.
    dept = np.where((age < 14) & (rng.random(rows) < 0.7), _PEDIATRICS, dept)
    dept = np.where(((dept == _PEDIATRICS) & (age >= 14)) | ((dept == _OBGYN) & male), _INTERNAL, dept)
    diag = dept * 4 + rng.choice(4, size=rows, p=_DIAG_P)
    cost = np.round(_DEPT_MEDIAN[dept] * np.exp(0.8 * rng.standard_normal(rows)), 2)
    visit_day = _DAY0_2025 + rng.integers(0, 365, rows)

    return pa.table(
        [
            _prefixed(b"V", np.arange(start + 1, start + rows + 1, dtype=np.int64), 10),
            _prefixed(b"P", rng.integers(10_000_000, 100_000_000, rows), 8),
            name,
            id_no,
            _SEXES.take(pa.array(male.astype(np.int8))),
            pa.array(age.astype(np.int16)),
            mobile,
            pa.array(visit_day.astype(np.int32)).cast(pa.date32()),
            _DEPARTMENTS.take(pa.array(dept)),
            _DIAGNOSES.take(pa.array(diag)),
            pa.array(cost),
            pa.array(rng.random(rows) < 0.9),
        ],
        schema=SCHEMA,
    )


def write_large_csv(path: Path, rows: int, *, seed: int = 7, chunk_rows: int = CHUNK_ROWS) -> int:
    """Stream ``rows`` visits-like rows (plus a header) to ``path``; return the bytes written.

    Memory stays bounded by one chunk; the output is deterministic for a given ``seed`` and ``chunk_rows``.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if chunk_rows <= 0:
        raise ValueError("chunk_rows must be > 0")
    n_chunks = -(-rows // chunk_rows)
    seeds = SeedSequence(seed).spawn(n_chunks)
    # All values come from fixed vocabularies without commas, quotes or newlines: no quoting needed.
    options = pacsv.WriteOptions(include_header=True, quoting_style="none")
    with pa.OSFile(str(path), "wb") as sink:
        with pacsv.CSVWriter(sink, SCHEMA, write_options=options) as writer:
            for i, child in enumerate(seeds):
                start = i * chunk_rows
                writer.write_table(_chunk(default_rng(child), start, min(chunk_rows, rows - start)))
        return int(sink.tell())


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m bench.datagen OUT ROWS``."""
    parser = argparse.ArgumentParser(prog="python -m bench.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output CSV path")
    parser.add_argument("rows", type=int, help="number of data rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    size = write_large_csv(args.out, args.rows, seed=args.seed, chunk_rows=args.chunk_rows)
    secs = time.perf_counter() - t0
    print(f"wrote {args.rows:,} rows, {size:,} bytes ({size / 1e6:.1f} MB) to {args.out} in {secs:.1f} s")


if __name__ == "__main__":
    main()
