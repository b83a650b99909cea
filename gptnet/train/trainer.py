"""The training loop: SGD with momentum and step decay (the article's recipe), cross-entropy, acc@1/@5 on the train
and test sets each epoch, a checkpoint every epoch, `best.pt` by test acc@1, metrics.jsonl and curves.png.

A run is reproducible: each epoch's data order and augmentation are seeded from (seed, epoch), so an interrupted
run resumed from its checkpoint gives the same numbers as one that never stopped (on the CPU)."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from ..errors import GptnetError, UsageError
from ..output import refuse_links, write_atomic
from . import checkpoint
from .config import TrainConfig
from .data import Data
from .distributed import Dist, setup
from .progress import Progress


@dataclass
class EpochMetrics:
    epoch: int
    lr: float
    train_loss: float
    train_acc1: float
    train_acc5: float
    test_loss: float
    test_acc1: float
    test_acc5: float
    seconds: float
    images_per_s: float  # training images per second over the epoch's training phase, all processes together
    train_images: int = 0  # images trained on this epoch, all processes together (a sampler may pad by a few)
    threads: int = 0  # torch's CPU threads: the numbers depend on it, as it changes the order of float sums


class Interrupted(GptnetError):
    exit_code = 130


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here", "use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: no Apple GPU is available here", "use --device cpu or auto")
    if name not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unknown device {name!r}", "choose auto, cpu, cuda or mps")
    return torch.device(name)


def _topk(logits: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    hit = top.eq(y.unsqueeze(1))
    return int(hit[:, :1].sum()), int(hit.any(dim=1).sum())


class Trainer:
    def __init__(self, build: Callable[[int], nn.Module], data: Data, config: TrainConfig, out: Path,
                 say: Callable[[str], None] = print, terminal: bool = True, root: Path | None = None) -> None:
        self.config, self.data, self.out, self.terminal = config, data, Path(out), terminal
        self.root = Path(root) if root else self.out  # the folder the user named: no link below it is followed
        self.device = pick_device(config.device)
        self.dist: Dist = setup(self.device)
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.say = say if self.dist.main else (lambda s: None)
        torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
        model = build(data.classes).to(self.device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.net = nn.parallel.DistributedDataParallel(model, device_ids=[self.device] if self.cuda else None) \
            if self.dist.active else model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.wd)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=config.lr_decay_stages,
                                                              gamma=config.lr_decay_rate)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda)
        self.loss = nn.CrossEntropyLoss()
        self.epoch = 0
        self.best = -1.0
        self.threads = torch.get_num_threads()
        self.history: list[EpochMetrics] = []

    # ---- state
    def _state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(), "epoch": self.epoch,
                "best": self.best, "history": [asdict(m) for m in self.history], "rng": checkpoint.rng_state(),
                "config": asdict(self.config)}

    def resume(self) -> None:
        path = self.out / "last.pt"
        refuse_links(path, self.root, "read")
        if not path.is_file():
            raise UsageError(f"nothing to resume: {path} does not exist", "train without --resume first")
        state = checkpoint.load(path, keys=("model", "optimizer", "scheduler", "scaler", "epoch", "best", "history",
                                            "rng"))
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            self.epoch, self.best = int(state["epoch"]), float(state["best"])
            self.history = [EpochMetrics(**m) for m in state["history"]]
            checkpoint.set_rng_state(state["rng"])
        except (RuntimeError, ValueError, TypeError, KeyError, AttributeError) as e:
            raise checkpoint.mismatch(path, e) from None
        self._follow_stages()
        if self.dist.main:  # metrics.jsonl is what the checkpoint knows, even if a kill came between the two
            self._write_metrics()
        self.say(f"Resuming after epoch {self.epoch} from {path}")
        before = self.history[-1].threads if self.history else self.threads
        if before != self.threads:
            self.say(f"note: torch CPU threads: {before} before, {self.threads} now, so the numbers will differ from "
                     f"an uninterrupted run's (--threads {before} would match)")

    def _follow_stages(self) -> None:
        """Decay at this run's stages, not the checkpoint's: a resume with more --epochs moves the scaled ones, and
        the start line said these. The lr ahead is what they give after the epochs done."""
        stages, rate = self.config.lr_decay_stages, self.config.lr_decay_rate
        if self.scheduler.milestones == Counter(stages) and self.scheduler.gamma == rate:
            return  # the same schedule: left as the checkpoint has it, to the last bit
        self.scheduler.milestones, self.scheduler.gamma = Counter(stages), rate
        passed = sum(s <= self.epoch for s in stages)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * rate ** passed

    def _write_metrics(self) -> None:
        write_atomic(self.out / "metrics.jsonl", "".join(json.dumps(asdict(m)) + "\n" for m in self.history),
                     root=self.root)

    # ---- one epoch
    def _loader(self, dataset, train: bool, epoch: int) -> DataLoader:
        sampler = DistributedSampler(dataset, shuffle=train, seed=self.config.seed, drop_last=False) \
            if self.dist.active else None
        if sampler is not None:
            sampler.set_epoch(epoch)
        g = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        # a last training batch of one image is left out (a different one each epoch, as the order is shuffled):
        # BatchNorm cannot normalize a single image and torch refuses it, e.g. 9 images in batches of 4
        lone = train and len(sampler if sampler is not None else dataset) % self.config.batch_size == 1
        return DataLoader(dataset, batch_size=self.config.batch_size, shuffle=train and sampler is None,
                          sampler=sampler, generator=g, num_workers=self.config.workers,
                          pin_memory=self.cuda, drop_last=lone)

    def _run(self, loader: DataLoader, train: bool, label: str) -> tuple[float, float, float, float, float]:
        self.net.train(train)
        sums = [0.0, 0.0, 0.0, 0.0]  # loss * n, top-1 hits, top-5 hits, n
        start = time.perf_counter()
        bar = Progress(label, len(loader), "batches", terminal=self.terminal,
                       say=self.say if self.dist.main else None)
        with bar, torch.set_grad_enabled(train):
            for x, y in loader:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                if self.cuda:
                    x = x.to(memory_format=torch.channels_last)
                with torch.autocast(self.device.type, enabled=self.cuda):
                    logits = self.net(x)
                    loss = self.loss(logits, y)
                if train:
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scaler.scale(loss).backward()
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    if not math.isfinite(loss.item()):
                        raise GptnetError(f"the loss became {loss.item()} in epoch {self.epoch + 1}",
                                          "lower --lr, or check the data")
                top1, top5 = _topk(logits.float(), y)
                n = len(y)
                sums = [sums[0] + loss.item() * n, sums[1] + top1, sums[2] + top5, sums[3] + n]
                bar.advance(n)
        seconds = time.perf_counter() - start
        loss_sum, top1, top5, n, seconds = self.dist.sum([*sums, seconds], self.device)
        seconds /= self.dist.world
        return loss_sum / n, 100 * top1 / n, 100 * top5 / n, n, seconds

    def fit(self) -> list[EpochMetrics]:
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            while self.epoch < self.config.epochs:
                self._epoch()
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted during epoch {self.epoch + 1}; {self.out / 'last.pt'} holds epoch "
                              f"{self.epoch}", "continue with the same command and --resume") from None
        finally:
            self.dist.close()
        return self.history

    def _epoch(self) -> None:
        epoch = self.epoch
        torch.manual_seed(self.config.seed * 100_003 + epoch)  # augmentation draws: the same after a resume
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        tag = f"epoch {epoch + 1}/{self.config.epochs}"
        tr_loss, tr1, tr5, n, tr_seconds = self._run(self._loader(self.data.train, True, epoch), True, f"{tag} train")
        te_loss, te1, te5, _, _ = self._run(self._loader(self.data.test, False, epoch), False, f"{tag} test")
        self.scheduler.step()
        self.epoch += 1
        m = EpochMetrics(epoch=self.epoch, lr=lr, train_loss=tr_loss, train_acc1=tr1, train_acc5=tr5,
                         test_loss=te_loss, test_acc1=te1, test_acc5=te5, seconds=time.perf_counter() - start,
                         images_per_s=n / tr_seconds if tr_seconds else 0.0, train_images=int(n),
                         threads=self.threads)
        self.history.append(m)
        improved = te1 > self.best
        self.best = max(self.best, te1)
        if self.dist.main:
            checkpoint.save(self.out / "last.pt", self._state(), self.root)
            if improved:
                checkpoint.save(self.out / "best.pt", {"model": self.model.state_dict(), "epoch": self.epoch,
                                                       "test_acc1": te1, "config": asdict(self.config),
                                                       "classes": list(self.data.labels)}, self.root)
            self._write_metrics()
            from .plots import plot_curves

            plot_curves(self.history, self.out / "curves.png", self.root)
        self.dist.barrier()
        self.say(f"{tag}: train loss {tr_loss:.4f} acc@1 {tr1:.2f}% acc@5 {tr5:.2f}% | test loss {te_loss:.4f} "
                 f"acc@1 {te1:.2f}% acc@5 {te5:.2f}% | lr {lr:g} | {m.seconds:.1f} s, {m.images_per_s:.0f} img/s")
