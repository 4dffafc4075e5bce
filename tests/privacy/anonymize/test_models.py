"""Privacy models, risk and utility on tiny tables computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataex.privacy.anonymize import risk, utility
from dataex.privacy.anonymize.models import Models, Sensitive, check_classes

# Two classes: class 0 = [a, a, b] ; class 1 = [a, b, c, c]
CLS = np.array([0, 0, 0, 1, 1, 1, 1])
VAL = np.array([0, 0, 1, 0, 1, 2, 2])
ONES = np.ones(7, dtype=np.int64)


def sens(distance: str = "equal") -> Sensitive:
    return Sensitive("s", VAL, 3, distance, np.array([0, 1, 2]) if distance == "ordered" else None)  # type: ignore[arg-type]


def test_k_and_distinct_l() -> None:
    chk = check_classes(CLS, 2, ONES, Models(k=3, l=2), [sens()])
    assert list(chk.sizes) == [3, 4] and list(chk.l_distinct) == [2, 3] and chk.ok.all()
    assert list(check_classes(CLS, 2, ONES, Models(k=4), [sens()]).ok) == [False, True]
    assert list(check_classes(CLS, 2, ONES, Models(l=3), [sens()]).ok) == [False, True]


def test_entropy_l() -> None:
    chk = check_classes(CLS, 2, ONES, Models(l=2, l_variant="entropy"), [sens()])
    h0 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))  # 0.6365 < ln 2
    h1 = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert chk.l_entropy == pytest.approx([math.exp(h0), math.exp(h1)])
    assert list(chk.ok) == [False, True]


def test_recursive_c_l() -> None:
    # class 0: r = (2, 1): (c=3, l=2): 2 < 3*1 ok; c=2: 2 < 2 fails. class 1: r = (2,1,1): 2 < c*2
    assert list(check_classes(CLS, 2, ONES, Models(l=2, l_variant="recursive", c=3), [sens()]).ok) == [
        True,
        True,
    ]
    assert list(check_classes(CLS, 2, ONES, Models(l=2, l_variant="recursive", c=2), [sens()]).ok) == [
        False,
        True,
    ]
    assert list(check_classes(CLS, 2, ONES, Models(l=3, l_variant="recursive", c=3), [sens()]).ok) == [
        False,
        True,
    ]


def test_t_closeness_equal_and_ordered() -> None:
    # overall q = (3/7, 2/7, 2/7); class 0 p = (2/3, 1/3, 0); class 1 p = (1/4, 1/4, 1/2)
    q = np.array([3, 2, 2]) / 7
    p0, p1 = np.array([2 / 3, 1 / 3, 0]), np.array([0.25, 0.25, 0.5])
    eq = check_classes(CLS, 2, ONES, Models(t=1.0), [sens()]).t
    assert eq == pytest.approx([0.5 * abs(p0 - q).sum(), 0.5 * abs(p1 - q).sum()])
    od = check_classes(CLS, 2, ONES, Models(t=1.0), [sens("ordered")]).t
    expect = [abs(np.cumsum(p - q)[:-1]).sum() / 2 for p in (p0, p1)]
    assert od == pytest.approx(expect)
    assert list(check_classes(CLS, 2, ONES, Models(t=0.25), [sens()]).ok) == [False, True]


def test_t_closeness_hierarchical() -> None:
    # values 0,1 under node A, value 2 under node B, root above: height 2
    parents = (np.array([0, 1, 2]), np.array([0, 0, 1]), np.array([0, 0, 0]))
    s = Sensitive("s", VAL, 3, "hierarchical", None, parents)
    t = check_classes(CLS, 2, ONES, Models(t=1.0), [s]).t
    q = np.array([3, 2, 2]) / 7
    p0 = np.array([2 / 3, 1 / 3, 0])
    d = p0 - q  # within A: pos=(2/3-3/7), neg=(2/7-1/3): cost 1/2*min; across: |extra(B)|
    within = min(max(d[0], 0) + max(d[1], 0), max(-d[0], 0) + max(-d[1], 0))
    across = abs(d[2])
    assert t[0] == pytest.approx(0.5 * within + 1.0 * across)


def test_risk_on_a_hand_table() -> None:
    # classes of sizes 1, 2, 3 (6 records); population sizes 2, 2, 6
    r = risk.measure(np.array([1, 2, 3]), np.array([2, 2, 6]), threshold=0.4)
    assert r["prosecutor"] == {"highest": 1.0, "average": 3 / 6, "records_at_risk": 3 / 6}
    assert r["journalist"]["highest"] == 0.5
    assert r["journalist"]["average"] == pytest.approx((1 * 0.5 + 2 * 0.5 + 3 / 6) / 6)
    assert r["marketer"] == pytest.approx((1 / 2 + 2 / 2 + 3 / 6) / 6)
    assert r["sample_uniqueness"] == pytest.approx(1 / 6)


def test_utility_on_a_hand_table() -> None:
    # values a,a,b,c generalized to x,x,x,c
    e = utility.non_uniform_entropy(np.array([0, 0, 1, 2]), np.array([0, 0, 0, 1]))
    assert e == pytest.approx(-2 * math.log2(2 / 3) - math.log2(1 / 3))
    s = utility.summary(sizes=np.array([3, 0, 2]), suppressed=1, rows=6, k=2, entropy=e, loss=0.5)
    assert s["discernibility"] == 9 + 4 + 1 * 6
    assert s["average_class_size"] == 2.5 and s["c_avg"] == 1.25 and s["classes"] == 2
