"""What a person sees of a design in the terminal: the layer table, totals against the budget, the target's
verdict and every repair. Shared by the summary after a run and the review screen."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .agent.pipeline import Design
from .report import latency_line, totals_line, verdict
from .untrusted import one_line
from .validators import Task


def show_design(console: Console, design: Design, task: Task) -> None:
    table = Table(title=f"{design.spec.name} for {task.target.name}", title_justify="left")
    for col, justify in (("#", "right"), ("layer", "left"), ("output", "left"), ("params", "right"),
                         ("MACs", "right")):
        table.add_column(col, justify=justify)
    for row in design.profile.rows:
        if "." not in row.index:
            table.add_row(row.index, row.layer, row.output, f"{row.params:,}", f"{row.macs:,}")
    console.print(table)
    console.print(f"Totals: {totals_line(design, task)}", markup=False)
    console.print(f"Target: {verdict(design, task)}", markup=False)
    console.print(f"Latency: {latency_line(design, task)}", markup=False)
    repairs = [f for f in design.findings if f.severity == "repair"]
    console.print(f"Repairs gptnet made: {len(repairs)}", markup=False)
    for f in repairs:
        console.print(f"  - {f.line()}", markup=False)
    warnings = [f for f in design.findings if f.severity == "warning"]
    if warnings:
        console.print(f"Warnings (left as written): {len(warnings)}", markup=False)
        for f in warnings:
            console.print(f"  - {f.line()}", markup=False)
    for e in design.review:
        if e.event != "accept":
            console.print(f"  * review: {e.event}" + (f": {one_line(e.text)}" if e.text else ""), markup=False)
    if design.usage:
        console.print("Tokens: " + ", ".join(f"{u['stage']} {u.get('total_tokens', 0):,}"
                                              for u in design.usage_by_stage)
                      + f"; total {design.usage.get('total_tokens', 0):,}", markup=False)
