"""The well-known networks that published latency measurements name, built with torchvision (MobileNetV1, which
torchvision lacks, in the same plain style), so that gptnet's cost model can be run on exactly what was measured.

Names follow ncnn's benchmark (benchmark/README.md), the largest published set of per-model phone timings."""

from __future__ import annotations

from typing import Callable

# name -> input size (height = width) the published benchmarks use; torch is imported only when one is built
INPUTS = {"squeezenet": 227, "mobilenet": 224, "mobilenet_v2": 224, "shufflenet_v2": 224, "mnasnet": 224,
          "efficientnet_b0": 224, "regnety_400m": 224, "googlenet": 224, "resnet18": 224, "alexnet": 227,
          "vgg16": 224, "resnet50": 224}


def mobilenet_v1(num_classes: int = 1000):
    """MobileNetV1 (Howard et al. 2017, table 1): a 3x3 stem, then 13 depthwise-separable blocks."""
    from torch import nn

    def conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> list:
        return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True)]

    plan = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
        [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    layers = conv_bn(3, 32, 3, 2)
    for cin, cout, stride in plan:
        layers += conv_bn(cin, cin, 3, stride, groups=cin) + conv_bn(cin, cout, 1, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, num_classes))


def _builders() -> dict[str, Callable[[], object]]:
    import torchvision.models as tvm

    return {"squeezenet": tvm.squeezenet1_1, "mobilenet": mobilenet_v1, "mobilenet_v2": tvm.mobilenet_v2,
            "shufflenet_v2": tvm.shufflenet_v2_x1_0, "mnasnet": tvm.mnasnet1_0, "efficientnet_b0": tvm.efficientnet_b0,
            "regnety_400m": tvm.regnet_y_400mf,
            "googlenet": lambda: tvm.googlenet(aux_logits=False, init_weights=False),
            "resnet18": tvm.resnet18, "alexnet": tvm.alexnet, "vgg16": tvm.vgg16, "resnet50": tvm.resnet50}


def build(name: str):
    """(module in eval mode, input shape without the batch) for a reference network, untrained weights."""
    return _builders()[name]().eval(), (3, INPUTS[name], INPUTS[name])
