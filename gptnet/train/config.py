"""The training recipe: the article's by default (seeds/000), every field overridable from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class TrainConfig:
    epochs: int = 240  # the article trains both models 240 epochs
    batch_size: int = 64  # images per step, per process under torchrun
    lr: float = 0.05  # SGD learning rate at the start
    lr_decay_stages: list[int] = field(default_factory=lambda: [150, 180, 210])  # epochs where lr is multiplied
    lr_decay_rate: float = 0.1  # ... by this
    momentum: float = 0.9  # SGD momentum
    wd: float = 5e-4  # weight decay (L2), as in the article
    data: str = "cifar100"  # cifar100 (the article's), cifar10, mnist5k, digits
    data_dir: str = "data"  # where CIFAR files are (or go, with download)
    download: bool = False  # fetch CIFAR from the internet when missing
    device: str = "auto"  # auto, cpu, cuda, mps
    workers: int = 0  # DataLoader worker processes; 0 keeps runs reproducible and light on 2-core machines
    seed: int = 0  # seeds data order, augmentation and initialization; runs with one seed are identical on CPU
    flip: bool = True  # horizontal flips in augmentation: CIFAR and image folders (digits never flip)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch size must be at least 1 and lr positive")
        if sorted(self.lr_decay_stages) != list(self.lr_decay_stages):
            raise ValueError(f"lr decay stages must increase: {self.lr_decay_stages}")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updated(self, **overrides) -> "TrainConfig":
        unknown = set(overrides) - set(self.names())
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return type(self)(**{**self.__dict__, **overrides})


def parse_stages(text: str) -> list[int]:
    """`150,180,210` -> [150, 180, 210]; an empty string means no decay."""
    try:
        return [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise ValueError(f"lr decay stages must be epochs separated by commas, e.g. 150,180,210; got {text!r}") \
            from None
