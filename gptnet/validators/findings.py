"""Findings: what a validator saw, where, what it changed and why. They serialize to JSON and fill the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from pydantic import BaseModel, Field

from ..targets import Target
from ..limits import SHOWN_LINE
from ..untrusted import one_line


class Finding(BaseModel):
    kind: str = Field(description="what class of problem, e.g. missing-argument, undefined-module")
    where: str = Field(description="the layer or module concerned")
    before: Union[str, None] = Field(None, description="the spec as the LLM gave it")
    after: Union[str, None] = Field(None, description="the spec after gptnet's repair; empty when not repaired")
    why: str = Field(description="the reason, in one sentence")
    severity: Literal["repair", "error", "warning", "note"] = Field(
        "repair", description="repair: gptnet fixed it; error: needs the LLM or the user; warning: usable, but "
                              "likely not what was meant, left as written; note: for information")

    def line(self) -> str:
        """The finding as the terminal shows it: inert, on one line (it quotes the answer and file names)."""
        change = f": {self.before} -> {self.after}" if self.before and self.after else (
            f": {self.before}" if self.before else "")
        return one_line(f"[{self.kind}] {self.where}{change} ({self.why})", SHOWN_LINE)


@dataclass(frozen=True)
class Task:
    """What the model is for: the user's budget, class count, input shape and target."""

    budget: int
    classes: int
    input: tuple[int, int, int]
    target: Target
    max_macs: int | None = None  # MACs at the task input, an upper bound like the parameter budget
    max_latency_ms: float | None = None  # estimated latency at batch 1 on `backend`, an upper bound
    backend: str | None = None  # the target backend `max_latency_ms` refers to; None: the target's default
    fill: bool = False  # scale a design far under budget up to it
    fit: bool = True  # scale channel widths to meet the budgets before calling the model over budget
