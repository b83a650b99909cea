"""sd855-net-10m-c100: a model designed with gptnet.

Input 3x32x32, 100 classes by default.
Params: 25,988; MACs: 5,822,784 at 3x32x32, 285,006,144 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 100 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class ConvBlock(nn.Module):
    """The ConvBlock block."""

    def __init__(self, in_channels, out_channels, stride=1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.bn(x)
        x = self.relu(x)
        return x


class Sd855Net10mC100(nn.Module):
    def __init__(self, num_classes: int = 100) -> None:
        super().__init__()
        self.model = nn.Sequential(
            ConvBlock(3, 32),
            ConvBlock(32, 64, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 100) -> Sd855Net10mC100:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 100) logits."""
    return Sd855Net10mC100(num_classes=num_classes)
