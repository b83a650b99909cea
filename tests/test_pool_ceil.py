"""Pools with ceil_mode: read from every form, the shape rule as torch's (a last, partial window), rendered, and
counted as thop counts them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import thop_counts
from gptnet.parse import parse_answer
from gptnet.spec.layers import AvgPool2d, MaxPool2d


@pytest.mark.parametrize("side", [5, 6, 7, 9, 13])
@pytest.mark.parametrize(("cls", "kwargs"), [
    (MaxPool2d, dict(kernel_size=2)), (MaxPool2d, dict(kernel_size=3, stride=2)),
    (MaxPool2d, dict(kernel_size=3, stride=2, padding=1)), (AvgPool2d, dict(kernel_size=2)),
    (AvgPool2d, dict(kernel_size=3, stride=2)), (AvgPool2d, dict(kernel_size=3, stride=2, padding=1)),
    (AvgPool2d, dict(kernel_size=(2, 3), stride=(2, 2))),
])
def test_ceil_mode_agrees_with_torch_and_thop(cls, kwargs: dict, side: int) -> None:
    layer = cls(ceil_mode=True, **kwargs)
    assert layer.render().endswith("ceil_mode=True)")
    module = getattr(nn, cls.torch_name)(ceil_mode=True, **kwargs)
    shape = (4, side, side)
    with torch.no_grad():
        y = module(torch.randn(1, *shape))
    out = layer.out_shape(shape)
    assert tuple(y.shape[1:]) == out
    assert thop_counts(module, shape) == (layer.params(), layer.macs(shape, out))


@pytest.mark.parametrize("text", [
    "Conv2d(3, 8, 3) MaxPool2d(2, ceil_mode=True) Flatten() Linear(8 * 15 * 15, 10)",
    '{"layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3}, '
    '{"op": "MaxPool2d", "kernel_size": 2, "ceil_mode": true}]}',
    "model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))",
    "class P(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.c = nn.Conv2d(3, 8, 3)\n"
    "    def forward(self, x):\n        return F.max_pool2d(self.c(x), 2, ceil_mode=True)\n",
])
def test_ceil_mode_is_read_in_every_form(text: str) -> None:
    pool = parse_answer(text).models[0].layers[1]
    assert pool.ceil_mode is True and pool.out_shape((8, 30, 30)) == (8, 15, 15)
    assert pool.out_shape((8, 31, 31)) == (8, 16, 16)  # floor would give 15
