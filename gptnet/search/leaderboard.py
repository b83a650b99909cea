"""What a search shows a person: `leaderboard.json` (every candidate, in the order proposed), `leaderboard.md` (the
same, best first) and `pareto.png` (proxy accuracy against estimated latency, the front and the winner marked)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from ..output import atomic_path, write_atomic
from ..units import format_count
from .pareto import front

FORMAT = "gptnet-leaderboard/1"


class Candidate(BaseModel):
    """One candidate of a search: where it came from, what it costs, how it trained, and whether it counts."""

    index: int = Field(description="its place in the order candidates were proposed, from 1")
    round: int = Field(description="the round that proposed it; 0 holds the starting design")
    hash: str | None = Field(description="canonical structural hash of its spec; none for an unreadable answer")
    origin: str = Field(description="design (the one-shot design the search starts from), llm, or mutation:<kind>")
    parent: str | None = Field(None, description="the hash of the candidate a mutation changed")
    change: str | None = Field(None, description="what the mutation changed")
    name: str | None = Field(None, description="the model's name")
    summary: str | None = Field(None, description="its structure in one line: weighted layers and pools in order")
    params: int | None = None
    macs: int | None = Field(None, description="multiply-accumulates at the task input")
    latency_ms: float | None = Field(None, description="estimated latency on the search's backend, batch 1")
    zero_cost: float | None = Field(None, description="NASWOT score at initialization, with --prefilter")
    accuracy: float | None = Field(None, description="proxy acc@1 in percent, after short training, on held-out "
                                    "training images")
    train_seconds: float | None = Field(None, description="wall time of its proxy training")
    pareto: bool = Field(False, description="on the Pareto front of accuracy, latency and params")
    dropped: str | None = Field(None, description="why it was not measured or does not count; none if it does")
    findings: list[str] = Field(default_factory=list, description="what gptnet repaired in it")

    @property
    def measured(self) -> bool:
        """Trained, and counts: not dropped (a duplicate, over a limit, or failed)."""
        return self.accuracy is not None and not self.dropped


class Board(BaseModel):
    format: str = FORMAT
    settings: dict = Field(description="what the search was asked for")
    rule: str = Field(description="how the winner was chosen")
    winner: str | None = Field(description="the winner's hash")
    candidates: list[Candidate]


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}%"


def markdown(board: Board, title: str, backend: str) -> str:
    ranked = sorted([c for c in board.candidates if c.measured],
                    key=lambda c: (-c.accuracy, c.latency_ms, c.params, c.index))
    others = [c for c in board.candidates if c not in ranked]
    lines = [f"# {title}", "", f"Winner: {board.winner or 'none'} ({board.rule}).", "",
             "Settings: " + "; ".join(f"{k} {v}" for k, v in board.settings.items() if v is not None), "",
             f"| rank | hash | origin | parent | params | MACs | {backend} ms | accuracy | train s | pareto | "
             "structure |", "|---:|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    for rank, c in enumerate(ranked, 1):
        mark = "winner" if c.hash == board.winner else "front" if c.pareto else ""
        lines.append(f"| {rank} | `{c.hash}` | {c.origin} | {c.parent or ''} | {format_count(c.params)} | "
                     f"{format_count(c.macs)} | {c.latency_ms:.3f} | {_pct(c.accuracy)} | {c.train_seconds:.1f} | "
                     f"{mark} | {c.summary} |")
    if others:
        lines += ["", "## Dropped", "", "| # | hash | origin | why |", "|---:|---|---|---|"]
        lines += [f"| {c.index} | {f'`{c.hash}`' if c.hash else ''} | {c.origin} | "
                  f"{(c.dropped or 'not measured').replace('|', '/')} |" for c in others]
    return "\n".join(lines) + "\n"


def plot(board: Board, path: Path, title: str, backend: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    measured = [c for c in board.candidates if c.measured]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([c.latency_ms for c in measured], [c.accuracy for c in measured], s=24, color="0.6",
               label="candidate")
    on_front = [c for c in measured if c.pareto]
    ax.scatter([c.latency_ms for c in on_front], [c.accuracy for c in on_front], s=36, color="tab:blue",
               label="Pareto front (accuracy, latency, params)")
    edge = sorted(front(measured, params=False), key=lambda c: c.latency_ms)  # what the plot's two axes trade
    ax.plot([c.latency_ms for c in edge], [c.accuracy for c in edge], "-", color="tab:blue", drawstyle="steps-post",
            label="its accuracy-latency edge")
    start = next((c for c in measured if c.origin == "design"), None)
    if start is not None:
        ax.scatter([start.latency_ms], [start.accuracy], s=80, marker="s", facecolors="none", edgecolors="k",
                   label="starting design")
    best = next((c for c in measured if c.hash == board.winner), None)
    if best is not None:
        ax.scatter([best.latency_ms], [best.accuracy], s=220, marker="*", color="tab:red", zorder=3,
                   label=f"winner {best.hash}")
    ax.set(xlabel=f"estimated latency on the {backend}, batch 1 (ms)",
           ylabel="proxy accuracy (%, held-out training images)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def write(board: Board, folder: Path, title: str, backend: str) -> None:
    write_atomic(folder / "leaderboard.json", json.dumps(board.model_dump(), indent=2, ensure_ascii=False) + "\n")
    write_atomic(folder / "leaderboard.md", markdown(board, title, backend))
    plot(board, folder / "pareto.png", title, backend)
