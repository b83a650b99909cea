"""The well-known networks that published latency measurements name, built with torchvision (MobileNetV1 and
EfficientNet-Lite, which torchvision lacks, in the same plain style), so that gptnet's cost model can be run on
exactly what was measured.

Names follow ncnn's benchmark (benchmark/README.md) where it has them, torchvision's otherwise."""

from __future__ import annotations

from typing import Callable

# name -> input size (height = width) the published benchmarks use; torch is imported only when one is built
INPUTS = {"squeezenet": 227, "mobilenet": 224, "mobilenet_v2": 224, "shufflenet_v2": 224, "mnasnet": 224,
          "efficientnet_b0": 224, "regnety_400m": 224, "googlenet": 224, "resnet18": 224, "alexnet": 227,
          "vgg16": 224, "resnet50": 224, "squeezenet1_0": 224, "resnet34": 224, "vgg11": 224, "vgg13": 224,
          "vgg19": 224, "densenet161": 224, "inception_v3": 299, "mobilenet_v3_large": 224,
          "mobilenet_v3_small": 224, "efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260,
          "efficientnet_lite3": 280, "efficientnet_lite4": 300}
# EfficientNet-Lite: (width, depth) multipliers of tensorflow/tpu models/official/efficientnet/lite/
# efficientnet_lite_builder.py; the input sizes are INPUTS'
LITE = {"efficientnet_lite0": (1.0, 1.0), "efficientnet_lite1": (1.0, 1.1), "efficientnet_lite2": (1.1, 1.2),
        "efficientnet_lite3": (1.2, 1.4), "efficientnet_lite4": (1.4, 1.8)}


# what leave-one-family-out holds out together: networks sharing a design (ResNet-18/34/50, every VGG, every
# MobileNet, EfficientNet-Lite0-4) share kernels, so predicting one from its siblings flatters the cost model
FAMILIES = {"squeezenet": "squeezenet", "mobilenet": "mobilenet", "shufflenet": "shufflenet", "mnasnet": "mnasnet",
            "efficientnet": "efficientnet", "regnet": "regnet", "googlenet": "inception", "inception": "inception",
            "resnet": "resnet", "alexnet": "alexnet", "vgg": "vgg", "densenet": "densenet"}


def family(name: str) -> str:
    """The design family of a reference network, e.g. resnet for resnet50, mobilenet for mobilenet_v3_small."""
    return next((f for prefix, f in FAMILIES.items() if name.startswith(prefix)), name)


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


def efficientnet_lite(width: float, depth: float, num_classes: int = 1000):
    """EfficientNet-Lite (tensorflow/tpu, 2020): EfficientNet-B0's stages without squeeze-and-excite, ReLU6 instead
    of swish, stem (32) and head (1280) not scaled, nor the repeats of the first and last stage."""
    import math

    from torch import nn

    def filters(c: int) -> int:  # efficientnet_builder.round_filters, divisor 8
        c *= width
        rounded = max(8, int(c + 4) // 8 * 8)
        return int(rounded + 8 if rounded < 0.9 * c else rounded)

    def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> list:
        return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)] \
            + ([nn.ReLU6(inplace=True)] if act else [])

    class MBConv(nn.Module):
        def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
            super().__init__()
            mid = cin * expand
            layers = (conv_bn(cin, mid, 1) if expand != 1 else []) + conv_bn(mid, mid, kernel, stride, mid) + \
                conv_bn(mid, cout, 1, act=False)
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    # (repeats, kernel, stride, expand, in, out): efficientnet_lite_builder._DEFAULT_BLOCKS_ARGS
    stages = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
              (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
    layers = conv_bn(3, 32, 3, 2)
    cin = 32
    for i, (repeats, kernel, stride, expand, _, cout) in enumerate(stages):
        cout = filters(cout)
        n = repeats if i in (0, len(stages) - 1) else int(math.ceil(depth * repeats))
        for j in range(n):
            layers.append(MBConv(cin, cout, kernel, stride if j == 0 else 1, expand))
            cin = cout
    layers += conv_bn(cin, 1280, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, num_classes))


def inference_kwargs(name: str) -> dict:
    """What a torchvision builder needs to build `name` for inference: googlenet's and inception_v3's auxiliary
    heads only run in training."""
    return {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}


def _builders() -> dict[str, Callable[[], object]]:
    import torchvision.models as tvm

    return {"squeezenet": tvm.squeezenet1_1, "mobilenet": mobilenet_v1, "mobilenet_v2": tvm.mobilenet_v2,
            "shufflenet_v2": tvm.shufflenet_v2_x1_0, "mnasnet": tvm.mnasnet1_0, "efficientnet_b0": tvm.efficientnet_b0,
            "regnety_400m": tvm.regnet_y_400mf,
            "googlenet": lambda: tvm.googlenet(**inference_kwargs("googlenet")),
            "resnet18": tvm.resnet18, "alexnet": tvm.alexnet, "vgg16": tvm.vgg16, "resnet50": tvm.resnet50,
            "squeezenet1_0": tvm.squeezenet1_0, "resnet34": tvm.resnet34, "vgg11": tvm.vgg11, "vgg13": tvm.vgg13,
            "vgg19": tvm.vgg19, "densenet161": tvm.densenet161,
            "inception_v3": lambda: tvm.inception_v3(**inference_kwargs("inception_v3")),
            "mobilenet_v3_large": tvm.mobilenet_v3_large, "mobilenet_v3_small": tvm.mobilenet_v3_small,
            **{name: (lambda w=w, d=d: efficientnet_lite(w, d)) for name, (w, d) in LITE.items()}}


def build(name: str, size: int | None = None):
    """(module in eval mode, input shape without the batch) for a reference network, untrained weights, at its
    usual input size or `size`."""
    size = size or INPUTS[name]
    return _builders()[name]().eval(), (3, size, size)
