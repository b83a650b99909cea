"""Does the proxy rank? The search's proxy (150 SGD steps on 1,000 training images, accuracy on held-out training
images) against the longer training of search_gain.py (1,200 steps on every training image, test accuracy), each
with several seeds, over two sets of models: the candidates of a finished search (`--search DIR`, such as the
`search/` folder search_gain.py writes with `--out`), and the one-shot design fitted to a ladder of budgets, models
whose quality really differs.

    python benchmarks/proxy_rank.py [--search DIR] [--budgets 1M,300K,100K,30K,10K] [--proxy-seeds 2]
                                    [--long-seeds 2] [--data mnist5k] [--out DIR]

Prints each model's accuracies per seed; how far one model's accuracy moves between seeds against how far the
models' means lie apart (a measure cannot rank models closer together than its own seed noise); and Spearman
correlations of the proxy (seed 0, and the mean of its seeds) with the longer training's mean, and of the longer
training's seed 0 with seed 1 (the ceiling), within each set and over both."""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path

from scipy.stats import spearmanr
from search_gain import ALL, train_long

from gptnet.design import Options, design
from gptnet.search.hashing import structure_hash
from gptnet.search.proxy import Recipe
from gptnet.search.run import CLASSES


@dataclasses.dataclass
class Model:
    name: str
    source: str  # "search", "ladder", or "both" (the search's start is the ladder's design at its budget)
    path: Path
    proxy: list[float] = dataclasses.field(default_factory=list)
    long: list[float] = dataclasses.field(default_factory=list)


def search_models(folder: Path) -> list[Model]:
    board = json.loads((folder / "leaderboard.json").read_text())
    return [Model(c["hash"], "search", folder / "candidates" / c["hash"] / "model.py") for c in board["candidates"]
            if c["accuracy"] is not None and not c["dropped"]]


def noise(models: list[Model], key: str) -> tuple[float, float]:
    """(a model's seed-to-seed standard deviation, averaged; the standard deviation of the models' means)"""
    runs = [getattr(m, key) for m in models]
    within = statistics.mean(statistics.stdev(r) for r in runs) if len(runs[0]) > 1 else float("nan")
    return within, statistics.stdev(statistics.mean(r) for r in runs)


def report(title: str, models: list[Model]) -> None:
    if len(models) < 3:
        return
    proxy_mean = [statistics.mean(m.proxy) for m in models]
    long_mean = [statistics.mean(m.long) for m in models]
    rho0, p0 = spearmanr([m.proxy[0] for m in models], long_mean)
    rho, p = spearmanr(proxy_mean, long_mean)
    line = (f"{title}, {len(models)} models: proxy seed 0 vs longer mean Spearman {rho0:.2f} (p = {p0:.3f}); "
            f"proxy mean vs longer mean {rho:.2f} (p = {p:.3f})")
    if len(models[0].long) > 1:
        ceiling, pc = spearmanr([m.long[0] for m in models], [m.long[1] for m in models])
        line += f"; longer seed 0 vs seed 1 (the ceiling) {ceiling:.2f} (p = {pc:.3f})"
    print(line)
    for key, label in (("proxy", "proxy"), ("long", "longer")):
        within, between = noise(models, key)
        print(f"  {label}: one model's seed-to-seed sd {within:.2f} points, the models' means' sd {between:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search", type=Path, help="a finished search folder whose candidates to measure")
    parser.add_argument("--budgets", default="1M,300K,100K,30K,10K", help="the one-shot design fitted to each of "
                        "these budgets [1M,300K,100K,30K,10K; empty: none]")
    parser.add_argument("--proxy-seeds", type=int, default=2)
    parser.add_argument("--long-seeds", type=int, default=2)
    parser.add_argument("--data", default="mnist5k", choices=sorted(CLASSES))
    parser.add_argument("--steps", type=int, default=150, help="the proxy's SGD steps [150]")
    parser.add_argument("--subset", type=int, default=1_000, help="the proxy's training images [1000]")
    parser.add_argument("--long-steps", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="where the ladder's designs go [a temporary folder]")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="proxy-rank-"))

    models = search_models(args.search) if args.search else []
    for budget in filter(None, args.budgets.split(",")):
        d, folder = design(Options(budget=budget, target="sd855", classes=CLASSES[args.data],
                                   out=out / f"design-{budget}"))
        same = next((m for m in models if m.name == structure_hash(d.spec)), None)
        if same:  # the search's own start: measured once, counted in both sets
            same.name, same.source = f"{same.name} (design at {budget})", "both"
        else:
            models.append(Model(f"design at {budget}", "ladder", folder / "model.py"))
    if not models:
        parser.error("nothing to measure: give --search or --budgets")
    shape = tuple(json.loads((models[0].path.parent / "spec.json").read_text())["input"])
    paths = [m.path for m in models]
    for seed in range(args.proxy_seeds):
        recipe = Recipe(data=args.data, input=shape, steps=args.steps, subset=args.subset, seed=seed)
        for m, r in zip(models, train_long(paths, recipe, args.workers)):
            m.proxy.append(r.accuracy)
    for seed in range(args.long_seeds):
        recipe = Recipe(data=args.data, input=shape, steps=args.long_steps, subset=ALL, seed=seed, on="test")
        for m, r in zip(models, train_long(paths, recipe, args.workers)):
            m.long.append(r.accuracy)
    failed = [m.name for m in models if None in m.proxy + m.long]
    if failed:
        print(f"left out, a training failed: {', '.join(failed)}")
        models = [m for m in models if m.name not in failed]

    print(f"| model | set | proxy accuracy, seeds 0-{args.proxy_seeds - 1} | test accuracy after {args.long_steps} "
          f"steps, seeds 0-{args.long_seeds - 1} |")
    print("| --- | --- | ---: | ---: |")
    for m in sorted(models, key=lambda m: -statistics.mean(m.proxy)):
        print(f"| {m.name} | {m.source} | {' / '.join(f'{a:.2f}' for a in m.proxy)} | "
              f"{' / '.join(f'{a:.2f}' for a in m.long)} |")
    print()
    sets = {"the search's candidates": [m for m in models if m.source in ("search", "both")],
            "the ladder of budgets": [m for m in models if m.source in ("ladder", "both")]}
    for title, chosen in sets.items():
        report(title, chosen)
    if all(len(chosen) < len(models) for chosen in sets.values()):  # else "both" is one of the sets again
        report("both", models)


if __name__ == "__main__":
    main()
