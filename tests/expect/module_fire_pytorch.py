"""sd855-net-10m-c10: a model designed with gptnet.

Input 3x32x32, 10 classes by default.
Params: 26,922; MACs: 6,554,250 at 3x32x32, 321,157,770 at 224x224.
Target: Qualcomm Snapdragon 855 (sd855); budget 10M.
Regenerate (in this folder): gptnet design --budget 10M --target sd855 --classes 10 --input 3x32x32 --replay conversation.json --yes --out .
"""

import torch
from torch import nn


class Fire(nn.Module):
    """The Fire block."""

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.branch1 = nn.Sequential(
            nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1),
            nn.ReLU(inplace=True),
        )
        self.branch2 = nn.Sequential(
            nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        x = self.squeeze_activation(x)
        x = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return x


class Sd855Net10mC10(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(128, num_classes, kernel_size=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_model(num_classes: int = 10) -> Sd855Net10mC10:
    """The model, ready to use: `build_model()(torch.randn(1, 3, 32, 32))` gives (1, 10) logits."""
    return Sd855Net10mC10(num_classes=num_classes)
