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
    stages_scaled: bool = False  # lr_decay_stages are the recipe's scaled to `epochs` (--epochs without the stages)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch size must be at least 1 and lr positive")
        if sorted(self.lr_decay_stages) != list(self.lr_decay_stages):
            raise ValueError(f"lr decay stages must increase: {self.lr_decay_stages}")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def decay(self) -> str:
        """How the lr decays, as the start line and the reports say it: `x0.1 after epochs 19, 22, 26 (the recipe's,
        scaled to --epochs 30)`. A stage counts the epochs before the decay: epoch m+1 is the first at the new lr."""
        if not self.lr_decay_stages:
            return "never decayed"
        scaled = f" (the recipe's, scaled to --epochs {self.epochs})" if self.stages_scaled else ""
        return f"x{self.lr_decay_rate} after epochs {', '.join(map(str, self.lr_decay_stages))}{scaled}"

    def updated(self, **overrides) -> "TrainConfig":
        unknown = set(overrides) - set(self.names())
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return type(self)(**{**self.__dict__, **overrides})


def scaled_stages(epochs: int) -> list[int]:
    """The recipe's lr decay stages at the same fractions of `epochs`, each inside the run and once: a run shorter
    than the recipe's first stage (150 of 240) would otherwise never decay."""
    recipe = TrainConfig()
    return sorted({s for m in recipe.lr_decay_stages if 0 < (s := round(m * epochs / recipe.epochs)) < epochs})


def parse_stages(text: str) -> list[int]:
    """`150,180,210` -> [150, 180, 210]; an empty string means no decay."""
    try:
        return [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise ValueError(f"lr decay stages must be epochs separated by commas, e.g. 150,180,210; got {text!r}") \
            from None
