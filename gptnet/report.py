"""report.md and the terminal summary: the layer table, totals against the budget, the target's verdict and
every repair gptnet made."""

from __future__ import annotations

import re

from .agent.pipeline import Design
from .limits import SHOWN_LINE
from .units import format_count
from .untrusted import one_line
from .validators import Task


def without_training(text: str) -> str:
    """report.md without the Training section `gptnet train` puts at its end."""
    return re.sub(r"\n## Training\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip("\n")


def verdict(design: Design, task: Task) -> str:
    unsupported = [f for f in design.findings if f.kind == "unsupported-operator" and f.severity == "error"]
    if unsupported:
        return f"{task.target.name}: unsupported operators: " + "; ".join(f.where for f in unsupported)
    return f"{task.target.name}: every operator is in the target's supported set"


def totals_line(design: Design, task: Task) -> str:
    p = design.profile
    macs_224 = p.macs_224_besides()
    at224 = f", {format_count(macs_224)} MACs at 224x224" if macs_224 is not None else ""
    share = 100 * p.params / task.budget
    return (f"{format_count(p.params)} params ({p.params:,}; {share:.0f}% of the {format_count(task.budget)} "
            f"budget), {format_count(p.macs)} MACs at {'x'.join(map(str, task.input))}{at224}")


def latency_line(design: Design, task: Task) -> str:
    """Each backend's estimate, the runtime, threads and precision it is for, and how it was made: fitted to
    published measurements, scaled from a sibling chip's fit, calibrated on this machine, or a roofline."""

    backends = task.target.backends
    parts = [f"{k} {v:.2f} ms ({backends[k].label()}; {backends[k].how()})" if v is not None
             else f"{k} unknown ({backends[k].label()}; no published peak)" for k, v in design.latency_ms.items()]
    return f"{', '.join(parts)} on the {task.target.name}, batch 1"


def table_cell(text: str | None) -> str:
    """The answer's words in a table cell: inert and on one line (a newline would end the row), a pipe escaped (it
    would end the cell)."""
    return shown(text or "").replace("|", "\\|")


def shown(text: str) -> str:
    """Untrusted words (the answer's, a cassette's, a file name) in report.md, as the terminal shows them."""
    return one_line(text, SHOWN_LINE)


def render_report(design: Design, task: Task, command: str) -> str:
    spec, p = design.spec, design.profile
    lines = [f"# {spec.name}", "",
             f"Designed by gptnet for {task.target.the_title} ({task.target.name}): {task.classes} classes, input "
             f"{'x'.join(map(str, task.input))}, budget {format_count(task.budget)} parameters.", "",
             f"- Answers: {design.source}",
             f"- Totals: {totals_line(design, task)}",
             "- MACs are counted as thop counts them (`thop.profile`), from the spec; `tests/` checks they agree "
             "with thop on this model.py.",
             f"- Target: {verdict(design, task)}",
             f"- Latency: {latency_line(design, task)}",
             f"- Revisions asked of the LLM: {design.revisions}"]
    if design.usage:
        lines.append("- Tokens: " + ", ".join(f"{k} {v:,}" for k, v in design.usage.items()) + " (by stage: "
                     + "; ".join(f"{u['stage']} {u.get('total_tokens', 0):,}" for u in design.usage_by_stage) + ")")
    lines += ["", "Reproduce offline (run in this folder):", "", "```", command, "```", ""]
    if design.ops:
        o = design.ops
        lines += ["## Operators (stage ops)", "",
                  f"- The LLM named: {', '.join(o.suggested) or 'nothing recognisable'}",
                  f"- In the {task.target.name} profile too: {', '.join(o.agreed) or 'none'}",
                  f"- Named by the LLM but not in the profile (the profile decides): "
                  f"{', '.join(o.not_in_profile) or 'none'}",
                  f"- In the profile but not named: {', '.join(o.not_suggested) or 'none'}", ""]
    repairs = [f for f in design.findings if f.severity == "repair"]
    notes = [f for f in design.findings if f.severity == "note"]
    lines += ["## Repairs gptnet made", ""]
    if repairs:
        lines += ["| # | kind | where | before | after | why |", "|---|---|---|---|---|---|"]
        lines += [f"| {i} | {f.kind} | {table_cell(f.where)} | `{table_cell(f.before)}` | `{table_cell(f.after)}` | "
                  f"{table_cell(f.why)} |"
                  for i, f in enumerate(repairs, 1)]
    else:
        lines.append("None: the LLM's answer was usable as given.")
    warnings = [f for f in design.findings if f.severity == "warning"]
    if warnings:
        lines += ["", "## Warnings", "", "Left as written: usable, but likely not what was meant.", ""]
        lines += [f"- {shown(f.where)}: `{table_cell(f.before)}`: {shown(f.why)}" for f in warnings]
    if len(design.options) > 1:  # why this model and not another the answer offered
        lines += ["", "## Candidates", "", f"The answer offered {len(design.options)} models; the one marked was "
                  "taken (the Notes say why).", "",
                  "| # | model | params as given | as given | the answer says |", "|---|---|---:|---|---|"]
        lines += [f"| {k}{' (taken)' if o.chosen else ''} | {table_cell(o.title)} | "
                  f"{f'{o.params:,}' if o.params else ''} | {table_cell(o.verdict)} | {table_cell(o.recommended)} |"
                  for k, o in enumerate(design.options, 1)]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {shown(f.where)}: {shown(f.why)}" for f in notes]
    if design.review:
        lines += ["", "## Review", ""]
        for e in design.review:
            if e.event == "feedback":
                lines.append(f"- feedback sent to the LLM as a revise turn: \"{shown(e.text or '')}\"")
            elif e.event == "candidate":
                lines.append(f"- switched to model {e.candidate} of the answer ({shown(e.text or '')}) by the reviewer")
            elif e.event == "edit":
                lines += ["- edit:", "", "```diff", (e.diff or "").rstrip(), "```", ""]
            else:
                lines.append("- accepted without review (--yes)" if e.text == "--yes" else "- accepted by the reviewer")
    lines += ["", "## Layers", "", f"At the task input 1x{'x'.join(map(str, task.input))}.", "",
              "| # | layer | output | params | MACs |", "|---|---|---|---:|---:|"]
    lines += [f"| {r.index} | `{r.layer}` | {r.output} | {r.params:,} | {r.macs:,} |" for r in p.rows]
    lines += [f"| | **total** | | **{p.params:,}** | **{p.macs:,}** |", ""]
    return "\n".join(lines)
