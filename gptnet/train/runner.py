"""`gptnet train` and `gptnet compare` as library calls: load a design's model.py, train it on a data set, and
write the results beside it (metrics.jsonl, curves.png, checkpoints, and a Training section in report.md)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import limits
from ..errors import UsageError
from ..design_folder import locate_design
from ..output import check_writable, write_atomic
from ..report import without_training
from ..units import plural
from ..untrusted import one_line
from ..verify import load_model
from .config import TrainConfig
from .data import NAMES, Data, load_data
from .distributed import quiet_unless_main
from .trainer import EpochMetrics, Trainer


def load_builder(model_py: Path, trust_edits: bool = False) -> Callable[[int], nn.Module]:
    """`build_model` from a model.py, imported only once it passes gptnet's verifier (or the user trusts it)."""
    module = load_model(model_py, trust_edits)
    if not callable(getattr(module, "build_model", None)):
        raise UsageError(f"{model_py} has no build_model(num_classes=...)", "regenerate it with gptnet design")
    return lambda classes: module.build_model(num_classes=classes)


def _spec_field(folder: Path, key: str, default):
    """A task field of the design's spec.json; the default when there is none, or it does not read."""
    try:
        value = json.loads((folder / "spec.json").read_text(encoding="utf-8")).get(key, default)
    except (OSError, ValueError, AttributeError, RecursionError):
        return default
    return value


def input_shape(folder: Path) -> tuple[int, int, int]:
    shape = _spec_field(folder, "input", (3, 32, 32))
    ok = isinstance(shape, list) and len(shape) == 3 and all(isinstance(d, int) and d > 0 for d in shape) \
        and shape[0] <= limits.MAX_INPUT_CHANNELS and max(shape[1:]) <= limits.MAX_SPATIAL
    return tuple(shape) if ok else (3, 32, 32)


def design_classes(folder: Path) -> int:
    classes = _spec_field(folder, "num_classes", 100)
    return classes if isinstance(classes, int) and 0 < classes <= limits.MAX_CHANNELS else 100


def model_name(folder: Path) -> str:
    """The design's model name (spec.json's `name`, e.g. CNN-GPT), or its folder's name when it has none."""
    name = _spec_field(folder, "name", None)
    return name.strip() if isinstance(name, str) and name.strip() else folder.name


def resnet18_builder() -> Callable[[int], nn.Module]:
    """torchvision's ResNet-18, the article's baseline (it used timm's, the same network)."""
    from torchvision.models import resnet18

    return lambda classes: resnet18(num_classes=classes)


def design_data(folder: Path, config: TrainConfig, say: Callable[[str], None], terminal: bool,
                rebuild_head: bool) -> tuple[Data, str]:
    """The data to train the design in `folder` on, and what the training does when the design was made for another
    class count ('' when it was not): build the model for the data's. The built-in sets always did (the article's
    design has 100 classes, mnist5k 10); an image folder is refused without --rebuild-head."""
    classes = design_classes(folder)
    data = load_data(config.data, input_shape(folder), config.data_dir, config.download, say, terminal,
                     classes=None if rebuild_head else classes, flip=config.flip)
    if classes == data.classes:
        return data, ""
    head = (f"the design has {classes} classes, {config.data} has {data.classes}: training "
            f"build_model(num_classes={data.classes}), whose classifier has {data.classes} outputs"
            + ("" if config.data in NAMES else " (--rebuild-head)"))
    say(f"Note: {head}.")
    return data, head


def run_training(build: Callable[[int], nn.Module], data: Data, config: TrainConfig, out: Path,
                 resume: bool = False, say: Callable[[str], None] = print, terminal: bool = True,
                 root: Path | None = None) -> tuple[list[EpochMetrics], bool]:
    """The epochs' metrics, and whether this process is the one that writes (rank 0, or the only one); `root` is the
    folder the user named, `out` or one above it (see output.refuse_links)."""
    say(f"Training on {config.data}{f' ({data.about})' if data.about else ''}: {len(data.train)} train / "
        f"{len(data.test)} test images, {data.classes} classes, {plural(config.epochs, 'epoch')}, batch "
        f"{config.batch_size}, lr {config.lr} {config.decay()}, wd {config.wd}, on "
        f"{plural(torch.get_num_threads(), 'CPU thread')}; writing to {out}")
    trainer = Trainer(build, data, config, out, say=say, terminal=terminal, root=root)
    if resume:
        trainer.resume()
    history = trainer.fit()
    say(f"Done: best test acc@1 {max(m.test_acc1 for m in history):.2f}%; "
        f"{out / 'metrics.jsonl'}, {out / 'curves.png'}, {out / 'best.pt'}")
    return history, trainer.dist.main


def training_section(history: list[EpochMetrics], config: TrainConfig, data: Data, head: str, out: Path,
                     folder: Path) -> str:
    last = history[-1]
    best = max(history, key=lambda m: m.test_acc1)
    rel = out.relative_to(folder) if out.is_relative_to(folder) else out
    names = textwrap.shorten(", ".join(f"{i}: {one_line(n)}" for i, n in enumerate(data.labels)), 300,
                             placeholder=" ...")  # class folder names: untrusted
    return "\n".join([
        "## Training", "",
        f"- Data: {config.data}{f' ({data.about})' if data.about else ''}; {plural(last.epoch, 'epoch')}, batch "
        f"{config.batch_size}, SGD lr {config.lr} {config.decay()}, momentum {config.momentum}, weight decay "
        f"{config.wd}.",
        *([f"- Classifier: {head}."] if head else []),
        *([f"- Classes by output index (all of them in `{rel}/best.pt`): {names}."] if data.labels else []),
        f"- Last epoch: train acc@1/5 {last.train_acc1:.2f}% / {last.train_acc5:.2f}%, test acc@1/5 "
        f"{last.test_acc1:.2f}% / {last.test_acc5:.2f}%, test loss {last.test_loss:.4f}.",
        f"- Best test acc@1: {best.test_acc1:.2f}% (epoch {best.epoch}, `{rel}/best.pt`).",
        f"- Speed: {sum(m.images_per_s for m in history) / len(history):.0f} training images/s on average, "
        f"{plural(last.threads, 'CPU thread')} (the numbers depend on it; --threads {last.threads} repeats them).",
        f"- Files: `{rel}/metrics.jsonl`, `{rel}/curves.png`, `{rel}/last.pt`.", ""])


def add_to_report(folder: Path, section: str) -> None:
    """Put (or replace) the Training section of the design's report.md."""
    report = folder / "report.md"
    if not report.is_file():
        return
    text = without_training(report.read_text(encoding="utf-8"))
    write_atomic(report, text + "\n\n" + section, root=folder)


def train_design(path: Path, config: TrainConfig, out: Path | None = None, resume: bool = False,
                 say: Callable[[str], None] = print, terminal: bool = True, trust_edits: bool = False,
                 rebuild_head: bool = False) -> list[EpochMetrics]:
    say = quiet_unless_main(say)
    folder, model_py = locate_design(path)
    root = Path(out) if out else folder
    out = Path(out) if out else folder / "train"
    build = load_builder(model_py, trust_edits)
    check_writable(out, root)
    data, head = design_data(folder, config, say, terminal, rebuild_head)
    history, main = run_training(build, data, config, out, resume, say, terminal, root)
    if main:
        add_to_report(folder, training_section(history, config, data, head, out, folder))
    return history
