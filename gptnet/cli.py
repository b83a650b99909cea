"""The `gptnet` command line: a thin layer over the library. Errors are one line plus a hint, with the exit codes
of DESIGN.md (1: no valid model, 2: bad usage); `--debug` shows the traceback."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import GptnetError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Let an LLM design a neural network for a phone chip; check, repair, render and profile it.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _friendly(fn):
    """Turn a GptnetError into one line and a hint on stderr, and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GptnetError as e:
            if debug:
                raise
            err.print(f"[red]gptnet: error:[/red] {e.message}", markup=True)
            if e.hint:
                err.print(f"hint: {e.hint}", markup=False)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err.print("gptnet: interrupted; nothing was written", markup=False)
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def _group() -> None:
    """Let an LLM design a neural network for a phone chip; check, repair, render and profile it."""


@app.command()
def design(
    budget: str = typer.Option(..., help="parameter budget, an upper bound: 10M, 2.5M, 500K, 1200000"),
    target: str = typer.Option(..., help="target chip profile, e.g. sd855"),
    classes: int = typer.Option(100, min=1, help="number of classes"),
    input: str = typer.Option("3x32x32", "--input", help="input shape CxHxW"),
    replay: Optional[Path] = typer.Option(None, help="answer every LLM request from this cassette"),
    record: Optional[Path] = typer.Option(None, help="talk to the live LLM and write the cassette here"),
    model: str = typer.Option("gpt-4o", help="LLM model name (live runs)"),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server URL (vLLM, llama.cpp, Ollama)"),
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
                       timeout, retries, json_out, debug=debug)


def _design(budget, target, classes, input, replay, record, model, base_url, out_dir, max_revisions, timeout,
            retries, json_out):
    from .design import Options
    from .design import design as run
    from .report import totals_line, verdict

    opts = Options(budget=budget, target=target, classes=classes, input=input, replay=replay, record=record,
                   model=model, base_url=base_url, out=out_dir, max_revisions=max_revisions, timeout=timeout,
                   attempts=retries)
    result, folder = run(opts, say=lambda s: err.print(s, markup=False))
    if json_out:
        out.print_json(result.model_dump_json())
        return
    from .design import make_task

    task = make_task(opts)
    table = Table(title=f"{result.spec.name} for {task.target.name}", title_justify="left")
    for col, justify in (("#", "right"), ("layer", "left"), ("output", "left"), ("params", "right"),
                         ("MACs", "right")):
        table.add_column(col, justify=justify)
    for row in result.profile.rows:
        if "." not in row.index:
            table.add_row(row.index, row.layer, row.output, f"{row.params:,}", f"{row.macs:,}")
    out.print(table)
    out.print(f"Totals: {totals_line(result, task)}", markup=False)
    out.print(f"Target: {verdict(result, task)}", markup=False)
    repairs = [f for f in result.findings if f.severity == "repair"]
    out.print(f"Repairs gptnet made: {len(repairs)}", markup=False)
    for f in repairs:
        out.print(f"  - {f.line()}", markup=False)
    if result.usage:
        out.print("Tokens: " + ", ".join(f"{u['stage']} {u.get('total_tokens', 0):,}" for u in result.usage_by_stage)
                  + f"; total {result.usage.get('total_tokens', 0):,}", markup=False)
    out.print(f"Wrote {folder}/ (model.py, spec.json, conversation.json, report.md)", markup=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
