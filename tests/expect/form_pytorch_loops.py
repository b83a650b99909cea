"""LoopResNet: a model designed with gptnet.

Input 3x32x32, 10 classes by default.
Params: 298,026; MACs: 48,670,080 at 3x32x32, 2,384,766,336 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 10 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class LoopResNetBlock1(nn.Module):
    """the add in LoopResNet.forward"""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x) + x
        return x


class LoopResNetBlock2(nn.Module):
    """the add in LoopResNet.forward"""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(64),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x) + x
        return x


class LoopResNetBlock3(nn.Module):
    """the add in LoopResNet.forward"""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(128),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x) + x
        return x


class LoopResNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            LoopResNetBlock1(),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            LoopResNetBlock2(),
            nn.ReLU(),
            nn.Conv2d(64, 128, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            LoopResNetBlock3(),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 10) -> LoopResNet:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 10) logits."""
    return LoopResNet(num_classes=num_classes)
