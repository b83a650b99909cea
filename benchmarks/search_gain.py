"""Does searching pay? In one process, offline, on mnist5k (or `--data`): the one-shot design (the article's,
fitted to 1M params or `--budget` for the sd855, as `gptnet design` makes it) with a longer training, then `gptnet
search` given the same wall time; then the longer training for 12 of the search's candidates (at least 8), to measure
how well the proxy ranks them.

    python benchmarks/search_gain.py [--long-steps 1200] [--correlate 12] [--prefer latency] [--budget 1M]
                                     [--hold-latency] [--data mnist5k] [--steps 150] [--subset 1000]
                                     [--proxy-seeds 1] [--out DIR]

Prints the winner's proxy accuracy (on training images held out of the proxy trainings), estimated latency and
params against the one-shot design's (goal: the same accuracy within 0.5 points at 60% or less of its estimated
latency, or clearly better accuracy, a point or more, at the same latency), both models' test accuracy after the
longer training (on every training image), and the Spearman rank correlation between the proxy accuracy and the
longer training's, over candidates spread evenly over the search's proxy ranking. The same candidates trained
longer again with another seed give the ceiling: how well the longer training ranks them against itself, which no
proxy can beat on this data set; the proxy is also correlated with the mean of the two seeds. `--hold-latency` gives
the search the one-shot design's estimated latency as its `--max-latency` (the goal's second branch: better accuracy
at the same latency)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

from scipy.stats import spearmanr

from gptnet.design import Options, design, make_task
from gptnet.latency import estimate
from gptnet.search import SearchOptions, search
from gptnet.search.proxy import Measured, Recipe, measurement, run_task, start_worker
from gptnet.search.run import CLASSES
from gptnet.workers import Workers

ALL = 10**9  # the longer training's subset: every training image of the data set


def train_long(paths: list[Path], recipe: Recipe, workers: int) -> list[Measured]:
    """The longer training, in worker processes as the search trains (one torch thread each)."""
    tasks = [(i, str(p), recipe.model_dump()) for i, p in enumerate(paths)]
    pool = Workers(min(workers, len(tasks)), start_worker)
    try:
        done = {index: measurement(reply) for (index, *_), reply in pool.map(run_task, tasks)}
    finally:
        pool.close(interrupted=True)  # at once: idle when every task is done, busy only if the run stops early
    return [done[i] for i in range(len(tasks))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long-steps", type=int, default=1200, help="SGD steps of the longer training, about 19 "
                        "epochs of mnist5k [1200]")
    parser.add_argument("--correlate", type=int, default=12, help="candidates trained longer for the rank "
                        "correlation [12; at least 8]")
    parser.add_argument("--prefer", default="latency", choices=("accuracy", "latency"),
                        help="the search's rule for its winner [latency: the fastest within a point of the best]")
    parser.add_argument("--hold-latency", action="store_true", help="hold the search to the one-shot design's "
                        "estimated latency (its --max-latency), to seek better accuracy at the same latency")
    parser.add_argument("--budget", default="1M", help="parameter budget of the design and the search [1M]")
    parser.add_argument("--data", default="mnist5k", choices=sorted(CLASSES), help="data set [mnist5k; cifar10 "
                        "and cifar100 are read from data/, where `gptnet train DIR --data cifar10 --download` puts them]")
    parser.add_argument("--steps", type=int, default=150, help="SGD steps of the search's proxy training [150]")
    parser.add_argument("--subset", type=int, default=1_000, help="training images the proxy draws from [1000]")
    parser.add_argument("--proxy-seeds", type=int, default=1, help="the search's proxy trainings per candidate, "
                        "averaged [1]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="where the design and the search go [a temporary folder]")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="search-gain-"))

    task = Options(budget=args.budget, target="sd855", classes=CLASSES[args.data])

    started = time.monotonic()
    one, folder = design(dataclasses.replace(task, out=out / "one-shot"))
    long = Recipe(data=args.data, input=one.spec.input, steps=args.long_steps, subset=ALL, seed=0, on="test")
    [one_long] = train_long([folder / "model.py"], long, 1)
    wall = time.monotonic() - started
    print(f"one-shot design and its {args.long_steps}-step training: {wall:.0f} s")

    search_task = task
    if args.hold_latency:  # rounded up in the last digit, so the one-shot design itself stays within it
        target = make_task(task).target
        held = math.ceil(estimate(one.spec, target, target.default_backend).total_ms * 1e4) / 1e4
        search_task = dataclasses.replace(task, max_latency=f"{held}ms")
        print(f"the search is held to {held} ms on the {target.default_backend} backend")
    opts = SearchOptions(design=dataclasses.replace(search_task, out=out / "search"), data=args.data, trials=1_000,
                         steps=args.steps, subset=args.subset, proxy_seeds=args.proxy_seeds, workers=args.workers,
                         prefer=args.prefer, time_limit=wall)
    started = time.monotonic()
    result = search(opts)
    rows = [c for c in result.board.candidates if c.measured]
    print(f"search of the same wall time: {time.monotonic() - started:.0f} s, {len(rows)} candidates measured "
          f"({result.folder}/leaderboard.md)")
    if len(rows) < args.correlate:  # more candidates for the correlation; the comparison above stays as it was
        extra = search(dataclasses.replace(opts, trials=args.correlate, time_limit=None, resume=True))
        rows = [c for c in extra.board.candidates if c.measured]
    start = next(c for c in rows if c.origin == "design")
    best = next(c for c in rows if c.hash == result.board.winner)

    ranked = sorted(rows, key=lambda c: -c.accuracy)  # evenly spaced ranks: the proxy's whole range, top to bottom
    n = min(args.correlate, len(ranked))
    chosen = [ranked[round(i * (len(ranked) - 1) / max(n - 1, 1))] for i in range(n)]
    chosen += [c for c in (best, start) if c not in chosen]
    trained = train_long([result.folder / "candidates" / c.hash / "model.py" for c in chosen if c is not start],
                         long, args.workers)
    longer = dict(zip([c.hash for c in chosen if c is not start], trained))
    longer[start.hash] = one_long
    again = train_long([result.folder / "candidates" / c.hash / "model.py" for c in chosen],
                       long.model_copy(update={"seed": 1}), args.workers)

    print()
    print(f"| model | proxy accuracy | {result.board.settings['backend']} latency (sd855, est.) | params | "
          f"test accuracy after {args.long_steps} steps |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, c in (("one-shot design", start), (f"search winner {best.hash} ({best.origin})", best)):
        print(f"| {name} | {c.accuracy:.2f}% | {c.latency_ms:.3f} ms | {c.params:,} | "
              f"{longer[c.hash].accuracy:.2f}% |")
    ratio = best.latency_ms / start.latency_ms
    gain = best.accuracy - start.accuracy
    goal = (gain >= -0.5 and ratio <= 0.6) or (gain >= 1.0 and ratio <= 1.05)
    print(f"\nwinner vs one-shot: {gain:+.2f} points of proxy accuracy at {100 * ratio:.0f}% of the latency, "
          f"{best.params / start.params:.2f}x the params; goal {'met' if goal else 'not met'} (within 0.5 points "
          "at <= 60% latency, or +1 point at the same latency)")
    proxy = [c.accuracy for c in chosen]
    full = [longer[c.hash].accuracy for c in chosen]
    rho, p = spearmanr(proxy, full)
    seeds = f", mean of {opts.proxy_seeds} seeds" if opts.proxy_seeds > 1 else ""
    print(f"rank correlation of proxy accuracy ({opts.steps} steps on {opts.subset:,} images{seeds}) with accuracy "
          f"after {args.long_steps} steps on all training images, over {len(chosen)} candidates: Spearman "
          f"{rho:.2f} (p = {p:.3f})")
    full_again = [m.accuracy for m in again]
    ceiling, _ = spearmanr(full, full_again)
    proxy_again, _ = spearmanr(proxy, full_again)
    proxy_mean, p_mean = spearmanr(proxy, [(a + b) / 2 for a, b in zip(full, full_again)])
    print(f"the longer training with seed 1 against seed 0 (the ceiling on this data set): Spearman {ceiling:.2f}; "
          f"the proxy against seed 1: {proxy_again:.2f}, against the mean of both seeds: {proxy_mean:.2f} "
          f"(p = {p_mean:.3f})")
    for c, f, g in sorted(zip(chosen, full, full_again), key=lambda x: -x[0].accuracy):
        print(f"  {c.hash} {c.origin:40} proxy {c.accuracy:6.2f}%  longer {f:6.2f}% / {g:6.2f}%  "
              f"{c.latency_ms:.3f} ms")


if __name__ == "__main__":
    main()
