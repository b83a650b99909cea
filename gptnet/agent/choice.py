"""Choosing among the models one answer offers ("Option A ... 25M", "Option B (recommended) ... 8M"): the one the
answer recommends when it fits the budget as given, else the first that does, else the recommended (or first) one
that can be scaled to fit, else the recommended (or first) one, whose errors go back to the LLM. Each is validated
once without fitting (cheap), only the one taken with it; the note says which was taken and why, and the review
can switch to another (`choose(..., pick=k)`)."""

from __future__ import annotations

import dataclasses
from typing import Union

from pydantic import BaseModel, Field

from ..parse import ParsedAnswer
from ..spec.graph import ModelSpec, ModuleSpec
from ..spec.walk import totals, walk
from ..units import format_count
from ..validators import Finding, Task, errors, validate


class Option(BaseModel):
    """One of several models an answer offers, as the choice saw it."""

    title: str = Field(description="how the answer tells it apart: Option B (SlimNet), SlimNet, model 2")
    params: Union[int, None] = Field(None, description="parameters as the answer gives it (repaired, not fitted)")
    verdict: str = Field(description="fits the budget as given, over budget, or why it cannot be used")
    recommended: Union[str, None] = Field(None, description="the answer's words recommending it")
    chosen: bool = False


def _state(findings: list[Finding]) -> str:
    problems = errors(findings)
    return "fits" if not problems else "over" if all(f.kind == "over-budget" for f in problems) else "broken"


_WHY = {"fits": ("it fits the budget as given", "the first that fits the budget as given"),
        "over": ("none fits the budget as given, and its widths are scaled to fit",
                 "none fits the budget as given; the first whose widths are scaled to fit"),
        "broken": ("none can be used as given, so it goes back to the LLM",
                   "none can be used as given; the first goes back to the LLM")}


def _rank(states: list[str], titles: list[str], recommended: list[bool]) -> tuple[int, str]:
    """The candidate to take, and why."""
    for state in ("fits", "over", "broken"):
        ks = [k for k, s in enumerate(states) if s == state]
        if not ks:
            continue
        rec = [k for k in ks if recommended[k]]
        if rec:
            return rec[0], f"the answer recommends it; {_WHY[state][0]}"
        skipped = [k for k, r in enumerate(recommended) if r]
        if not skipped:
            return ks[0], f"the answer recommends none; {_WHY[state][1]}"
        j = skipped[0]
        return ks[0], (f"the answer recommends {titles[j]}, but it "
                       f"{'is over the budget' if states[j] == 'over' else 'cannot be used'} as given; "
                       f"{_WHY[state][1]}")
    raise AssertionError("every state is ranked")


def choose(answer: ParsedAnswer, modules: dict[str, ModuleSpec], task: Task, name: str, pick: int | None = None,
           ) -> tuple[ModelSpec, ModelSpec, list[Finding], list[Option]]:
    """The candidate taken (or `pick`), as given and validated, its findings (a note on the choice first) and the
    options weighed; `name` for a candidate the answer does not name."""
    specs = [ModelSpec(name=c.name or name, layers=c.layers, modules=list(modules.values()), input=task.input,
                       num_classes=task.classes) for c in answer.models]
    if len(specs) == 1:
        return specs[0], *validate(specs[0], task), []
    as_given = dataclasses.replace(task, fit=False, fill=False)
    weighed = [validate(spec, as_given) for spec in specs]
    states = [_state(findings) for _, findings in weighed]
    recommended = [c.recommended is not None for c in answer.models]
    titles = [c.title(j) for j, c in enumerate(answer.models)]
    k, why = (pick, "the reviewer chose it") if pick is not None else _rank(states, titles, recommended)
    fixed, findings = weighed[k] if states[k] == "fits" and not task.fill else validate(specs[k], task)
    options = []
    for j, (c, (spec, found), state) in enumerate(zip(answer.models, weighed, states)):
        params = totals(walk(spec))[0] if state != "broken" else None
        verdict = {"fits": "fits the budget as given", "over": "over budget as given",
                   "broken": f"cannot be used as given: {errors(found)[0].why}" if errors(found) else ""}[state]
        options.append(Option(title=titles[j], params=params, verdict=verdict, recommended=c.recommended,
                              chosen=j == k))
    listed = "; ".join(f"{j + 1}. {o.title}: " + (f"{format_count(o.params)} params, " if o.params else "")
                       + o.verdict.split(":")[0] + (", recommended" if o.recommended else "")
                       for j, o in enumerate(options))
    note = Finding(kind="several-models", where="answer", severity="note",
                   why=f"the answer offers {len(options)} models ({listed}); took {k + 1} ({options[k].title}): {why}")
    return specs[k], fixed, [note, *findings], options
