"""SnapNet: a model designed with gptnet.

Input 3x32x32, 10 classes by default.
Params: 94,762; MACs: 10,560,896 at 3x32x32, 517,416,320 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 10 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class SnapNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 10) -> SnapNet:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 10) logits."""
    return SnapNet(num_classes=num_classes)
