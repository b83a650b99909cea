"""MiniMobileNetV2: a model designed with gptnet.

Input 3x32x32, 10 classes by default.
Params: 14,682; MACs: 1,458,952 at 3x32x32, 71,475,976 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 10 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class InvertedResidual(nn.Module):
    """The InvertedResidual block."""

    def __init__(self, inp, oup, stride, expand_ratio) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(inp, inp * expand_ratio, kernel_size=1, bias=False),
            nn.BatchNorm2d(inp * expand_ratio),
            nn.ReLU6(),
            nn.Conv2d(inp * expand_ratio, inp * expand_ratio, kernel_size=3, stride=stride, padding=1, groups=inp * expand_ratio, bias=False),
            nn.BatchNorm2d(inp * expand_ratio),
            nn.ReLU6(),
            nn.Conv2d(inp * expand_ratio, oup, kernel_size=1, bias=False),
            nn.BatchNorm2d(oup),
        )
        self.use_residual = stride == 1 and inp == oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_residual:
            x = self.conv(x) + x
        else:
            x = self.conv(x)
        return x


class MiniMobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU6(),
            InvertedResidual(16, 24, 2, 6),
            InvertedResidual(24, 24, 1, 6),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(24, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 10) -> MiniMobileNetV2:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 10) logits."""
    return MiniMobileNetV2(num_classes=num_classes)
