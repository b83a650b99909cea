"""MiniVGG: a model designed with gptnet.

Input 3x32x32, 10 classes by default.
Params: 1,099,018; MACs: 49,568,000 at 3x32x32, 2,422,282,496 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 10 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class MiniVGG(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(64, 128, kernel_size=3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(128, 256, kernel_size=3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(256, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 10) -> MiniVGG:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 10) logits."""
    return MiniVGG(num_classes=num_classes)
