"""Every layer kind in the registry: built by torch from its rendered source, run on a small tensor; the spec's
shape, params and MACs match torch's output and thop's counts exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import thop_counts
from gptnet.spec.layers import LAYER_KINDS
from gptnet.spec.registry import get_layer, lookup

INPUT = (8, 9, 9)
SAMPLES = {
    "Conv2d": [dict(in_channels=8, out_channels=16, kernel_size=3, padding=1),
               dict(in_channels=8, out_channels=8, kernel_size=3, stride=2, groups=8),
               dict(in_channels=8, out_channels=12, kernel_size=(1, 3), groups=4, bias=False, dilation=2)],
    "DWConv2d": [dict(channels=8, kernel_size=3, padding=1, depth_multiplier=2)],
    "BatchNorm2d": [dict(num_features=8), dict(num_features=8, affine=False)],
    "MaxPool2d": [dict(kernel_size=3, stride=2, padding=1)],
    "AvgPool2d": [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)],
    "AdaptiveAvgPool2d": [dict(output_size=1), dict(output_size=4)],
    "AdaptiveMaxPool2d": [dict(output_size=2)],
    "Linear": [dict(in_features=8 * 9 * 9, out_features=10)],
    "LayerNorm": [dict(normalized_shape=9)],
    "Upsample": [dict(scale_factor=2)],
}


def _cases():
    for cls in LAYER_KINDS:
        for fields in SAMPLES.get(cls.kind_name(), [{}]):
            yield pytest.param(cls, fields, id=f"{cls.kind_name()}-{len(fields)}")


@pytest.mark.parametrize(("cls", "fields"), list(_cases()))
def test_kind_agrees_with_torch_and_thop(cls, fields) -> None:
    layer = cls(**fields)
    source = layer.render("nn.")
    module = _build(source)
    shape = INPUT
    net = nn.Sequential(nn.Flatten(), module) if cls.kind_name() == "Linear" else module
    spec_in = (INPUT[0] * INPUT[1] * INPUT[2],) if cls.kind_name() == "Linear" else INPUT
    out = layer.out_shape(spec_in)
    with torch.no_grad():
        y = net.eval()(torch.randn(1, *shape))
    assert tuple(y.shape[1:]) == out, source
    assert torch.isfinite(y).all()
    assert thop_counts(net, shape) == (layer.params(), layer.macs(spec_in, out)), source


def _build(source: str) -> nn.Module:
    # our own renderer's text for one layer: resolve `nn.Name(args)` through torch.nn with literal arguments
    import ast

    call = ast.parse(source, mode="eval").body
    name = call.func.attr
    return getattr(nn, name)(*[ast.literal_eval(a) for a in call.args],
                             **{k.arg: ast.literal_eval(k.value) for k in call.keywords})


def test_registry_refuses_duplicates_and_finds_aliases() -> None:
    from gptnet.spec.registry import register_layer

    with pytest.raises(ValueError):
        register_layer(get_layer("Conv2d"))
    assert get_layer("torch.nn.BatchNorm2d") is get_layer("bn")
    assert get_layer("Global Average Pooling").kind_name() == "AdaptiveAvgPool2d"
    assert get_layer("Avgpool2d").kind_name() == "AvgPool2d"
    assert lookup("Dense")[2] == ("out_features",)  # Keras's Dense(units)
    assert lookup("DepthwiseConv2d") is None  # the article's name: a module the LLM must define
