"""The front and the choice. Hard constraints come first: the validators fit every candidate to the budget, the MACs
and the latency bound, or drop it before it is measured, so every measured candidate is within them. Among those,
the Pareto front over proxy accuracy (higher), estimated latency and params (lower); then the winner by the stated
rule."""

from __future__ import annotations

from typing import Literal, Protocol, Sequence, TypeVar

Prefer = Literal["accuracy", "latency"]
TOLERANCE = 1.0  # accuracy points: with --prefer latency, the fastest candidate this close to the best wins

RULES = {"accuracy": "the best proxy accuracy; ties go to the lower latency, then fewer params",
         "latency": f"the lowest latency among candidates within {TOLERANCE:g} point of the best proxy accuracy; "
                    "ties go to the higher accuracy, then fewer params"}


class Point(Protocol):
    accuracy: float | None
    latency_ms: float
    params: int


P = TypeVar("P", bound=Point)


def dominates(a: Point, b: Point, params: bool = True) -> bool:
    """`a` is at least as good as `b` on every axis and better on one (params left out with `params=False`)."""
    at_least = a.accuracy >= b.accuracy and a.latency_ms <= b.latency_ms and (not params or a.params <= b.params)
    better = a.accuracy > b.accuracy or a.latency_ms < b.latency_ms or (params and a.params < b.params)
    return at_least and better


def front(points: Sequence[P], params: bool = True) -> list[P]:
    """The measured points no other point dominates, in their given order."""
    measured = [p for p in points if p.accuracy is not None]
    return [p for p in measured if not any(dominates(q, p, params) for q in measured)]


def winner(points: Sequence[P], prefer: Prefer = "accuracy") -> P | None:
    measured = [p for p in points if p.accuracy is not None]
    if not measured:
        return None
    if prefer == "latency":
        best = max(p.accuracy for p in measured)
        close = [p for p in measured if p.accuracy >= best - TOLERANCE]
        return min(close, key=lambda p: (p.latency_ms, -p.accuracy, p.params))
    return min(measured, key=lambda p: (-p.accuracy, p.latency_ms, p.params))
