"""The parameter budget: an upper bound. Over it is an error naming the budget (fitting is a later step)."""

from __future__ import annotations

from ..spec.walk import totals, walk
from ..units import format_count
from .context import Repair


def check_budget(r: Repair) -> None:
    params, _ = totals(walk(r.model))
    if params > r.task.budget:
        r.add("over-budget", "model", f"{format_count(params)} parameters exceed the budget of "
              f"{format_count(r.task.budget)}", f"{params} parameters", severity="error")
