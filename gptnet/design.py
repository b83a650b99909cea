"""`gptnet design` as a library call: pick the LLM (live, replay, or the bundled article), run the pipeline,
render, and write the output folder. The CLI is a thin layer over `design()`."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable

from . import limits
from .agent.cassette import cassette_json, load_cassette, now, save_cassette
from .agent.live import LiveLLM
from .agent.llm import LLM, NoAnswer, ReplayLLM
from .agent.pipeline import Design, Designer, ReviewEvent
from .agent.review import replay_review
from .design_folder import existing_design, write_design
from .errors import DesignError, UsageError
from .latency import can_estimate
from .render import render_checked
from .report import render_report
from .targets import Target, load_target
from .units import format_count, parse_count, parse_input, parse_latency
from .untrusted import one_line
from .validators import Task

ARTICLE = "article.json"
BUNDLED = "the article's conversation (bundled)"  # the offline default's source


def live_log_path() -> Path:
    """Where a live run without --record keeps its conversation as it goes, so a crash loses no answer."""
    return Path(".gptnet") / "conversations" / f"{now().replace(':', '')}.json"


def article_cassette() -> Path:
    return Path(str(resources.files("gptnet.data").joinpath(ARTICLE)))


@dataclass
class Options:
    budget: str
    target: str
    classes: int | None = None  # None: the --data folder's, else 100
    input: str | None = None  # None: from the --data folder's images, else 3x32x32
    data: Path | None = None  # a folder of class subfolders of images to take classes and input from
    replay: Path | None = None
    record: Path | None = None
    model: str = "gpt-4o"
    base_url: str | None = None
    out: Path | None = None
    max_revisions: int = 2
    timeout: float = 60.0
    attempts: int = 5
    yes: bool = True  # accept without review; the CLI asks a person unless --yes
    max_macs: str | None = None  # e.g. "1.5G": MACs at the task input, an upper bound
    max_latency: str | None = None  # e.g. "15ms" or "15ms:gpu": estimated latency on a backend, an upper bound
    fill: bool = False  # scale a design far under budget up to it
    fit: bool = True  # scale a design over budget down before asking the LLM again
    note: str | None = None  # a section appended to report.md (a search says there which search found the design)


def from_data(opts: Options, say: Callable[[str], None]) -> Options:
    """`opts` with the class count and input shape of its --data folder where they were not given, and `data`
    cleared (it has been read)."""
    if opts.data is None:
        return opts
    from .train.imagefolder import task_from_folder

    classes, shape = task_from_folder(Path(opts.data), opts.classes, opts.input, say)
    return replace(opts, classes=classes, input=shape, data=None)


def check_estimate(target: Target, backend: str) -> None:
    """Refuse, before any work, a backend whose latency cannot be estimated (no fit, calibration or published peak):
    a limit on it could never be checked, and a search could not place its candidates."""
    if not can_estimate(target, backend):
        raise UsageError(f"no latency estimate for {target.name}'s {backend}: no published peak",
                         "name another backend, e.g. --max-latency 15ms:cpu")


def make_task(opts: Options) -> Task:
    classes = 100 if opts.classes is None else opts.classes
    if not 1 <= classes <= limits.MAX_CHANNELS:
        raise UsageError(f"invalid --classes {classes}",
                         f"give a class count from 1 to {limits.MAX_CHANNELS:,}, e.g. --classes 100")
    target = load_target(opts.target)
    latency, backend = parse_latency(opts.max_latency) if opts.max_latency else (None, None)
    if backend and backend not in target.backends:
        raise UsageError(f"{target.name} has no backend {backend!r}", f"choose one of: {', '.join(target.backends)}")
    if latency:
        check_estimate(target, backend or target.default_backend)
    return Task(budget=parse_count(opts.budget), classes=classes,
                input=parse_input("3x32x32" if opts.input is None else opts.input), target=target, fill=opts.fill,
                fit=opts.fit, max_latency_ms=latency, backend=backend,
                max_macs=parse_count(opts.max_macs, "--max-macs") if opts.max_macs else None)


def limits_text(task: Task) -> str:
    """The limits besides the parameter budget, as the run's first line says them: `, at most 1G MACs, ...`."""
    macs = f", at most {format_count(task.max_macs)} MACs" if task.max_macs else ""
    latency = f", at most {task.max_latency_ms:g} ms on {task.backend or task.target.default_backend}" \
        if task.max_latency_ms else ""
    return macs + latency


def choose_llm(opts: Options, say: Callable[[str], None]) -> LLM:
    base_url = opts.base_url or os.environ.get("OPENAI_BASE_URL")
    key = os.environ.get("OPENAI_API_KEY")
    if opts.replay and opts.record:
        raise UsageError("--replay and --record exclude each other", "replay a cassette, or record a live run")
    if opts.replay:
        return ReplayLLM(load_cassette(opts.replay), str(opts.replay))
    if key or base_url:
        return LiveLLM(opts.model, base_url, key, timeout=opts.timeout, attempts=opts.attempts, say=say)
    if opts.record:
        raise UsageError("--record needs a live LLM", "set OPENAI_API_KEY, or pass --base-url for a local server")
    say("No LLM configured (OPENAI_API_KEY, OPENAI_BASE_URL or --base-url): replaying the article's conversation.")
    return ReplayLLM(load_cassette(article_cassette()), BUNDLED)


def command_line(opts: Options, task: Task) -> str:
    """The command that, run in the output folder, replays this run into it (relative, so the folder can move)."""
    parts = ["gptnet", "design", "--budget", opts.budget, "--target", task.target.name, "--classes",
             str(task.classes), "--input", "x".join(map(str, task.input)), "--replay", "conversation.json",
             "--yes", "--out", "."]
    return shlex.join(parts)


def _settings_differ(cassette_meta: dict, opts: Options, task: Task, say: Callable[[str], None], source: str) -> None:
    """A cassette replays as recorded, whatever this run asks: say where the two disagree."""
    asked = {"budget": opts.budget, "target": task.target.name, "classes": str(task.classes),
             "input": "x".join(map(str, task.input))}
    differ = [k for k in asked if k in cassette_meta and str(cassette_meta[k]) != asked[k]]
    if differ:
        recorded = ", ".join(f"{k} {one_line(str(cassette_meta[k]), 60)}" for k in differ)
        say(f"Note: {source} was recorded for {recorded}"
            + "; this run asks for " + ", ".join(f"{k} {asked[k]}" for k in differ)
            + ". Its answers are replayed as recorded; gptnet's repairs fit them to this run.")


Reviewer = Callable[[Designer, Design, Task], Design]


def design(opts: Options, say: Callable[[str], None] = lambda s: None,
           reviewer: Reviewer | None = None, llm: LLM | None = None) -> tuple[Design, Path]:
    """Run a design, let `reviewer` steer it unless `opts.yes`, and write its folder; the design and the folder.
    `llm` answers instead of the one the options choose (a search replays its winner's conversation from memory)."""
    if not opts.yes and reviewer is None:
        raise UsageError("no one to review the design", "pass --yes to accept it without review")
    opts = from_data(opts, say)
    task = make_task(opts)
    if opts.out:
        existing_design(opts.out)  # refuse a file or a folder gptnet did not write before asking the LLM anything
    llm = llm or choose_llm(opts, say)
    say(f"Designing for {task.target.title}: budget {format_count(task.budget)} params{limits_text(task)}, "
        f"{task.classes} classes, input {'x'.join(map(str, task.input))} ({llm.description}).")
    record = opts.record or (live_log_path() if isinstance(llm, LiveLLM) else None)
    if record:
        say(f"Recording the conversation to {record} as it goes.")
    replayed = llm.cassette.meta if isinstance(llm, ReplayLLM) else {}
    if replayed:
        _settings_differ(replayed, opts, task, say, llm.description.removeprefix("replaying "))
    # a replay is the same conversation: it keeps its date, so replaying reproduces conversation.json byte for byte
    designer = Designer(task, llm, budget_text=opts.budget, max_revisions=opts.max_revisions, say=say,
                        on_record=(lambda c: save_cassette(c.cassette(), record)) if record else None,
                        created=str(replayed["created"]) if "created" in replayed else None)
    try:
        result = designer.start()
    except DesignError as e:
        if getattr(llm, "source", None) == BUNDLED and isinstance(e.__context__, NoAnswer):
            # the user has no cassette to add a turn to: what they can change is the run
            e.hint = ("the bundled article's answers have no revision: raise the budget the error names, or run "
                      "against a live LLM (set OPENAI_API_KEY, or --base-url for a local server)")
        raise
    if isinstance(llm, ReplayLLM) and llm.cassette.review:
        result = replay_review(designer, result, llm.cassette.review, say)
    if not opts.yes:
        result = reviewer(designer, result, task)
    accept = ReviewEvent(event="accept", text="--yes" if opts.yes else None)
    designer.conversation.add_review(accept.model_dump(exclude_none=True))
    result = result.model_copy(update={"review": [*result.review, accept]})
    conversation = designer.conversation
    out = opts.out or Path("generated") / result.spec.folder_name
    cassette = conversation.cassette()
    at224 = result.profile.macs_224_besides()
    header = {"params": f"Params: {result.profile.params:,}; MACs: {result.profile.macs:,} at "
                        f"{'x'.join(map(str, task.input))}" + (f", {at224:,} at 224x224" if at224 is not None
                                                               else "") + ".",
              "target": f"Target: {task.target.title} ({task.target.name}); budget {format_count(task.budget)}.",
              "redo": "Regenerate (in this folder): " + command_line(opts, task)}
    source = render_checked(result.spec, header, "the rendered model.py", "the cassette of this run")
    files = {
        "model.py": source,
        "spec.json": result.spec.model_dump_json(indent=2) + "\n",
        "conversation.json": cassette_json(cassette),
        "report.md": render_report(result, task, command_line(opts, task)) + (f"\n{opts.note}" if opts.note else ""),
    }
    write_design(out, files, say)
    return result, out
