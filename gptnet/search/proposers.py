"""Proposers behind one seam: each round, `propose(round, k, trials)` gives up to k new candidates, having seen every
earlier one with its measurements. Round 0 starts from the one-shot design (`Designer.start`, as `design` makes it).

- `LLMProposer` asks the LLM, one question per candidate (stage model, a conversation of its own): the design
  question, the history of the search so far and what this round already proposed. Each answer is parsed,
  repaired and fitted as `design` does (`Designer.propose`).
- `OfflineProposer` needs no LLM: seeded mutations of the candidates on the Pareto front, each validated as an
  answer would be; half the draws take the current winner by the search's rule as the parent (refining what
  `--prefer` asks for), half any candidate on the front (keeping the front's spread). The mutations that slim a
  model pick its costliest layers on the search's backend. Its proposals depend only on the seed, the round and
  the measurements before it.

Either way, every candidate is a spec the validators passed; the renderer makes its model.py."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from ..agent.llm import NoAnswer
from ..agent.pipeline import Design, Designer
from ..errors import DesignError
from ..prompts import layer_catalog, render_prompt
from ..spec.graph import ModelSpec
from ..units import format_count
from ..validators import Finding, Task, errors, validate
from .hashing import structure_hash, summary
from .leaderboard import Candidate
from .mutations import BY_COST, MUTATIONS, costs
from .pareto import Prefer, front, winner

ATTEMPTS = 200  # draws of (parent, mutations) for one new candidate before the offline proposer gives up on it
STEPS = (1, 1, 2, 3)  # mutations in one child, drawn from these: mostly one, sometimes a longer jump
SHOWN_FINDINGS = 3  # repairs per candidate in the LLM's history


@dataclass
class Proposal:
    origin: str
    spec: ModelSpec | None = None  # as validated and repaired
    original: ModelSpec | None = None  # as proposed: the LLM's answer, or the mutant before validation
    findings: list[Finding] = field(default_factory=list)
    parent: str | None = None
    change: str | None = None
    dropped: str | None = None


@dataclass
class Trial:
    """A candidate of the search: its leaderboard row and its specs."""

    row: Candidate
    spec: ModelSpec | None = None
    original: ModelSpec | None = None


class Proposer(Protocol):
    description: str
    start: Design | None  # the one-shot design the search started from, once round 0 made it
    start_turns: int  # the conversation's turns that made it

    def propose(self, round: int, k: int, trials: list[Trial]) -> list[Proposal]: ...


def _from_design(d: Design, origin: str) -> Proposal:
    return Proposal(origin=origin, spec=d.spec, original=d.original, findings=d.findings)


def _measured(trials: list[Trial]) -> list[Trial]:
    return [t for t in trials if t.row.measured]


class OfflineProposer:
    description = "offline: seeded mutations of the Pareto front"

    def __init__(self, designer: Designer, seed: int, backend: str, prefer: Prefer = "accuracy") -> None:
        self.designer, self.seed, self.backend, self.prefer = designer, seed, backend, prefer
        self.start: Design | None = None
        self.start_turns = 0

    def _step(self, spec: ModelSpec, rng: random.Random):
        """One mutation of a validated spec: (as mutated, validated, findings, kind, change), or None."""
        name = rng.choice(list(MUTATIONS))
        cost = costs(spec, self.designer.task.target, self.backend) if name in BY_COST else None
        made = MUTATIONS[name](spec, rng, cost)
        if made is None:
            return None
        mutant, change = made
        try:  # read back as any spec is, so the grammar and limits hold for it too; the head is found again
            mutant = ModelSpec.model_validate({**mutant.model_dump(mode="json"), "head": None})
        except ValidationError:
            return None
        fixed, findings = validate(mutant, self.designer.task)
        return None if errors(findings) else (mutant, fixed, findings, name, change)

    def _mutant(self, rng: random.Random, parents: list[Trial], weights: list[int], seen: set[str]
                ) -> Proposal | None:
        for _ in range(ATTEMPTS):
            parent = rng.choices(parents, weights)[0]
            spec, steps = parent.spec, []
            for _ in range(rng.choice(STEPS)):
                step = self._step(spec, rng)
                if step is None:
                    break
                steps.append(step)
                spec = step[1]
            if not steps or (h := structure_hash(spec)) in seen:
                continue
            seen.add(h)
            # the recorded edit replays the last step from the one before it, validated, as the search made it
            mutant, fixed, findings = steps[-1][:3]
            return Proposal(origin="mutation:" + "+".join(s[3] for s in steps), spec=fixed, original=mutant,
                            findings=findings, parent=parent.row.hash, change="; ".join(s[4] for s in steps))
        return None

    def propose(self, round: int, k: int, trials: list[Trial]) -> list[Proposal]:
        seen = {t.row.hash for t in trials if t.row.hash}
        out: list[Proposal] = []
        if round == 0:
            self.start = self.designer.start()
            self.start_turns = len(self.designer.conversation.turns)
            out.append(_from_design(self.start, "design"))
            seen.add(structure_hash(self.start.spec))
            parents = [Trial(Candidate(index=0, round=0, hash=structure_hash(self.start.spec), origin="design"),
                             self.start.spec)]
        else:
            on_front = {c.hash for c in front([t.row for t in _measured(trials)])}
            parents = [t for t in _measured(trials) if t.row.hash in on_front]
        best = winner([t.row for t in parents], self.prefer)
        weights = [max(1, len(parents) - 1) if t.row is best else 1 for t in parents]  # the winner: half the draws
        for slot in range(len(out), k):
            if not parents:
                break
            # a string seed: the same draws in every process, whatever PYTHONHASHSEED is
            proposal = self._mutant(random.Random(f"{self.seed}:{round}:{slot}"), parents, weights, seen)
            if proposal is not None:
                out.append(proposal)
        return out


def history_line(c: Candidate, backend: str) -> str:
    head = f"{c.hash or 'unreadable'} ({c.origin}, round {c.round})"
    if c.summary is None:
        return f"{head}: dropped: {c.dropped}"
    cost = (f"{format_count(c.params)} params, {format_count(c.macs)} MACs, {c.latency_ms:.3f} ms on the {backend}"
            if c.params is not None else "")
    result = f"proxy accuracy {c.accuracy:.2f}%" if c.accuracy is not None else f"dropped: {c.dropped}"
    repaired = f"; gptnet repaired: {'; '.join(c.findings[:SHOWN_FINDINGS])}" if c.findings else ""
    return f"{head}: {c.summary}; {cost}; {result}{repaired}"


class LLMProposer:
    def __init__(self, designer: Designer, backend: str, recipe: str, max_macs: str | None,
                 max_latency: str | None) -> None:
        self.designer, self.backend, self.recipe = designer, backend, recipe
        self.max_macs, self.max_latency = max_macs, max_latency
        self.description = f"LLM ({designer.llm.description})"
        self.start: Design | None = None
        self.start_turns = 0

    def _prompt(self, round: int, slot: int, k: int, trials: list[Trial], pending: list[Proposal]) -> str:
        t: Task = self.designer.task
        ranked = sorted(trials, key=lambda x: (x.row.accuracy is None, -(x.row.accuracy or 0), x.row.index))
        return render_prompt(
            "search", budget=format_count(t.budget), target=t.target, classes=t.classes, input=t.input,
            kinds=layer_catalog(t.target), round=round, slot=slot, k=k, backend=self.backend, recipe=self.recipe,
            max_macs=self.max_macs, max_latency=self.max_latency,
            history=[history_line(x.row, self.backend) for x in ranked],
            pending=[summary(p.spec) if p.spec else f"(dropped: {p.dropped})" for p in pending])

    def propose(self, round: int, k: int, trials: list[Trial]) -> list[Proposal]:
        if round == 0:  # the search starts from the one-shot design; without one it stops, as design does
            self.start = self.designer.start()
            self.start_turns = len(self.designer.conversation.turns)
            return [_from_design(self.start, "design")]
        out: list[Proposal] = []
        for slot in range(1, k + 1):
            try:
                out.append(_from_design(self.designer.propose(self._prompt(round, slot, k, trials, out)), "llm"))
            except NoAnswer:  # a replayed conversation that ends here: the search ends with it
                break
            except DesignError as e:
                out.append(Proposal(origin="llm", dropped=e.message))
        return out
