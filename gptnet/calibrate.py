"""`gptnet calibrate`: measure this machine with torch and write the `host` target profile, so that latency
estimates can be checked against measurements on real hardware (benchmarks/latency_accuracy.py).

Each cost kind (dense conv, depthwise conv, Linear, BatchNorm, activation, pool, add, concat, copy, view) is timed
on varied shapes at batch 1 (warm-up, repeats, medians), and a line ms = c0 + c1 x MFLOP + c2 x MB is fitted to it
with non-negative coefficients, weighted so that small layers count as much as large ones."""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

from .latency import Work, work_from_torch
from .output import check_writable
from .targets import save_profile, user_dir
from .threads import use_threads
from .units import plural

REPEATS = 30


def time_call(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Milliseconds of fn() after warm-up: the lower quartile of the repeats, which a busy or virtualized machine
    disturbs far less than the median (interference only ever adds time)."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1000 * statistics.quantiles(samples, n=4)[0]


def time_module(module, shape: tuple[int, ...], repeats: int = REPEATS) -> float:
    import torch

    x = torch.randn(1, *shape)
    module.eval()
    with torch.inference_mode():
        return time_call(lambda: module(x), repeats)


def _cases():
    """(kind, module factory, input shape) for every shape measured."""
    import torch
    from torch import nn

    class Add(nn.Module):
        def forward(self, x):
            return x + x

    class Cat(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], 1)

    class Shuffle(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous()

    maps = [(16, 56), (32, 32), (64, 28), (128, 14), (256, 8), (24, 112), (96, 16), (512, 4)]
    # convs over the space designs live in: thin and wide, large maps and 1x1 maps, expanding and reducing
    convs = [(3, 32, 112), (3, 32, 32), (16, 16, 112), (16, 96, 112), (24, 144, 56), (32, 32, 56), (32, 64, 32),
             (64, 64, 28), (64, 128, 16), (96, 576, 14), (128, 128, 14), (128, 256, 8), (160, 960, 7),
             (256, 256, 7), (256, 512, 4), (320, 1280, 7), (512, 512, 2), (512, 1024, 2), (1024, 1024, 1),
             (624, 1248, 2), (1024, 256, 4), (576, 96, 14), (960, 160, 7), (144, 24, 56)]
    for (cin, cout, hw), k, stride in itertools.product(convs, (1, 3), (1, 2)):
        if stride == 2 and hw < 4:
            continue
        kind = "Conv1x1" if k == 1 else "Conv2d"
        yield kind, lambda i=cin, o=cout, k=k, s=stride: nn.Conv2d(i, o, k, s, k // 2), (cin, hw, hw)
    for (c, hw), stride in itertools.product(maps + [(32, 112), (144, 56), (576, 14), (960, 7), (1024, 2)],
                                             (1, 2)):
        yield "DepthwiseConv2d", lambda c=c, s=stride: nn.Conv2d(c, c, 3, s, 1, groups=c), (c, hw, hw)
    for n_in, n_out in ((64, 10), (256, 100), (512, 1000), (1024, 100), (1280, 1000), (2048, 512)):
        yield "Linear", lambda i=n_in, o=n_out: nn.Linear(i, o), (n_in,)
    for c, hw in maps + [(64, 112), (32, 224)]:
        yield "BatchNorm2d", lambda c=c: nn.BatchNorm2d(c), (c, hw, hw)
        yield "Activation", lambda: nn.ReLU(), (c, hw, hw)
        yield "Pool", lambda: nn.MaxPool2d(3, 2, 1), (c, hw, hw)
        yield "Add", lambda: Add(), (c, hw, hw)
        yield "Concat", lambda: Cat(), (c, hw, hw)
        yield "Copy", lambda: Shuffle(), (c, hw, hw)
        yield "Free", lambda: nn.Flatten(), (c, hw, hw)


def nonneg_lstsq(X, y) -> list[float]:
    """Non-negative coefficients minimizing the relative error of X @ coef against y, by least squares over every
    subset of the columns (few columns here, so exhaustive search is exact and cheap)."""
    import numpy as np

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    weight = 1 / np.maximum(y, 1e-4)
    n = X.shape[1]
    best, best_err = [0.0] * n, float("inf")
    for cols in (c for r in range(1, n + 1) for c in itertools.combinations(range(n), r)):
        coef, *_ = np.linalg.lstsq(X[:, cols] * weight[:, None], y * weight, rcond=None)
        if (coef < 0).any():
            continue
        full = [0.0] * n
        for col, v in zip(cols, coef):
            full[col] = float(v)
        err = float(((((X @ np.array(full)) - y) * weight) ** 2).sum())
        if err < best_err:
            best, best_err = full, err
    return best


def _fit(points: list[tuple[Work, float]]) -> list[float]:
    """ms = c0 + c1 x MFLOP + c2 x MB for one kind, weighted so that small layers count as much as large ones."""
    return nonneg_lstsq([[1.0, w.mflops, w.mbytes] for w, _ in points], [ms for _, ms in points])


def _synthetic_networks():
    """Small random CNNs (plain, depthwise-separable, residual) at several widths and inputs: layers in a model
    run colder than a layer timed alone (their weights are not in cache), and this measures by how much."""
    import torch
    from torch import nn

    class Res(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1),
                                      nn.BatchNorm2d(c))

        def forward(self, x):
            return torch.relu(x + self.body(x))

    def plain(widths, dw: bool, res: bool):
        layers, c = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, 2 if i else 1, 1), nn.BatchNorm2d(w), nn.ReLU()]
            if dw:
                layers += [nn.Conv2d(w, w, 3, 1, 1, groups=w), nn.BatchNorm2d(w), nn.ReLU(), nn.Conv2d(w, w, 1),
                           nn.BatchNorm2d(w), nn.ReLU()]
            if res:
                layers.append(Res(w))
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))

    g = torch.Generator().manual_seed(0)
    for n in range(12):
        base = int(torch.randint(8, 64, (1,), generator=g)) // 8 * 8 + 8
        widths = [base * 2 ** i for i in range(4 + n % 2)]
        size = (32, 64, 128, 224)[n % 4]
        yield plain(widths, dw=n % 3 != 1, res=n % 3 == 1), (3, size, size)


def _composition(calibration: dict[str, list[float]], repeats: int = REPEATS) -> list[float]:
    """measured = a x (sum of per-layer predictions) + b x (layers), fitted on the synthetic networks."""
    import numpy as np

    from .latency import Work  # noqa: F401 (the predictions below are built from Work rows)

    rows, y = [], []
    for net, shape in _synthetic_networks():
        works = work_from_torch(net, shape)
        raw = sum(max(0.0, c[0] + c[1] * w.mflops + c[2] * w.mbytes)
                  for w in works for c in [calibration.get(w.kind, calibration["Activation"])])
        rows.append([raw, len(works)])
        y.append(time_module(net.eval(), shape, repeats=repeats))
    X, y = np.array(rows), np.array(y)
    weight = 1 / y
    coef, *_ = np.linalg.lstsq(X * weight[:, None], y * weight, rcond=None)
    if (coef < 0).any():  # keep the scale only
        coef = np.array([float((X[:, 0] * y * weight ** 2).sum() / ((X[:, 0] * weight) ** 2).sum()), 0.0])
    return [float(coef[0]), float(coef[1])]


def measure_peak_and_bandwidth() -> tuple[float, float]:
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    ms = time_call(lambda: a @ b, 10)
    gflops = 2 * 1024 ** 3 / (ms / 1000) / 1e9
    src = torch.randn(16 * 1024 * 1024)  # 64 MB, well past the caches
    dst = torch.empty_like(src)
    ms = time_call(lambda: dst.copy_(src), 10)
    gbs = 2 * src.numel() * 4 / (ms / 1000) / 1e9  # read and write
    return gflops, gbs


def calibrate(out: Path | None = None, say: Callable[[str], None] = print, repeats: int = REPEATS,
              threads: int | None = None) -> Path:
    """Measure and write the host profile on `threads` torch threads (None: the default); fewer `repeats` per
    timing is faster and noisier."""
    import torch

    out = Path(out) if out else user_dir() / "host.json"
    check_writable(out.parent)  # before minutes of measuring
    threads = use_threads(threads)
    points: dict[str, list[tuple[Work, float]]] = {}
    cases = list(_cases())
    say(f"Measuring {len(cases)} layer shapes on this machine (torch on {plural(threads, 'thread')})...")
    for n, (kind, make, shape) in enumerate(cases, 1):
        module = make()
        works = [w for w in work_from_torch(module, shape) if w.kind == kind]
        ms = time_module(module, shape, repeats)
        points.setdefault(kind, []).append((Work(index="0", layer=kind, kind=kind,
                                                 mflops=sum(w.mflops for w in works),
                                                 mbytes=sum(w.mbytes for w in works)), ms))
        if n % 40 == 0:
            say(f"  {n}/{len(cases)}")
    calibration = {kind: _fit(p) for kind, p in points.items()}
    say("Measuring whole synthetic networks for how layers compose...")
    calibration["_model"] = _composition(calibration, repeats)
    gflops, gbs = measure_peak_and_bandwidth()
    cpu = platform.processor() or platform.machine()
    source = f"measured by gptnet calibrate on {time.strftime('%Y-%m-%d')} with torch {torch.__version__}"
    profile = {
        "name": "host", "title": f"this machine ({cpu}, {os.cpu_count()} cores, torch on "
                                 f"{plural(threads, 'thread')})",
        "notes": ["Measured, not published: latency estimates for this target are checked against measurements "
                  "by benchmarks/latency_accuracy.py."],
        "operators": ["Conv2d", "DepthwiseConv2d", "GroupConv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                      "AdaptiveMaxPool2d", "BatchNorm2d", "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Hardswish",
                      "Hardsigmoid", "Sigmoid", "Tanh", "Mish", "ELU", "Flatten", "Linear", "Dropout", "Identity",
                      "Add", "Concat", "LayerNorm", "Upsample"],
        "activation": "ReLU", "default_backend": "cpu",
        "memory_bandwidth": {"value": round(gbs, 2), "unit": "GB/s", "source": f"{source}: a 64 MB copy"},
        "backends": {"cpu": {"title": cpu, "precision": "fp32", "threads": threads,
                             "peak_gflops": {"fp32": {"value": round(gflops, 1), "unit": "GFLOP/s",
                                                      "source": f"{source}: 1024x1024 matmul"}},
                             "operators": [], "calibration": calibration}},
    }
    profile["backends"]["cpu"]["operators"] = profile["operators"]
    save_profile(profile, out)
    say(f"Wrote {out}: fp32 matmul {gflops:.1f} GFLOP/s, copy bandwidth {gbs:.1f} GB/s, "
        f"{len(calibration)} cost kinds fitted")
    return out
