"""The `gptnet` command line: a thin layer over the library. Errors are one line plus a hint, with the exit codes
of DESIGN.md (1: no valid model, 2: bad usage); `--debug` shows the traceback."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import litert_env
from .errors import GptnetError, Stopped, unexpected
from .limits import SHOWN_LINE
from .untrusted import one_line

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Let an LLM design a neural network for a phone chip; check, repair, render and profile it.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# optional imports -> the extra that installs them (pyproject.toml)
EXTRAS = {"torchvision": "train", "matplotlib": "train", "sklearn": "train", "mlxtend": "train", "PIL": "train",
          "onnx": "export", "onnxruntime": "export", "onnxscript": "export"}


def _friendly(fn):
    """Turn a GptnetError into one line and a hint on stderr, and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Stopped as e:  # the user's choice, not an error
            err.print(e.message, markup=False)
            raise typer.Exit(e.exit_code) from None
        except GptnetError as e:
            if debug:
                raise
            _fail(e.message, e.hint, e.exit_code)
        except KeyboardInterrupt:
            err.print("gptnet: interrupted; nothing was written", markup=False)
            raise typer.Exit(130) from None
        except ModuleNotFoundError as e:  # an optional extra this command needs is not installed
            extra = EXTRAS.get((e.name or "").split(".")[0])
            if extra is None or debug:
                raise
            _fail(f"this command needs {e.name}, which is not installed",
                  f'pip install "gptnet[{extra}]" (in a clone: pip install -e ".[{extra}]")', 2)
        except Exception as e:  # the net under every command: one line, never a traceback without --debug
            if debug:
                raise
            message, hint, code = unexpected(e)
            _fail(message, hint, code)

    return wrapper


def _exit_with(code: int | None) -> None:
    """End with the exit code a command handed on to a subprocess returned (None: it ran here)."""
    if code:
        raise typer.Exit(code)


def _fail(message: str, hint: str, code: int) -> None:
    # a message quotes server bodies, file names and answers: printed inert whatever the code that raised it did
    err.print(f"[red]gptnet: error:[/red] {escape(one_line(message, SHOWN_LINE))}", markup=True)
    if hint:
        err.print(f"hint: {one_line(hint, SHOWN_LINE)}", markup=False)
    raise typer.Exit(code) from None


def _say(text: str) -> None:
    """A progress line of a command on stderr, inert and on one line as an error is (it names files, classes and
    stages, and quotes cassettes), its indentation kept."""
    err.print(text[:len(text) - len(text.lstrip(" "))] + one_line(text, SHOWN_LINE), markup=False)


@app.callback()
def _group() -> None:
    """Let an LLM design a neural network for a phone chip; check, repair, render and profile it."""


@app.command()
def design(
    budget: str = typer.Option(..., help="parameter budget, an upper bound: 10M, 2.5M, 500K, 1200000"),
    target: str = typer.Option(..., help="target chip profile, e.g. sd855"),
    classes: Optional[int] = typer.Option(None, min=1, help="number of classes [100, or --data's]"),
    input: Optional[str] = typer.Option(None, "--input", help="input shape CxHxW [3x32x32, or from --data's images]"),
    data: Optional[Path] = typer.Option(None, "--data", help="a folder of your images, a subfolder per class: take "
                                        "--classes and --input from it"),
    replay: Optional[Path] = typer.Option(None, help="answer every LLM request from this cassette"),
    record: Optional[Path] = typer.Option(None, help="talk to the live LLM and write the cassette here"),
    model: str = typer.Option("gpt-4o", help="LLM model name (live runs)"),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server URL (vLLM, llama.cpp, Ollama)"),
    max_macs: Optional[str] = typer.Option(None, help="MACs at the task input, an upper bound: 1.5G, 300M"),
    max_latency: Optional[str] = typer.Option(None, help="estimated latency at batch 1, an upper bound: 2ms (the "
                                              "target's default backend) or 2ms:gpu"),
    fill: bool = typer.Option(False, "--fill", help="scale a design far under budget up to 90-100% of it"),
    fit: bool = typer.Option(True, "--fit/--no-fit", help="scale channel widths of a design over budget before "
                             "asking the LLM again (--no-fit: ask the LLM)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="accept every review step without asking"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="output folder (default generated/<model name>)"),
    max_revisions: int = typer.Option(2, min=0, help="rounds of 'revise' questions to the LLM at most"),
    timeout: float = typer.Option(60.0, min=0.1, help="seconds to wait for one LLM answer (live runs)"),
    retries: int = typer.Option(5, min=1, help="attempts per LLM request on transport faults (live runs)"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON on stdout"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    """Ask the LLM for a model within budget for the target, repair it, and write model.py, spec.json,
    conversation.json and report.md."""
    _friendly(_design)(budget, target, classes, input, replay, record, model, base_url, out_dir, max_revisions,
                       timeout, retries, yes, json_out, max_macs, fill, fit, max_latency, data, debug=debug)


def _getkey() -> str:
    """One key press, without Enter (cbreak mode keeps Ctrl-C working)."""
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal: a line will do
        return input()[:1]
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        return sys.stdin.read(1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _review(designer, design, task):
    from .agent.review import Review
    from .screen import show_design

    return Review(designer, task, out, lambda d: show_design(out, d, task), _getkey,
                  lambda prompt: out.input(prompt, markup=False)).run(design)


def _design(budget, target, classes, input, replay, record, model, base_url, out_dir, max_revisions, timeout,
            retries, yes, json_out, max_macs, fill, fit, max_latency, data):
    from .design import Options, from_data, make_task
    from .design import design as run
    from .errors import UsageError
    from .screen import show_design

    if not yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so the design cannot be reviewed",
                         "pass --yes to accept it without review")
    opts = Options(budget=budget, target=target, classes=classes, input=input, replay=replay, record=record,
                   model=model, base_url=base_url, out=out_dir, max_revisions=max_revisions, timeout=timeout,
                   attempts=retries, yes=yes, max_macs=max_macs, fill=fill, fit=fit,
                   max_latency=max_latency, data=data)
    opts = from_data(opts, say=_say)  # before make_task below needs its answers
    result, folder = run(opts, say=_say, reviewer=None if yes else _review)
    if json_out:
        out.print_json(result.model_dump_json())
        return
    if yes:
        show_design(out, result, make_task(opts))
    out.print(f"Wrote {folder}/ (model.py, spec.json, conversation.json, report.md)", markup=False)


@app.command()
def search(
    budget: str = typer.Option(..., help="parameter budget, an upper bound: 10M, 2.5M, 500K, 1200000"),
    target: str = typer.Option(..., help="target chip profile, e.g. sd855"),
    data: str = typer.Option("digits", "--data", help="data set of the proxy training: digits, mnist5k, cifar10 or "
                             "cifar100"),
    trials: int = typer.Option(16, min=1, help="candidates to measure, the one-shot design included"),
    classes: Optional[int] = typer.Option(None, min=1, help="number of classes [the data set's]"),
    input: str = typer.Option("3x32x32", "--input", help="input shape CxHxW"),
    max_macs: Optional[str] = typer.Option(None, help="MACs at the task input, an upper bound: 1.5G, 300M"),
    max_latency: Optional[str] = typer.Option(None, help="estimated latency at batch 1, an upper bound: 2ms (the "
                                              "target's default backend) or 2ms:gpu, the backend the search estimates on"),
    fit: bool = typer.Option(True, "--fit/--no-fit", help="scale the widths of a candidate over budget (--no-fit: "
                             "drop it)"),
    proposer: str = typer.Option("auto", help="llm, offline (seeded mutations, no LLM), or auto: the LLM when one "
                                 "is configured or --replay given"),
    per_round: int = typer.Option(4, min=1, help="candidates trained per round"),
    prefilter: int = typer.Option(1, min=1, help="propose this many times --per-round candidates each round and "
                                  "train the best by a zero-cost proxy (NASWOT) [1: no pre-filter]"),
    workers: int = typer.Option(2, min=1, help="training processes"),
    threads: int = typer.Option(1, help="torch CPU threads of each worker [1: the workers are the parallelism, and a "
                                "proxy accuracy repeats only on the same count]"),
    steps: int = typer.Option(150, min=1, help="SGD steps of each proxy training"),
    subset: int = typer.Option(1000, min=1, help="training images each proxy training draws from"),
    seed: int = typer.Option(0, help="seed of the offline proposer and of every proxy training"),
    proxy_seeds: int = typer.Option(1, min=1, help="proxy trainings per candidate, their accuracies averaged (one "
                                    "short training moves by a point or more between seeds; N costs N times)"),
    prefer: str = typer.Option("accuracy", help="the winner: accuracy (the best proxy accuracy) or latency (the "
                               "fastest within 1 point of the best)"),
    time_limit: Optional[float] = typer.Option(None, min=1, help="seconds; no candidate starts that would end after "
                                               "them (the last round may be smaller)"),
    data_dir: Path = typer.Option(Path("data"), help="folder holding the CIFAR files"),
    replay: Optional[Path] = typer.Option(None, help="answer every LLM request from this cassette (a search's "
                                          "conversation.json replays the search)"),
    record: Optional[Path] = typer.Option(None, help="talk to the live LLM and write the cassette here too"),
    model: str = typer.Option("gpt-4o", help="LLM model name (live runs)"),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server URL (vLLM, llama.cpp, Ollama)"),
    max_revisions: int = typer.Option(2, min=0, help="rounds of 'revise' questions for the one-shot design"),
    timeout: float = typer.Option(60.0, min=0.1, help="seconds to wait for one LLM answer (live runs)"),
    retries: int = typer.Option(5, min=1, help="attempts per LLM request on transport faults (live runs)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="search folder [generated/search-TARGET-BUDGET]"),
    resume: bool = typer.Option(False, "--resume", help="continue the search in the output folder"),
    debug: Debug = False,
) -> None:
    """Search for the best design: propose candidates (LLM or offline mutations), measure each (params, MACs,
    estimated latency, proxy accuracy from short training), keep the Pareto front, and write the winner's design
    folder with a leaderboard and a plot."""

    def run():
        from .design import Options
        from .search import SearchOptions
        from .search import search as run_search
        from .threads import check_threads

        opts = SearchOptions(
            design=Options(budget=budget, target=target, classes=classes, input=input, replay=replay, record=record,
                           model=model, base_url=base_url, out=out_dir, max_revisions=max_revisions, timeout=timeout,
                           attempts=retries, max_macs=max_macs, max_latency=max_latency, fit=fit),
            data=data, data_dir=str(data_dir), trials=trials, per_round=per_round, workers=workers,
            threads=check_threads(threads), seed=seed,
            steps=steps, subset=subset, proxy_seeds=proxy_seeds, prefer=prefer, prefilter=prefilter, proposer=proposer,
            resume=resume, time_limit=time_limit, progress=sys.stderr.isatty())
        result = run_search(opts, say=_say)
        out.print(f"Wrote {result.folder}/ (leaderboard.md, leaderboard.json, pareto.png, conversation.json, "
                  "state.json, candidates/)", markup=False)
        if result.winner:
            best = next(c for c in result.board.candidates if c.hash == result.board.winner)
            out.print(f"Winner {best.hash} ({best.origin}): proxy accuracy {best.accuracy:.2f}%, "
                      f"{best.latency_ms:.3f} ms on {result.board.settings['backend']}, {best.params:,} params; "
                      f"its design folder: {result.winner}/", markup=False)

    _friendly(run)(debug=debug)


targets_app = typer.Typer(help="Target chips: operators their runtimes run well, and their hardware figures.",
                          invoke_without_command=True, no_args_is_help=False)
app.add_typer(targets_app, name="targets")


@targets_app.callback()
def targets_list(ctx: typer.Context) -> None:
    """List the target profiles."""
    if ctx.invoked_subcommand:
        return
    from .targets import available, load_target

    for name in available():
        t = load_target(name)
        backends = ", ".join(f"{k}: {b.runtime or b.processor or b.title.split(':')[0]}" for k, b in t.backends.items())
        out.print(f"{name:8} {t.title} ({backends})", markup=False)


@targets_app.command("show")
def targets_show(name: str = typer.Argument(..., help="a target name, e.g. sd855"), debug: Debug = False) -> None:
    """Print one target profile: backends, peak compute, bandwidth, operators, and the sources of every figure."""

    def run():
        from .targets import load_target

        t = load_target(name)
        sources: dict[str, int] = {}

        def cite(source: str) -> str:  # each source once, at the end; figures carry its number
            return f"[{sources.setdefault(source, len(sources) + 1)}]" if source else ""

        out.print(f"{t.name}: {t.title} (default backend: {t.default_backend})", markup=False)
        if t.memory_bandwidth:
            out.print(f"  memory bandwidth: {t.memory_bandwidth.value} {t.memory_bandwidth.unit}"
                      f"  {cite(t.memory_bandwidth.source)}", markup=False)
        for key, b in t.backends.items():
            out.print(f"  {key}: {b.label()}  ({b.title})", markup=False)
            for precision, f in b.peak_gflops.items():
                value = "unknown" if f.value is None else f"{f.value:g} {f.unit}"
                out.print(f"    peak {precision}: {value}  {cite(f.source)}", markup=False)
            out.print(f"    runs well: {', '.join(b.operators)}", markup=False)
            for op, why in b.slow.items():
                out.print(f"    slow: {op}: {why}", markup=False)
            out.print(f"    latency: {b.estimated_by()}", markup=False)
        out.print(f"  operators gptnet designs with: {', '.join(t.operators)}", markup=False)
        for note in t.notes:
            out.print(f"  note: {note}", markup=False)
        if t.measurements:
            out.print("  published latencies, batch 1 (python benchmarks/published_latency.py compares them with "
                      "the estimates):", markup=False)
        for m in t.measurements:
            scaled = f" (x{m.scale:g} for this chip's clocks: {m.adjusted_ms():.2f} ms)" if m.scale != 1 else ""
            size = f" at {m.input}x{m.input}" if m.input else ""
            out.print(f"    {m.model}{size} on {m.backend}: {m.ms:g} ms{scaled}, {m.role}, {m.method}; {m.runtime}; "
                      f"{m.device}  {cite(m.source)}", markup=False)
        if sources:
            out.print("  sources:", markup=False)
        for source, n in sources.items():
            out.print(f"    [{n}] {source}", markup=False)

    _friendly(run)(debug=debug)


@app.command()
def export(
    path: Path = typer.Argument(..., help="a design's output folder, or its model.py"),
    format: str = typer.Option("onnx", "--format", help="onnx, or tflite (LiteRT, the runtime phones run)"),
    target: str = typer.Option("sd855", help="the target whose backends judge each operator"),
    opset: int = typer.Option(17, help="ONNX opset, 17 or newer"),
    int8: bool = typer.Option(False, "--int8", help="tflite: post-training int8 quantization from training images, "
                              "written as model_int8.tflite"),
    data: Optional[str] = typer.Option(None, "--data", help="--int8: the data set of the calibration and test images "
                                       "[the checkpoint's, else mnist5k]: cifar100, cifar10, mnist5k or digits"),
    data_dir: Path = typer.Option(Path("data"), help="--int8: folder holding the CIFAR files"),
    trust_edits: TrustEdits = False,
    debug: Debug = False,
) -> None:
    """Export model.py to ONNX or LiteRT (.tflite), check it against PyTorch with the format's own runtime, and judge
    each operator for the target's backends."""

    def run():
        from .errors import UsageError
        from .targets import load_target

        if format not in ("onnx", "tflite"):
            raise UsageError(f"unknown export format {format!r}", "use --format onnx or --format tflite")
        if int8 and format != "tflite":
            raise UsageError("--int8 quantizes LiteRT models only", "add --format tflite")
        t = load_target(target)
        if format == "tflite":
            if not litert_env.here("litert_torch"):  # the converter has an environment of its own
                return litert_env.run_there("litert_torch", [
                    "export", str(path), "--format", "tflite", "--target", target, "--data-dir", str(data_dir),
                    *(["--int8"] if int8 else []), *(["--data", data] if data else []),
                    *(["--trust-edits"] if trust_edits else []), *(["--debug"] if debug else [])])
            _export_tflite(path, t, int8, data, data_dir, trust_edits)
            return
        from .export import TOLERANCE, export_onnx

        onnx_path, verdicts, diff, weights = export_onnx(path, t, opset, trust_edits=trust_edits)
        out.print(f"Wrote {onnx_path} (opset {opset}; weights {weights}); onnxruntime matches PyTorch: max "
                  f"|difference| {diff:.1e} (tolerance {TOLERANCE})", markup=False)
        backends = list(t.backends)
        out.print(f"Operators on {t.the_title}:", markup=False)
        for v in verdicts:
            judged = "; ".join(f"{b}: {v.backends[b]}" for b in backends)
            out.print(f"  {v.onnx_op} x{v.count} ({v.target_op or 'not in the profile'}): {judged}", markup=False)

    _exit_with(_friendly(run)(debug=debug))


def _export_tflite(path, t, int8, data, data_dir, trust_edits) -> None:
    from .litert import DELEGATES, TOLERANCE, backends_for, export_tflite

    r = export_tflite(path, t, int8, data, str(data_dir), trust_edits, say=_say, terminal=sys.stderr.isatty())
    out.print(f"Wrote {r.path} ({r.precision}, {r.size_bytes / 1e6:.1f} MB; weights {r.weights})", markup=False)
    applies = backends_for(t, r.precision)
    out.print(f"Latency estimates that apply to this {r.precision} file: " + ("; ".join(
        f"{k} ({t.backends[k].label()}; {t.backends[k].how()})" for k in applies) or f"none: {t.name} has no "
        f"LiteRT backend at {r.precision}"), markup=False)
    if r.max_diff is not None:
        out.print(f"LiteRT matches PyTorch: max |difference| {r.max_diff:.1e} on 4 random inputs (tolerance "
                  f"{TOLERANCE})", markup=False)
    if r.agreement is not None:
        out.print(f"LiteRT int8 and PyTorch fp32 agree on the top-1 class of {100 * r.agreement:.1f}% of {r.images} "
                  f"{r.data} test images", markup=False)
    if r.accuracy_int8 is not None:
        drop = 100 * (r.accuracy_fp32 - r.accuracy_int8)
        out.print(f"Test accuracy on them: PyTorch fp32 {100 * r.accuracy_fp32:.2f}%, LiteRT int8 "
                  f"{100 * r.accuracy_int8:.2f}% (drop {drop:.2f} points)", markup=False)
    elif int8:
        out.print("No accuracy drop to report: no trained checkpoint (train/best.pt) for these labels", markup=False)
    cpu = [k for k, b in t.backends.items() if b.delegate == "cpu"]
    out.print(f"Operators of the converted graph on {t.the_title}'s LiteRT backends "
              f"(the CPU ones, {', '.join(cpu) or 'none'}, run all of them):", markup=False)
    users = {d: ", ".join(k for k, b in t.backends.items() if b.delegate == d) for d in DELEGATES}
    for p in r.operators:
        judged = "; ".join(f"{DELEGATES[d]} ({users[d]}): {v}" for d, v in p.delegates.items())
        out.print(f"  {p.op} x{p.count}" + (f": {judged}" if judged else ""), markup=False)


@app.command()
def calibrate(
    out_path: Optional[Path] = typer.Option(None, "--out", help="where the profile goes [~/.gptnet/targets/NAME.json]"),
    from_published: Optional[str] = typer.Option(
        None, "--from-published", metavar="TARGET",
        help="instead of measuring here, fit TARGET's backends to the published latencies its profile lists"),
    repeats: int = typer.Option(30, min=1, help="timed runs per measurement (fewer: faster, noisier)"),
    threads: Threads = None,
    debug: Debug = False,
) -> None:
    """Measure this machine's layers with torch and write the `host` target profile."""

    def run():
        from .threads import check_threads

        n = check_threads(threads)
        if from_published:
            from .published import fit_published
            from .targets import load_target, save_profile, user_dir

            target = fit_published(load_target(from_published), say=_say, terminal=sys.stderr.isatty())
            path = save_profile(target, out_path or user_dir() / f"{target.name}.json")
            for name, backend in target.backends.items():
                if backend.calibrated_from:
                    err.print(f"{target.name} {name}: {backend.calibrated_from}", markup=False)
            err.print(f"Wrote {path}", markup=False)
            return
        from .calibrate import calibrate as run_calibrate

        run_calibrate(out_path, say=_say, repeats=repeats, threads=n)

    _friendly(run)(debug=debug)


@app.command()
def profile(
    path: str = typer.Argument(..., help="a design's output folder, any model.py with build_model(num_classes=...), "
                               "or a torchvision model: torchvision:resnet18"),
    target: str = typer.Option("sd855", help="target profile; `host` after gptnet calibrate"),
    backend: Optional[str] = typer.Option(None, help="backend whose per-layer estimate is printed [the target's "
                                          "default]"),
    input: Optional[str] = typer.Option(None, "--input", help="input shape CxHxW [the design's; 3x224x224 for "
                                        "torchvision]"),
    classes: Optional[int] = typer.Option(None, min=1, help="classes [the design's; 1000 for torchvision]"),
    measure: bool = typer.Option(False, "--measure", help="also time the model on this machine (batch 1)"),
    json_out: bool = typer.Option(False, "--json", help="print the estimates as JSON on stdout"),
    trust_edits: TrustEdits = False,
    debug: Debug = False,
) -> None:
    """Estimate a model's latency on every backend of a target (runtime, threads, precision, and how each figure was
    obtained), per layer on one; with --measure, time it here too."""

    def run():
        import json

        from .errors import UsageError
        from .latency import predict, work_from_torch, works_for
        from .network import load_network
        from .targets import load_target
        from .units import plural

        t = load_target(target)
        name = backend or t.default_backend
        if name not in t.backends:
            raise UsageError(f"{t.name} has no backend {name!r}", f"choose one of: {', '.join(t.backends)}")
        n = load_network(path, input, classes, trust_edits)
        try:
            works = works_for(n.spec_json, n.net, n.shape) if n.spec_json else work_from_torch(n.net, n.shape)
        except Exception as e:  # torch.fx cannot trace data-dependent control flow
            raise UsageError(f"cannot trace {n.name} with torch.fx: {(str(e).splitlines() or [type(e).__name__])[0]}",
                             "profile a model whose forward has no data-dependent control flow") from None
        everything = [predict(works, t, b) for b in t.backends]
        est = next(e for e in everything if e.backend == name)
        measured = None
        if measure:
            from .calibrate import time_module
            from .threads import use_threads

            # on the backend's threads where it has a count (the host's: calibrate's), so that like meets like
            measured_threads = use_threads(t.backends[name].threads)
            measured = time_module(n.net, n.shape)
        if json_out:
            out.print_json(json.dumps({
                "model": n.name, "input": list(n.shape), "target": t.name, "batch": 1,
                "backends": [{"name": e.backend, "runtime": e.runtime, "processor": e.processor,
                              "threads": e.threads, "precision": e.precision, "ms": e.total_ms,
                              "estimated_by": e.estimated_by} for e in everything],
                "layers": {"backend": name, "rows": [r.model_dump() for r in est.layers]},
                "measured_here_ms": measured}))
            return
        if est.total_ms is None:
            raise UsageError(f"{t.name}'s {name} has no published peak to estimate with", "name another backend")
        for row in est.layers:
            out.print(f"  {row.index:>4} {row.layer:40} {row.ms:9.4f} ms", markup=False)
        shape = "x".join(map(str, n.shape))
        out.print(f"Predicted: {est.total_ms:.3f} ms on {t.name} {name} ({t.backends[name].label()}; "
                  f"{est.estimated_by}), batch 1, input {shape}", markup=False)
        out.print(f"Every backend of {t.the_title}, batch 1, input {shape}:", markup=False)
        for e in everything:
            ms = f"{e.total_ms:9.3f} ms" if e.total_ms is not None else "  unknown   "
            out.print(f"  {e.backend:10} {ms}  {t.backends[e.backend].label()}; {t.backends[e.backend].how()}",
                      markup=False)
        if measured is not None:
            out.print(f"Measured here: {measured:.3f} ms (lower quartile of 30 after warm-up, torch on "
                      f"{plural(measured_threads, 'thread')}); predicted/measured {est.total_ms / measured:.2f}",
                      markup=False)

    _friendly(run)(debug=debug)


@app.command()
def bench(
    path: Path = typer.Argument(..., help="a design folder (its model.tflite) or a .tflite model, e.g. from "
                                          "gptnet export DIR --format tflite"),
    threads: int = typer.Option(1, help="CPU threads for LiteRT [1, as the targets' cpu backends run]"),
    runs: int = typer.Option(50, min=1, help="timed runs after 5 warm-up runs"),
    debug: Debug = False,
) -> None:
    """Run a LiteRT model on this machine's CPU (XNNPACK) and print the median of timed runs, batch 1."""

    def run():
        import platform

        from .threads import check_threads

        check_threads(threads)  # before handing on, so that a bad count is refused here
        if not litert_env.here("ai_edge_litert"):  # the runtime, in the LiteRT environment if not here
            return litert_env.run_there("ai_edge_litert", ["bench", str(path), "--threads", str(threads), "--runs",
                                                           str(runs), *(["--debug"] if debug else [])])
        from .litert import bench as run_bench

        r = run_bench(path, threads, runs)
        out.print(f"{r.path}: median {r.median_ms:.3f} ms, min {r.min_ms:.3f} ms over {r.runs} runs; LiteRT CPU "
                  f"(XNNPACK), {r.threads} thread{'s' * (r.threads != 1)}, input {'x'.join(map(str, r.input))} "
                  f"{r.dtype}, on this machine ({platform.machine()}, not a phone)", markup=False)

    _exit_with(_friendly(run)(debug=debug))


@app.command()
def verify(
    path: Path = typer.Argument(..., help="a design's output folder, or a model.py"),
    debug: Debug = False,
) -> None:
    """Check a model.py against gptnet's allow-list without importing it (exit 0: it passes, 1: it does not)."""

    def run():
        from .errors import GptnetError
        from .design_folder import locate_design
        from .verify import check_source, trust_hint

        _, model_py = locate_design(path)
        problem = check_source(model_py.read_bytes())
        if problem:
            raise GptnetError(f"{model_py} fails the check: {problem}", trust_hint(model_py, problem))
        out.print(f"{model_py} passes: it imports only torch, builds only torch.nn layers and its own classes, and "
                  "runs nothing else.", markup=False)

    _friendly(run)(debug=debug)


# training options, shared by `train` and `compare`; None keeps the recipe's value (the article's)
Epochs = Annotated[Optional[int], typer.Option(min=1, help="epochs [recipe: 240]")]
BatchSize = Annotated[Optional[int], typer.Option(min=1, help="images per step [64]")]
Lr = Annotated[Optional[float], typer.Option(min=0.0, help="initial SGD learning rate [0.05]")]
Stages = Annotated[Optional[str], typer.Option(help="epochs after which lr decays, e.g. 3,4 [150,180,210], or "
                                              "those scaled to --epochs when only it is given")]
DecayRate = Annotated[Optional[float], typer.Option(help="lr multiplier at each stage [0.1]")]
Wd = Annotated[Optional[float], typer.Option(min=0.0, help="weight decay [5e-4]")]
DataName = Annotated[str, typer.Option("--data", help="cifar100, cifar10, mnist5k, digits, or a folder of your images "
                                      "with a subfolder per class (PATH/train/ and PATH/val/, or split 80/20 here)")]
DataDir = Annotated[Path, typer.Option(help="folder holding (or receiving) the CIFAR files")]
Download = Annotated[bool, typer.Option("--download", help="download CIFAR when missing (needs the internet)")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or mps")]
Seed = Annotated[int, typer.Option(help="seed for data order, augmentation and initialization")]
Workers = Annotated[int, typer.Option(min=0, help="DataLoader worker processes")]
Threads = Annotated[Optional[int], typer.Option(help="torch CPU threads [OMP_NUM_THREADS, else half this machine's "
                                                "cores]")]
Debug = Annotated[bool, typer.Option("--debug", help="show tracebacks")]
Flip = Annotated[bool, typer.Option("--flip/--no-flip", help="horizontal flips in augmentation (CIFAR, image "
                                    "folders; --no-flip for digits or text, where a mirrored 2 is not a 2)")]
RebuildHead = Annotated[bool, typer.Option("--rebuild-head", help="train a design made for another class count "
                                           "than the image folder's with the folder's (build_model(num_classes=N))")]


def _trusting(value: bool) -> bool:
    # said before any work (the flag turns off the one check between a file and the user's account), once: not again
    # by a command handed on to the LiteRT environment
    if value and not os.environ.get(litert_env.CHILD):
        err.print("--trust-edits: model.py's code runs as it is, unchecked, with your permissions", markup=False)
    return value


TrustEdits = Annotated[bool, typer.Option("--trust-edits", callback=_trusting, help="run model.py's code as it is, "
                                          "without gptnet's check (gptnet verify): it can do anything you can. Only "
                                          "for a file you edited yourself, never for a folder someone sent you")]


def _train_config(epochs, batch_size, lr, lr_decay_stages, lr_decay_rate, wd, data, data_dir, download, device,
                  seed, workers, flip):
    from importlib.util import find_spec

    from .errors import UsageError
    from .train.config import TrainConfig, parse_stages, scaled_stages

    missing = [m for m in ("torchvision", "matplotlib", "sklearn", "mlxtend") if find_spec(m) is None]
    if missing:
        raise UsageError(f"training needs {', '.join(missing)}, which are not installed",
                         "pip install 'gptnet[train]' (or pip install -e '.[train]' in a clone)")

    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_decay_rate": lr_decay_rate, "wd": wd}
    try:
        overrides = {k: v for k, v in given.items() if v is not None}
        if lr_decay_stages is not None:
            overrides["lr_decay_stages"] = parse_stages(lr_decay_stages)
        elif epochs is not None:  # the recipe's stages, moved inside the run the user asked for
            overrides.update(lr_decay_stages=scaled_stages(epochs), stages_scaled=True)
        return TrainConfig().updated(**overrides, data=data, data_dir=str(data_dir), download=download,
                                     device=device, seed=seed, workers=workers, flip=flip)
    except ValueError as e:
        raise UsageError(str(e), "see gptnet train --help") from None


@app.command()
def train(
    path: Path = typer.Argument(..., help="a design's output folder, or its model.py"),
    epochs: Epochs = None, batch_size: BatchSize = None, lr: Lr = None, lr_decay_stages: Stages = None,
    lr_decay_rate: DecayRate = None, wd: Wd = None, data: DataName = "cifar100", data_dir: DataDir = Path("data"),
    download: Download = False, device: Device = "auto", seed: Seed = 0, workers: Workers = 0, threads: Threads = None,
    out_dir: Optional[Path] = typer.Option(None, "--out", help="where checkpoints and metrics go [DIR/train]"),
    resume: bool = typer.Option(False, "--resume", help="continue from the checkpoint in the output folder"),
    flip: Flip = True, rebuild_head: RebuildHead = False,
    trust_edits: TrustEdits = False,
    debug: Debug = False,
) -> None:
    """Train a design with the article's recipe (240 epochs, batch 64, SGD lr 0.05 x0.1 at 150/180/210, wd 5e-4)."""

    def run():
        from .threads import use_threads
        from .train.runner import train_design

        config = _train_config(epochs, batch_size, lr, lr_decay_stages, lr_decay_rate, wd, data, data_dir, download,
                               device, seed, workers, flip)
        use_threads(threads)
        train_design(path, config, out_dir, resume, say=_say,
                     terminal=sys.stderr.isatty(), trust_edits=trust_edits, rebuild_head=rebuild_head)

    _friendly(run)(debug=debug)


@app.command()
def compare(
    path: Path = typer.Argument(..., help="a design's output folder, or its model.py"),
    baseline: str = typer.Option("resnet18", help="the baseline to train beside it"),
    epochs: Epochs = None, batch_size: BatchSize = None, lr: Lr = None, lr_decay_stages: Stages = None,
    lr_decay_rate: DecayRate = None, wd: Wd = None, data: DataName = "cifar100", data_dir: DataDir = Path("data"),
    download: Download = False, device: Device = "auto", seed: Seed = 0, workers: Workers = 0, threads: Threads = None,
    out_dir: Optional[Path] = typer.Option(None, "--out", help="where both runs go [DIR/compare-BASELINE]"),
    flip: Flip = True, rebuild_head: RebuildHead = False,
    trust_edits: TrustEdits = False,
    debug: Debug = False,
) -> None:
    """Train the design and a baseline with one recipe and print the article's table."""

    def run():
        from .threads import use_threads
        from .train.compare import compare as run_compare

        config = _train_config(epochs, batch_size, lr, lr_decay_stages, lr_decay_rate, wd, data, data_dir, download,
                               device, seed, workers, flip)
        use_threads(threads)
        _, table = run_compare(path, config, baseline, out_dir, say=_say,
                               terminal=sys.stderr.isatty(), trust_edits=trust_edits,
                               rebuild_head=rebuild_head)
        out.print(table, markup=False)

    _friendly(run)(debug=debug)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
