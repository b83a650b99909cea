"""The accuracy proxy, run in worker processes: a candidate's model.py (imported only through the verifier) trained
for a few hundred steps on a fixed subset of the training set, then its accuracy on training images held out of
every proxy training (validation images; the test set is never used to choose, so the winner's test accuracy
stays an honest estimate).

The recipe is the article's scaled down: SGD with momentum 0.9, lr 0.05, weight decay 5e-4, batch 64, the lr cut
x0.1 at the same fractions of the run as the article's epochs 150, 180 and 210 of 240; the training set's
augmentation. Every number is deterministic for a candidate: the search's torch thread count (--threads), the seed
fixing the initial weights, the subset, the data order and the augmentation, so a rerun, a resume or a replay
measures the same accuracy. Torch is imported only here, in the workers: the search itself never needs it."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ..train.config import TrainConfig
from ..workers import DIED

EVAL_IMAGES = 2_000  # validation images a proxy accuracy is measured on, at most (half of mnist5k's training set)


class Recipe(BaseModel):
    """What a proxy accuracy depends on, besides the model."""

    data: str = Field(description="data set: digits, mnist5k, cifar10 or cifar100")
    data_dir: str = Field("data", description="where CIFAR files are")
    input: tuple[int, int, int] = Field(description="the model's input, C x H x W")
    steps: int = Field(150, ge=1, description="SGD steps")
    subset: int = Field(1_000, ge=1, description="training images the steps draw from (a fixed seeded subset)")
    seed: int = Field(0, description="initial weights, subset, data order and augmentation")
    seeds: int = Field(1, ge=1, description="trainings averaged, with seeds seed, seed+1, ...: a single short "
                       "training's accuracy moves by a point or more between seeds")
    on: Literal["validation", "test"] = Field("validation", description="validation: measured on training images "
                                              "held out of every training (how a search compares candidates); test: "
                                              "trained on the whole training set, measured on the test set")

    def describe(self) -> str:
        measured = f"accuracy on up to {EVAL_IMAGES:,} training images held out of it" if self.on == "validation" \
            else "test accuracy"
        seeds = f"seed {self.seed}" if self.seeds == 1 else \
            f"the mean of seeds {self.seed}-{self.seed + self.seeds - 1}"
        return (f"{self.steps} SGD steps of batch {TrainConfig().batch_size} on a fixed subset of up to "
                f"{self.subset:,} {self.data} training images ({seeds}), {measured}")


class Measured(BaseModel):
    accuracy: float | None = Field(None, description="acc@1 in percent on what the recipe measures on (held-out "
                                    "training images, or the test set); None when training failed")
    train_seconds: float = 0.0
    error: str | None = Field(None, description="why training failed")


def start_worker(threads: int = 1) -> None:
    """Worker set-up (after workers.py has tied the worker's life to the search's): `threads` torch threads (the
    search's --threads; the numbers depend on the count)."""
    import torch

    torch.set_num_threads(threads)


@functools.cache
def _data(name: str, shape: tuple[int, int, int], data_dir: str):
    from ..train.data import load_data

    return load_data(name, shape, data_dir)


def _schedule(steps: int) -> list[int]:
    """The article's lr decay epochs as the same fractions of `steps`."""
    config = TrainConfig()
    return [max(1, round(steps * s / config.epochs)) for s in config.lr_decay_stages]


def _split(n: int):
    """The training set's fixed validation images (EVAL_IMAGES at most, half the set at most; the same for every
    seed) and the rest, which proxy trainings draw their subset from. Candidates are compared on these, never on
    the test set, so the test accuracy of the search's winner is not selected for."""
    import torch

    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    held = min(EVAL_IMAGES, n // 2)
    return order[:held], order[held:]


def train_proxy(model_py: str, recipe: Recipe) -> Measured:
    """Train the model in `model_py` by the recipe and measure it, the mean of its seeds' accuracies (training
    seconds summed); a failure is returned, not raised. The model.py is verified and loaded once for every seed."""
    from ..errors import GptnetError
    from ..train.runner import load_builder

    started, runs = time.perf_counter(), []
    try:
        build = load_builder(Path(model_py))
        data = _data(recipe.data, tuple(recipe.input), recipe.data_dir)
        for seed in range(recipe.seed, recipe.seed + recipe.seeds):
            runs.append(_train_once(build, data, recipe, seed))
            if runs[-1].error:
                return runs[-1].model_copy(update={"train_seconds": sum(r.train_seconds for r in runs)})
    except GptnetError as e:
        return Measured(error=e.message, train_seconds=time.perf_counter() - started)
    except Exception as e:  # a candidate the validators passed but torch refuses: the search goes on without it
        return Measured(error=f"{type(e).__name__}: {str(e)[:200]}", train_seconds=time.perf_counter() - started)
    return Measured(accuracy=sum(r.accuracy for r in runs) / len(runs),
                    train_seconds=sum(r.train_seconds for r in runs))


def _train_once(build, data, recipe: Recipe, seed: int) -> Measured:
    """One training by the recipe, with `seed` for its weights, subset, data order and augmentation; a loss that
    is no longer finite is returned as a failure, anything torch raises is raised."""
    import torch
    from torch.utils.data import DataLoader, Subset

    config = TrainConfig()
    held, pool = _split(len(data.train)) if recipe.on == "validation" else (None, torch.arange(len(data.train)))
    g = torch.Generator().manual_seed(seed)
    subset = pool[torch.randperm(len(pool), generator=g)[:recipe.subset]].tolist()
    torch.manual_seed(seed)  # initial weights and augmentation draws
    model = build(data.classes)
    start = time.perf_counter()  # the training and its test; not the data set, loaded once per worker
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.wd)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=_schedule(recipe.steps),
                                                     gamma=config.lr_decay_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(Subset(data.train, subset), batch_size=config.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed),
                        drop_last=len(subset) >= config.batch_size)  # a subset under one batch is one batch
    model.train()
    step = 0
    while step < recipe.steps:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                return Measured(error=f"the loss became {loss.item()} at step {step + 1}",
                                train_seconds=time.perf_counter() - start)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step == recipe.steps:
                break
    model.eval()
    hits = 0
    with torch.no_grad():
        measured_on = data.test if held is None else Subset(data.train.base, held.tolist())
        for x, y in DataLoader(measured_on, batch_size=256):
            hits += int((model(x).argmax(1) == y).sum())
    return Measured(accuracy=100 * hits / len(measured_on), train_seconds=time.perf_counter() - start)


def naswot(model_py: str, recipe: Recipe) -> float | None:
    """A zero-cost proxy (Mellor et al., "Neural Architecture Search without Training", 2021): how differently the
    untrained network's activations split one batch of training images, as the log-determinant of the batch's
    kernel of binary activation codes. Higher is better; None when the network has no activation module."""
    import torch

    from ..spec.layers import ACTIVATIONS
    from ..train.runner import load_builder

    data = _data(recipe.data, tuple(recipe.input), recipe.data_dir)
    g = torch.Generator().manual_seed(recipe.seed)
    torch.manual_seed(recipe.seed)  # the training set's augmentation draws from torch's own generator
    pool = _split(len(data.train))[1]  # the images proxy trainings draw from; validation images stay unseen
    batch = torch.stack([data.train[i][0] for i in pool[torch.randperm(len(pool), generator=g)[:64]].tolist()])
    torch.manual_seed(recipe.seed)
    model = load_builder(Path(model_py))(data.classes)
    kernel = torch.zeros(len(batch), len(batch), dtype=torch.float64)

    def hook(module, inputs, output) -> None:
        nonlocal kernel
        codes = (inputs[0] > 0).flatten(1).double()
        kernel += codes @ codes.T + (1 - codes) @ (1 - codes).T

    hooks = [m.register_forward_hook(hook) for m in model.modules() if type(m).__name__ in ACTIVATIONS]
    if not hooks:
        return None
    with torch.no_grad():
        model.train()(batch)
    return float(torch.linalg.slogdet(kernel)[1])


def score_task(task: tuple[int, str, dict]) -> tuple[int, float | None]:
    """A worker task: (index, model.py path, recipe) -> (index, zero-cost score); a network torch refuses scores
    None."""
    index, model_py, recipe = task
    try:
        return index, naswot(model_py, Recipe.model_validate(recipe))
    except Exception:  # noqa: BLE001 - its proxy training will say what is wrong with it
        return index, None


def run_task(task: tuple[int, str, dict]) -> tuple[int, dict]:
    """A worker task: (index, model.py path, recipe) -> (index, measurement), as plain data across the pipe."""
    index, model_py, recipe = task
    return index, train_proxy(model_py, Recipe.model_validate(recipe)).model_dump()


def measurement(reply: tuple[int, dict] | None) -> Measured:
    """A run_task reply as a measurement; None (from Workers.map: the worker died) as the failure it is."""
    return Measured(error=DIED) if reply is None else Measured.model_validate(reply[1])
