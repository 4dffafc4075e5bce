"""Prices: what a contract's usage costs, in integer fen, and the arbitrage-free per-ε schedule.

An offer's price is ``{"amount_fen": int, "unit": "flat" | "row" | "epsilon" | "query" | "job"}``,
optionally with ``"schedule": [[ε, fen], …]`` for a per-ε price curve. Money is never a float:
ε is turned into an exact :class:`~fractions.Fraction` from its decimal text and prices round
**up to the whole fen, once per charge** (so splitting a purchase never makes it cheaper).

A per-ε schedule lists points ``(ε_i, p_i)``; the price of any ε is the piecewise-linear curve
through ``(0, 0)`` and the points, extended past the last point at the last point's unit price
``p_n/ε_n``. It is **arbitrage-free** when the curve is

* monotone non-decreasing: more ε never costs less, and
* subadditive: ``p(a + b) <= p(a) + p(b)``: two answers of ε ``a`` and ``b`` never cost less
  than one of ε ``a + b`` (query-based pricing, Koutris et al.; model-based pricing, Chen et al.).

For a piecewise-linear curve the check is exact and finite: ``g(x, y) = p(x) + p(y) - p(x + y)``
is linear on the cells cut by the lines ``x = ε_i``, ``y = ε_j``, ``x + y = ε_k``, so its minimum
is at a vertex ``(ε_i, ε_j)`` or ``(ε_i, ε_k - ε_i)``; past the last point the extension needs
``p_i/ε_i >= p_n/ε_n`` for every point. :func:`check_schedule` refuses a schedule with every
violating point named.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final

from dataex.errors import ArbitragePrice, InvalidInput

UNITS: Final = ("flat", "row", "epsilon", "query", "job")
EPSILON_SCALE: Final = 1_000_000_000
"""ε counters are integers in 1e-9 (as in dataex.contracts)."""


def exact(value: float | str | int | Decimal | Fraction, name: str = "value") -> Fraction:
    """``value`` as an exact fraction of its decimal text (``0.1`` is 1/10, not a binary float)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number; got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as e:
        raise InvalidInput(f"{name} must be a number; got {value!r}") from e
    if not number.is_finite():
        raise InvalidInput(f"{name} must be finite; got {value!r}")
    return Fraction(number)


def ceil_fen(amount: Fraction) -> int:
    """Rounds a non-negative amount of fen up to the whole fen."""
    return -((-amount.numerator) // amount.denominator)


@dataclass(frozen=True)
class Schedule:
    """A per-ε price curve through ``(0, 0)`` and ``points`` (ε ascending, fen)."""

    points: tuple[tuple[Fraction, int], ...]

    def price(self, epsilon: Fraction) -> Fraction:
        """The exact (unrounded) price of ``epsilon``."""
        if epsilon <= 0:
            return Fraction(0)
        xs = [e for e, _ in self.points]
        last_e, last_p = self.points[-1]
        if epsilon >= last_e:
            return Fraction(last_p) * epsilon / last_e
        i = bisect_left(xs, epsilon)
        x1, y1 = self.points[i]
        x0, y0 = (Fraction(0), 0) if i == 0 else self.points[i - 1]
        return y0 + (y1 - y0) * (epsilon - x0) / (x1 - x0)

    def to_json(self) -> list[list[Any]]:
        return [[_text(e), p] for e, p in self.points]


def parse_schedule(points: Sequence[Sequence[Any]]) -> Schedule:
    """Validates the shape of a schedule (ε > 0 strictly increasing, whole non-negative fen)."""
    if not points:
        raise InvalidInput("a price schedule needs at least one (epsilon, fen) point")
    parsed: list[tuple[Fraction, int]] = []
    for point in points:
        if len(point) != 2:
            raise InvalidInput(f"a schedule point is (epsilon, fen); got {point!r}")
        eps, fen = exact(point[0], "epsilon"), point[1]
        if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
            raise InvalidInput(f"a schedule price is a non-negative whole number of fen; got {fen!r}")
        if eps <= 0:
            raise InvalidInput(f"schedule epsilons must be positive; got {point[0]!r}")
        if parsed and eps <= parsed[-1][0]:
            raise InvalidInput(
                f"schedule epsilons must increase; {point[0]!r} follows {_text(parsed[-1][0])}"
            )
        parsed.append((eps, fen))
    return Schedule(tuple(parsed))


def schedule_violations(schedule: Schedule) -> list[dict[str, Any]]:
    """Every point at which the schedule allows arbitrage (empty: arbitrage-free)."""
    pts = schedule.points
    found: list[dict[str, Any]] = []
    previous: tuple[Fraction, int] = (Fraction(0), 0)
    for e, p in pts:
        if p < previous[1]:
            found.append(
                {
                    "rule": "monotone",
                    "points": [[_text(previous[0]), previous[1]], [_text(e), p]],
                    "message": f"ε {_text(e)} costs {p} fen, less than ε {_text(previous[0])} "
                    f"at {previous[1]}",
                }
            )
        previous = (e, p)
    last_e, last_p = pts[-1]
    xs = [e for e, _ in pts]
    seen: set[tuple[Fraction, Fraction]] = set()
    candidates = [(a, b) for a in xs for b in xs] + [(a, c - a) for a in xs for c in xs if c > a]
    for a, b in candidates:
        a, b = min(a, b), max(a, b)
        if (a, b) in seen or a + b > last_e:
            continue
        seen.add((a, b))
        whole, parts = schedule.price(a + b), schedule.price(a) + schedule.price(b)
        if whole > parts:
            found.append(
                {
                    "rule": "subadditive",
                    "points": [_text(a), _text(b), _text(a + b)],
                    "message": f"ε {_text(a)} + ε {_text(b)} cost {_fen(parts)} fen, "
                    f"less than ε {_text(a + b)} at {_fen(whole)} fen",
                }
            )
    for e, p in pts[:-1]:
        if Fraction(p) / e < Fraction(last_p) / last_e:
            found.append(
                {
                    "rule": "subadditive",
                    "points": [_text(e), _text(last_e)],
                    "message": f"the unit price at ε {_text(e)} ({_fen(Fraction(p) / e)} fen/ε) is below the "
                    f"last point's ({_fen(Fraction(last_p) / last_e)} fen/ε), which prices ε beyond it",
                }
            )
    return found


def check_schedule(points: Sequence[Sequence[Any]]) -> Schedule:
    """The parsed schedule, or ``ArbitragePrice`` naming every violating point."""
    schedule = parse_schedule(points)
    violations = schedule_violations(schedule)
    if violations:
        raise ArbitragePrice(
            f"the price schedule allows arbitrage at {len(violations)} point(s): {violations[0]['message']}",
            violations=violations,
        )
    return schedule


@dataclass(frozen=True)
class Usage:
    """What a charge consumed: ε as an exact fraction, counts as integers."""

    epsilon: Fraction = Fraction(0)
    queries: int = 0
    rows: int = 0
    jobs: int = 0


def usage_fen(price: dict[str, Any], usage: Usage) -> int:
    """The fen a usage costs under an offer's price; ``flat`` prices cost nothing per use.

    ``row``: amount x rows; ``query``: amount x (queries + jobs) (an L2 offer priced per query
    prices each compute job); ``job``: amount x jobs; ``epsilon``: the schedule's price of ε (or
    amount x ε) rounded up to the fen.
    """
    unit, amount = price.get("unit", "flat"), int(price.get("amount_fen", 0))
    if unit == "row":
        return amount * usage.rows
    if unit == "query":
        return amount * (usage.queries + usage.jobs)
    if unit == "job":
        return amount * usage.jobs
    if unit == "epsilon":
        if usage.epsilon <= 0:
            return 0
        points = price.get("schedule")
        if points:
            return ceil_fen(parse_schedule(points).price(usage.epsilon))
        return ceil_fen(amount * usage.epsilon)
    return 0


def flat_fen(price: dict[str, Any]) -> int:
    """The once-per-contract part of a price."""
    return int(price.get("amount_fen", 0)) if price.get("unit", "flat") == "flat" else 0


def fee_of(amount: int, fee_bps: int) -> int:
    """The exchange's fee on ``amount`` fen at ``fee_bps`` basis points, rounded down (to the provider)."""
    return amount * fee_bps // 10_000


def _text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    d = Decimal(value.numerator) / Decimal(value.denominator)
    return format(d.normalize(), "f")


def _fen(value: Fraction) -> str:
    return _text(value) if (value * 100).denominator == 1 else f"{float(value):.4f}"
