"""`gptnet search` as a library call: propose candidates round by round, drop duplicates by structural hash, measure
the rest (params, MACs, estimated latency, and a proxy accuracy from short training in worker processes), keep the
Pareto front, choose the winner, and write the search folder:

    leaderboard.md, leaderboard.json, pareto.png   what was tried, and how it did
    conversation.json                              every LLM turn (replayable with --replay)
    state.json                                     settings and measurements by hash (--resume continues)
    candidates/<hash>/model.py, spec.json          each measured candidate, as the workers imported it
    winner/                                        the winner's design folder, as `gptnet design` writes it"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from ..agent.cassette import Cassette, load_cassette, now, save_cassette
from ..agent.live import LiveLLM
from ..agent.llm import LLM, NoAnswer, ReplayLLM
from ..agent.pipeline import Designer, ReviewEvent
from ..agent.review import spec_diff
from ..design import Options, check_estimate, choose_llm, design, limits_text, make_task
from ..errors import UsageError
from ..latency import estimate
from ..output import write_atomic
from ..render import render_checked
from ..spec.walk import totals, walk
from ..units import plural
from ..untrusted import one_line
from ..validators import Task
from . import leaderboard
from .hashing import structure_hash, summary
from .leaderboard import Board, Candidate
from .pareto import RULES, Prefer, front, winner
from .progress import Progress
from .proposers import LLMProposer, OfflineProposer, Proposal, Proposer, Trial
from .proxy import Measured, Recipe, measurement, run_task, score_task, start_worker
from .state import State, open_state
from ..workers import Workers

CLASSES = {"digits": 10, "mnist5k": 10, "cifar10": 10, "cifar100": 100}  # the data sets `gptnet train` reads
STALE_ROUNDS = 3  # rounds in a row that bring no new candidate before the search stops
SHOWN_FINDING = 200  # characters of a repair kept in the leaderboard


@dataclass
class SearchOptions:
    design: Options  # the task, the LLM and the output folder, as for `gptnet design`
    data: str = "digits"
    data_dir: str = "data"
    trials: int = 16  # candidates measured, the starting design included
    per_round: int = 4  # candidates proposed per round
    workers: int = 2  # training processes
    threads: int = 1  # torch threads of each worker: the proxy accuracies depend on the count
    seed: int = 0  # the offline proposer's draws, and every proxy training
    steps: int = 150  # SGD steps of a proxy training
    subset: int = 1_000  # training images a proxy training draws from
    proxy_seeds: int = 1  # proxy trainings per candidate (seeds seed, seed+1, ...), their accuracies averaged
    prefer: Prefer = "accuracy"
    prefilter: int = 1  # propose prefilter x per_round a round, train the per_round best by a zero-cost proxy
    proposer: Literal["auto", "llm", "offline"] = "auto"
    resume: bool = False
    time_limit: float | None = None  # seconds; nothing starts that would end after it (the count then varies)
    progress: bool = False  # a live bar (for a terminal) instead of one line per candidate


@dataclass
class SearchResult:
    board: Board
    folder: Path
    winner: Path | None


def default_out(opts: Options) -> Path:
    return Path("generated") / f"search-{opts.target}-{opts.budget}"


def _check(opts: SearchOptions) -> None:
    if opts.data not in CLASSES:
        raise UsageError(f"unknown data set {opts.data!r}", f"choose one of: {', '.join(CLASSES)}")
    if opts.design.classes != CLASSES[opts.data]:
        raise UsageError(f"--classes {opts.design.classes} but {opts.data} has {CLASSES[opts.data]} classes",
                         "leave --classes out: a search designs for its data set")
    if min(opts.trials, opts.per_round, opts.workers, opts.threads, opts.steps, opts.subset, opts.prefilter,
           opts.proxy_seeds) < 1:
        raise UsageError("--trials, --per-round, --workers, --threads, --steps, --subset, --prefilter and "
                         "--proxy-seeds must be at least 1",
                         "see gptnet search --help")
    if opts.prefer not in RULES:
        raise UsageError(f"unknown --prefer {opts.prefer!r}", f"choose one of: {', '.join(RULES)}")
    if opts.proposer not in ("auto", "llm", "offline"):
        raise UsageError(f"unknown --proposer {opts.proposer!r}", "choose auto, llm or offline")


def _proposer_kind(opts: SearchOptions, llm: LLM) -> str:
    replayed = llm.cassette.meta if isinstance(llm, ReplayLLM) else {}
    if opts.proposer == "auto":  # a replayed search keeps its proposer; otherwise the LLM when there is one
        kind = replayed.get("proposer") if replayed.get("gptnet") == "search" else None
        return kind if kind in ("llm", "offline") else "llm" if opts.design.replay or isinstance(llm, LiveLLM) \
            else "offline"
    if opts.proposer == "llm" and not (opts.design.replay or isinstance(llm, LiveLLM)):
        raise UsageError("--proposer llm needs an LLM", "set OPENAI_API_KEY or --base-url, or --replay a search's "
                         "conversation.json; --proposer offline needs none")
    return opts.proposer


class _Resumed:
    """A live search resumed: the turns it recorded are answered from its conversation.json, then the live LLM
    takes over, so nothing is asked twice and the candidates before the interruption come back as they were."""

    def __init__(self, recorded: ReplayLLM, live: LLM) -> None:
        self.recorded, self.live = recorded, live
        self.model, self.description = live.model, live.description

    def ask(self, stage, messages):
        try:
            return self.recorded.ask(stage, messages)
        except NoAnswer:
            return self.live.ask(stage, messages)


def _settings(opts: SearchOptions, task: Task, kind: str, backend: str) -> dict:
    d = opts.design
    return {"budget": d.budget, "target": task.target.name, "backend": backend, "classes": task.classes,
            "input": "x".join(map(str, task.input)), "max_macs": d.max_macs, "max_latency": d.max_latency,
            "fit": d.fit, "fill": d.fill, "data": opts.data, "steps": opts.steps, "subset": opts.subset,
            "seed": opts.seed, "proxy_seeds": opts.proxy_seeds, "proxy_on": "validation", "per_round": opts.per_round,
            "prefilter": opts.prefilter, "proposer": kind, "trials": opts.trials, "workers": opts.workers,
            "threads": opts.threads, "prefer": opts.prefer, "time_limit": opts.time_limit}


class _Search:
    def __init__(self, opts: SearchOptions, task: Task, folder: Path, state: State, proposer: Proposer,
                 recipe: Recipe, backend: str, progress: Progress) -> None:
        self.opts, self.task, self.folder, self.state = opts, task, folder, state
        self.proposer, self.recipe, self.backend, self.progress = proposer, recipe, backend, progress
        self.trials: list[Trial] = []
        self.workers = Workers(opts.workers, functools.partial(start_worker, opts.threads))

    # ---- admitting proposals
    def _admit(self, p: Proposal, number: int) -> Trial:
        row = Candidate(index=len(self.trials) + 1, round=number, hash=None, origin=p.origin, parent=p.parent,
                        change=p.change, dropped=p.dropped,
                        findings=[one_line(f"{f.kind}: {f.why}", SHOWN_FINDING) for f in p.findings
                                  if f.severity == "repair"])
        trial = Trial(row, p.spec, p.original)
        if p.spec is not None:
            h = structure_hash(p.spec)
            params, macs = totals(walk(p.spec))
            latency = estimate(p.spec, self.task.target, self.backend).total_ms
            first = next((t for t in self.trials if t.row.hash == h), None)
            row.hash, row.name, row.summary = h, p.spec.name, summary(p.spec)
            row.params, row.macs, row.latency_ms = params, macs, latency
            if first is not None:  # never measured twice: the earlier one stands for both
                row.dropped = f"duplicate of {h} (candidate {first.row.index})"
        self.trials.append(trial)
        return trial

    # ---- measuring
    def _candidate_files(self, t: Trial) -> Path:
        folder = self.folder / "candidates" / t.row.hash
        source = render_checked(t.spec, {"search": f"Candidate {t.row.hash} of gptnet search {self.folder} "
                                                    f"({t.row.origin})."},
                                f"candidate {t.row.hash}'s model.py", "the search's conversation.json")
        # its folder's name is predictable: one linked elsewhere in a resumed search is refused, not written into
        write_atomic(folder / "spec.json", t.spec.model_dump_json(indent=2) + "\n", root=self.folder)
        write_atomic(folder / "model.py", source, root=self.folder)
        return folder / "model.py"

    def _record(self, t: Trial, m: Measured, cached: bool) -> None:
        if m.error and t.row.origin == "design":  # what the one-shot design cannot train on, nothing can
            raise UsageError(f"the one-shot design could not be trained: {m.error}", "check --data and --data-dir")
        t.row.accuracy, t.row.train_seconds = m.accuracy, round(m.train_seconds, 2)
        if m.error:
            t.row.dropped = f"training failed: {m.error}"
        if not cached:
            self.state.measurements[t.row.hash] = m
            self.state.save(self.folder)
        best = winner([x.row for x in self.trials if not x.row.dropped], "accuracy")
        self.progress.measured(t.row, best, cached)

    def _prefilter(self, batch: list[Trial], keep: int) -> list[Trial]:
        """The `keep` candidates of a round with the best zero-cost scores; the others are dropped untrained."""
        if len(batch) <= keep:
            return batch
        tasks = [(t.row.index, str(self._candidate_files(t)), self.recipe.model_dump()) for t in batch]
        scores = {index: reply[1] if reply else None for (index, *_), reply in self.workers.map(score_task, tasks)}
        for t in batch:
            t.row.zero_cost = None if scores[t.row.index] is None else round(scores[t.row.index], 3)
        ranked = sorted(batch, key=lambda t: (t.row.zero_cost is None, -(t.row.zero_cost or 0), t.row.index))
        for t in ranked[keep:]:
            t.row.dropped = f"zero-cost pre-filter: NASWOT score {t.row.zero_cost}, below the round's best {keep}"
        return ranked[:keep]

    def _measure(self, batch: list[Trial]) -> int:
        """Measure a round's candidates, those measured before from the state; how many were trained."""
        tasks = []
        for t in batch:
            if t.row.hash in self.state.measurements:
                self._record(t, self.state.measurements[t.row.hash], cached=True)
            else:
                tasks.append((t.row.index, str(self._candidate_files(t)), self.recipe.model_dump()))
        by_index = {t.row.index: t for t in batch}
        for (index, *_), reply in self.workers.map(run_task, tasks):
            self._record(by_index[index], measurement(reply), cached=False)
        return len(tasks)

    def measured(self) -> int:
        return sum(1 for t in self.trials if t.row.train_seconds is not None)

    # ---- the loop
    def run(self) -> None:
        started, stale, waves = time.monotonic(), 0, 0  # waves: trainings of up to `workers` candidates at once
        for number in itertools.count():  # ends: every STALE_ROUNDS rounds bring a candidate, or the search stops
            left = self.opts.trials - self.measured()
            if left <= 0:
                return
            k = min(left, self.opts.per_round)
            if waves and self.opts.time_limit:  # the last round keeps the waves that still fit
                spent = time.monotonic() - started
                k = min(k, int((self.opts.time_limit - spent) // (spent / waves)) * self.opts.workers)
                if k < 1:
                    self.progress.note(f"Another candidate would end after the time limit of "
                                       f"{self.opts.time_limit:g} s; the search ends with {self.measured()}.")
                    return
            proposals = self.proposer.propose(number, k * self.opts.prefilter if number else k, self.trials)
            if not proposals:
                self.progress.note(f"The proposer has no new candidate after {self.measured()}; the search ends.")
                return
            before = self.measured()
            batch = [t for t in (self._admit(p, number) for p in proposals) if not t.row.dropped]
            trained = self._measure(self._prefilter(batch, k) if self.opts.prefilter > 1 else batch)
            waves += -(-trained // self.opts.workers)
            stale = stale + 1 if self.measured() == before else 0
            if stale >= STALE_ROUNDS:
                self.progress.note(f"No new candidate in {STALE_ROUNDS} rounds; the search ends.")
                return

    def close(self, interrupted: bool = False) -> None:
        self.workers.close(interrupted)


def _board(search: _Search, settings: dict, answers: str) -> Board:
    rows = [t.row for t in search.trials]
    on_front = {c.index for c in front([r for r in rows if not r.dropped])}
    for r in rows:
        r.pareto = r.index in on_front
    best = winner([r for r in rows if not r.dropped], search.opts.prefer)
    return Board(settings={**settings, "answers": answers}, rule=RULES[search.opts.prefer],
                 winner=best.hash if best else None, candidates=rows)


def _title(settings: dict) -> str:
    return (f"gptnet search: {settings['target']} {settings['backend']}, budget {settings['budget']}, "
            f"{settings['data']}")


def _winner_cassette(designer: Designer, proposer: Proposer, best: Trial) -> Cassette:
    """The conversation that makes the winner with `gptnet design --replay`: the one-shot design's turns, then
    the search's change to it as a review edit (the candidate as proposed; the validators repair it again)."""
    meta = {k: v for k, v in designer.conversation.meta.items() if k in ("budget", "target", "model", "classes",
                                                                        "input", "created")}
    start, review = proposer.start, []
    if best.row.hash != structure_hash(start.spec):
        diff = spec_diff(start.spec, best.original, ("the one-shot design", f"search candidate {best.row.hash}"))
        review.append(ReviewEvent(event="edit", diff=diff, spec=best.original.model_dump(mode="json"))
                      .model_dump(exclude_none=True))
    review.append(ReviewEvent(event="accept", text="--yes").model_dump(exclude_none=True))
    return Cassette(meta={**meta, "gptnet": "design"}, turns=designer.conversation.turns[:proposer.start_turns],
                    review=review)


def _note(search: _Search, board: Board, best: Trial, proposer: Proposer) -> str:
    r = best.row
    start = next((t.row for t in search.trials if t.row.origin == "design"), None)
    how = f"from {r.parent}: {r.change}" if r.parent else "proposed by the LLM" if r.origin == "llm" else \
        "the one-shot design itself"
    versus = f"; the one-shot design: {start.accuracy:.2f}% at {start.latency_ms:.3f} ms" \
        if start is not None and start.accuracy is not None and start is not r else ""
    return "\n".join([
        "## Search", "",
        f"Found by `gptnet search` ({proposer.description}) in `{search.folder}`: candidate `{r.hash}` ({r.origin}, "
        f"round {r.round}, {how}), of {search.measured()} candidates measured; chosen by {board.rule}.",
        "",
        f"- Proxy accuracy {r.accuracy:.2f}% at {r.latency_ms:.3f} ms on the {search.backend}{versus}.",
        f"- Proxy: {search.recipe.describe()}.",
        ("- The search's change to the one-shot design is the review edit above; " if r.parent or r.origin == "llm"
         else "- ") + "`../leaderboard.md` has every candidate, `../conversation.json` the search's LLM turns.", ""])


def search(opts: SearchOptions, say: Callable[[str], None] = lambda s: None) -> SearchResult:
    """Run (or resume) a search and write its folder; the leaderboard, the folder and the winner's design folder."""
    if opts.design.classes is None:
        opts = dataclasses.replace(opts, design=dataclasses.replace(opts.design, classes=CLASSES.get(opts.data, 10)))
    _check(opts)
    d = opts.design
    task = make_task(d)
    folder = Path(d.out or default_out(d))
    backend = task.backend or task.target.default_backend
    check_estimate(task.target, backend)  # the front needs every candidate's latency
    llm = choose_llm(d, say)
    kind = _proposer_kind(opts, llm)
    settings = _settings(opts, task, kind, backend)
    state = open_state(folder, settings, opts.resume)
    recorded = load_cassette(folder / "conversation.json") if opts.resume and (folder / "conversation.json").is_file() \
        else None
    if recorded is not None and isinstance(llm, LiveLLM):
        llm = _Resumed(ReplayLLM(recorded, f"{folder}/conversation.json"), llm)
    meta = recorded.meta if recorded is not None else llm.cassette.meta if isinstance(llm, ReplayLLM) else {}
    catch_up = len(recorded.turns) if recorded is not None else 0

    def save(c) -> None:  # a resumed run writes once it has caught up with the turns recorded before
        if len(c.turns) >= catch_up:
            save_cassette(c.cassette(), folder / "conversation.json")
            if d.record:
                save_cassette(c.cassette(), d.record)

    progress = Progress(opts.trials, backend, opts.progress, say)  # its bar shows what is said while it runs
    designer = Designer(task, llm, budget_text=d.budget, max_revisions=d.max_revisions, say=progress.note,
                        on_record=save, created=str(meta.get("created", now())))
    designer.conversation.meta.update({"gptnet": "search", "proposer": kind, "data": opts.data, "seed": opts.seed})
    recipe = Recipe(data=opts.data, data_dir=opts.data_dir, input=task.input, steps=opts.steps,
                    subset=opts.subset, seed=opts.seed, seeds=opts.proxy_seeds)
    if kind == "offline":
        proposer: Proposer = OfflineProposer(designer, opts.seed, backend, opts.prefer)
    else:
        proposer = LLMProposer(designer, backend, recipe.describe(), d.max_macs, d.max_latency)
    progress.note(f"Searching for {task.target.title} ({backend}): budget {d.budget} params{limits_text(task)}, "
                  f"{task.classes} classes, input {settings['input']}, {opts.trials} candidates on {opts.data} with "
                  f"{plural(opts.workers, 'worker')} on {plural(opts.threads, 'thread')} each; proposer: "
                  f"{proposer.description}; writing {folder}/"
                  + (" (resuming)" if opts.resume else ""))
    run = _Search(opts, task, folder, state, proposer, recipe, backend, progress)
    try:
        run.run()
    except BaseException as e:  # no training outlives the search, and the bar gives the terminal back
        run.close(interrupted=True)
        progress.close()
        if not isinstance(e, KeyboardInterrupt):
            raise
        leaderboard.write(_board(run, settings, proposer.description), folder, _title(settings), backend)
        from ..train.trainer import Interrupted  # torch, only now

        raise Interrupted(f"interrupted after {run.measured()} of {opts.trials} candidates; {folder}/state.json "
                          "holds their measurements", "continue with the same command and --resume") from None
    run.close()
    progress.close()
    board = _board(run, settings, proposer.description)
    leaderboard.write(board, folder, _title(settings), backend)
    save(designer.conversation)
    winner_folder = None
    best = next((t for t in run.trials if t.row.hash == board.winner and not t.row.dropped), None)
    if best is not None:
        cassette = _winner_cassette(designer, proposer, best)
        _, winner_folder = design(dataclasses.replace(d, out=folder / "winner", replay=None, record=None, yes=True,
                                                      note=_note(run, board, best, proposer)),
                                  llm=ReplayLLM(cassette, f"the winner's conversation (gptnet search, {folder})"))
    state.finished = True
    state.save(folder)
    return SearchResult(board, folder, winner_folder)
