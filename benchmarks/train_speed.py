"""Training throughput at 32x32, batch 64, fp32 on this machine's default device: the article's model and
torchvision's ResNet-18, each also as a fraction of the fp32 matmul throughput measured in the same run.

    python benchmarks/train_speed.py [--steps N] [--device cpu]

A training step costs about 3x the forward MACs (forward, and two products backward), 2 FLOPs each; the fraction
is (that many FLOPs per image x images/s) / (matmul FLOP/s), i.e. how close each network gets to the machine's
best dense arithmetic."""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import thop
import torch
from torch import nn
from torchvision.models import resnet18

ROOT = Path(__file__).resolve().parents[1]


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def images_per_s(model: nn.Module, device: torch.device, steps: int, batch: int = 64) -> float:
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 100, (batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def article_model() -> nn.Module:
    spec = importlib.util.spec_from_file_location("cnn_gpt", ROOT / "generated" / "cnn_gpt" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model(num_classes=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    peak = matmul_flops(device)
    print(f"fp32 matmul (2048x2048) on {device}: {peak / 1e9:.1f} GFLOP/s")
    for name, model in (("CNN-GPT (generated/cnn_gpt)", article_model()), ("ResNet-18 (torchvision)",
                                                                          resnet18(num_classes=100))):
        macs, _ = thop.profile(model.eval(), inputs=(torch.randn(1, 3, 32, 32),), verbose=False)
        rate = images_per_s(model, device, args.steps)
        used = 6 * macs * rate  # 3 x forward MACs per training image, 2 FLOPs per MAC
        print(f"{name}: {rate:.0f} training images/s at 32x32, batch 64; {macs / 1e6:.1f}M MACs/image forward; "
              f"{used / 1e9:.1f} GFLOP/s = {100 * used / peak:.1f}% of matmul throughput")


if __name__ == "__main__":
    main()
