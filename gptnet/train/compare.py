"""`gptnet compare`: the design and a baseline trained with one recipe, reported as the article's table (flops at
224x224 as thop counts them, params, train and test acc@1/5) plus training speed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..design_folder import locate_design
from ..output import check_writable, write_atomic
from ..report import table_cell
from ..units import plural
from .config import TrainConfig
from .distributed import quiet_unless_main
from .runner import design_data, input_shape, load_builder, model_name, resnet18_builder, run_training

BASELINES = {"resnet18": resnet18_builder}


@dataclass
class Row:
    model: str
    gflops_224: float
    params_m: float
    train_acc1: float
    train_acc5: float
    test_acc1: float
    test_acc5: float
    images_per_s: float


def _counts(build, classes: int, channels: int) -> tuple[float, float]:
    import thop
    import torch

    macs, params = thop.profile(build(classes).eval(), inputs=(torch.randn(1, channels, 224, 224),), verbose=False)
    return macs / 1e9, params / 1e6


def compare(path: Path, config: TrainConfig, baseline: str = "resnet18", out: Path | None = None,
            say: Callable[[str], None] = print, terminal: bool = True, trust_edits: bool = False,
            rebuild_head: bool = False) -> tuple[list[Row], str]:
    if baseline not in BASELINES:
        from ..errors import UsageError

        raise UsageError(f"unknown baseline {baseline!r}", f"choose one of: {', '.join(BASELINES)}")
    say = quiet_unless_main(say)
    folder, model_py = locate_design(path)
    root = Path(out) if out else folder
    out = Path(out) if out else folder / f"compare-{baseline}"
    shape = input_shape(folder)
    check_writable(out, root, ("compare.md",))  # written after both trainings: refused before them
    data, _ = design_data(folder, config, say, terminal, rebuild_head)
    rows = []
    # the design's row is named after its model (spec.json's name), its folder after the design's folder
    for name, sub, build in ((model_name(folder), folder.name, load_builder(model_py, trust_edits)),
                             (baseline, baseline, BASELINES[baseline]())):
        say(f"== {name} ==")
        history, _ = run_training(build, data, config, out / sub, say=say, terminal=terminal, root=root)
        gflops, params = _counts(build, data.classes, shape[0])
        last = history[-1]
        rows.append(Row(name, gflops, params, last.train_acc1, last.train_acc5, last.test_acc1, last.test_acc5,
                        sum(m.images_per_s for m in history) / len(history)))
    table = markdown(rows, config)
    write_atomic(out / "compare.md", table, root=root)
    return rows, table


def markdown(rows: list[Row], config: TrainConfig) -> str:
    lines = [f"Trained with one recipe on {config.data}: {plural(config.epochs, 'epoch')}, batch {config.batch_size}, "
             f"lr {config.lr} {config.decay()}, wd {config.wd}; "
             "flops are thop's MACs at 1x3x224x224, as in the article; accuracies are of the last epoch.", "",
             "| model | flops (G) | params (M) | train acc1/5 | test acc1/5 | train images/s |",
             "| --- | ---: | ---: | --- | --- | ---: |"]
    lines += [f"| {table_cell(r.model)} | {r.gflops_224:.2f} | {r.params_m:.2f} | {r.train_acc1:.2f}% / "
              f"{r.train_acc5:.2f}% | {r.test_acc1:.2f}% / {r.test_acc5:.2f}% | {r.images_per_s:.0f} |" for r in rows]
    return "\n".join(lines) + "\n"
