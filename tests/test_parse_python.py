"""PyTorch source answers -> module specs and candidate models (gptnet/parse/pysource.py).

Every module read is checked by walking a shape through it and comparing output shape, params and MACs with the
equivalent torch module, written out here from torch.nn (the answer's text itself is never executed)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import thop_counts
from gptnet.parse.answer import ParseError
from gptnet.parse.pysource import _code, _read_classes, looks_like_python, parse_python
from gptnet.spec.graph import Call, Concat, ModelSpec, Residual
from gptnet.spec.layers import Conv2d
from gptnet.spec.walk import run_node, totals, walk


def torch_says(module: nn.Module, shape: tuple) -> tuple[tuple, int, int]:
    """Output shape, params and MACs of a real torch module at one input."""
    with torch.no_grad():
        out = module.eval()(torch.zeros(1, *shape))
    return (tuple(out.shape[1:]), *thop_counts(module, shape))


def spec_says(call: Call, shape: tuple, modules) -> tuple[tuple, int, int]:
    step = run_node(call, shape, {m.name: m for m in modules})
    return step.out, step.params, step.macs


def model_says(layers, modules, shape) -> tuple[tuple, int, int]:
    steps = walk(ModelSpec(layers=layers, modules=list(modules)), shape)
    return (steps[-1].out, *totals(steps))


def sigs(nodes) -> list[str]:
    return [n.signature() for n in nodes]


# ---- the article's module answer -----------------------------------------------------------------------------------

ARTICLE = ("以下是一个非常简单的torch的DepthwiseConv2d实现:\n\nimport torch.nn as nn class DepthwiseConv2d(nn.Module): "
           "def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=None): "
           "super(DepthwiseConv2d, self).__init__() if groups is None: groups = in_channels self.depthwise_conv = "
           "nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups=groups) "
           "self.pointwise_conv = nn.Conv2d(out_channels, out_channels, 1, 1, 0, 1, groups=1) def forward(self, x): "
           "x = self.depthwise_conv(x) x = self.pointwise_conv(x) return x")

ARTICLE_FORMATTED = '''Sure! Here is a simple DepthwiseConv2d in PyTorch (这是一个简单实现):

```python
import torch.nn as nn

class DepthwiseConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=None):
        super(DepthwiseConv2d, self).__init__()
        if groups is None:
            groups = in_channels
        self.depthwise_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation,
                                        groups=groups)
        self.pointwise_conv = nn.Conv2d(out_channels, out_channels, 1, 1, 0, 1, groups=1)

    def forward(self, x):
        x = self.depthwise_conv(x)
        x = self.pointwise_conv(x)
        return x
```

The depthwise convolution uses `groups=in_channels`; the pointwise one mixes channels.'''


@pytest.mark.parametrize("text", [ARTICLE, ARTICLE_FORMATTED], ids=["one-line", "fenced"])
def test_article_depthwise_module(text: str) -> None:
    answer = parse_python(text)
    assert answer.form == "python" and not answer.models and not answer.notes
    (dw,) = answer.modules
    assert dw.name == "DepthwiseConv2d"
    assert dw.params == ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"]
    assert dw.defaults == {"stride": 1, "padding": 0, "dilation": 1, "groups": None}
    assert dw.derived == {"groups": "in_channels"}
    # groups stays the parameter: the derived default is applied when the module is bound, not substituted here
    assert [n.model_dump() for n in dw.body] == [
        Conv2d(name="depthwise_conv", in_channels="in_channels", out_channels="out_channels",
               kernel_size="kernel_size", stride="stride", padding="padding", dilation="dilation",
               groups="groups").model_dump(),
        Conv2d(name="pointwise_conv", in_channels="out_channels", out_channels="out_channels", kernel_size=1,
               stride=1, padding=0, dilation=1, groups=1).model_dump()]
    call = Call(module="DepthwiseConv2d", args=[32, 64, 3], kwargs={"padding": 1})
    ref = nn.Sequential(nn.Conv2d(32, 64, 3, 1, 1, 1, groups=32), nn.Conv2d(64, 64, 1, 1, 0, 1, groups=1))
    assert spec_says(call, (32, 16, 16), [dw]) == torch_says(ref, (32, 16, 16))
    call = Call(module="DepthwiseConv2d", args=[16, 32, 3, 2, 1], kwargs={"groups": 1})  # an explicit groups wins
    ref = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.Conv2d(32, 32, 1))
    assert spec_says(call, (16, 15, 15), [dw]) == torch_says(ref, (16, 15, 15))


def test_article_answer_with_trailing_prose_on_the_same_line() -> None:
    answer = parse_python(ARTICLE + " 希望这对你有帮助！")
    assert [m.name for m in answer.modules] == ["DepthwiseConv2d"]


# ---- MobileNetV2's inverted residual -------------------------------------------------------------------------------

INVERTED_RESIDUAL = '''
import torch.nn as nn

class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super(InvertedResidual, self).__init__()
        self.stride = stride
        assert stride in [1, 2]
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        self.conv = nn.Sequential(
            # pw
            nn.Conv2d(inp, hidden_dim, 1, 1, 0, bias=False),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU6(inplace=True),
            # dw
            nn.Conv2d(hidden_dim, hidden_dim, 3, stride, 1, groups=hidden_dim, bias=False),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU6(inplace=True),
            # pw-linear
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        )

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        else:
            return self.conv(x)
'''


class RefInvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True), nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


IR_CASES = [([16, 16, 1, 6], (16, 8, 8)), ([16, 24, 2, 6], (16, 8, 8)), ([32, 32, 1, 1], (32, 7, 7))]


@pytest.mark.parametrize("squash", [False, True], ids=["formatted", "squashed"])
@pytest.mark.parametrize(("args", "shape"), IR_CASES)
def test_inverted_residual_explicit_sequential(args, shape, squash: bool) -> None:
    text = INVERTED_RESIDUAL
    if squash:  # the whole class on one line, comments dropped, as an LLM sometimes prints it
        text = " ".join(line.strip() for line in text.splitlines() if line.strip() and "#" not in line)
    answer = parse_python(text)
    (block,) = answer.modules
    assert block.params == ["inp", "oup", "stride", "expand_ratio"] and not answer.models
    (res,) = block.body
    assert isinstance(res, Residual) and res.when == "stride == 1 and inp == oup" and not res.shortcut
    assert res.body[0].out_channels == "int(round(inp * expand_ratio))"
    assert any("assert" in n for n in answer.notes)
    assert spec_says(Call(module="InvertedResidual", args=args), shape, [block]) == \
        torch_says(RefInvertedResidual(*args), shape)


TORCHVISION_STYLE = '''
from torch import nn

class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super(ConvBNReLU, self).__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True)
        )

class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super(InvertedResidual, self).__init__()
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        layers = []
        {CONDITION}layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        else:
            return self.conv(x)
'''


@pytest.mark.parametrize(("args", "shape"), IR_CASES)
def test_torchvision_style_list_building_and_sequential_subclass(args, shape) -> None:
    answer = parse_python(TORCHVISION_STYLE.replace("{CONDITION}", ""))
    cbr, block = answer.modules
    assert cbr.name == "ConvBNReLU" and cbr.defaults == {"kernel_size": 3, "stride": 1, "groups": 1}
    assert sigs(cbr.body)[0] == ("Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride, "
                                 "padding=(kernel_size - 1) // 2, groups=groups, bias=False)")
    assert sigs(block.body[0].body[:2]) == ["ConvBNReLU(inp, int(round(inp * expand_ratio)), kernel_size=1)",
                                            "ConvBNReLU(int(round(inp * expand_ratio)), "
                                            "int(round(inp * expand_ratio)), stride=stride, "
                                            "groups=int(round(inp * expand_ratio)))"]
    assert spec_says(Call(module="InvertedResidual", args=args), shape, answer.modules) == \
        torch_says(RefInvertedResidual(*args), shape)


def test_layers_appended_under_a_condition_are_refused() -> None:
    # torchvision's own `if expand_ratio != 1: layers.append(...)`: a spec has no conditional layers
    text = TORCHVISION_STYLE.replace("{CONDITION}", "if expand_ratio != 1:\n            ")
    answer = parse_python(text)  # ConvBNReLU still reads; InvertedResidual is skipped with the reason
    assert [m.name for m in answer.modules] == ["ConvBNReLU"]
    assert any("InvertedResidual refused" in n and "if expand_ratio != 1" in n for n in answer.notes)
    with pytest.raises(ParseError, match=r"InvertedResidual refused: .*condition"):
        parse_python("from torch import nn\n\nclass InvertedResidual" + text.split("class InvertedResidual")[1])


# ---- SqueezeNet's Fire ---------------------------------------------------------------------------------------------

FIRE = '''SqueezeNet 的 Fire 模块如下：
```python
import torch
import torch.nn as nn

class Fire(nn.Module):
    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super(Fire, self).__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([
            self.expand1x1_activation(self.expand1x1(x)),
            self.expand3x3_activation(self.expand3x3(x))
        ], 1)
```'''


class RefFire(nn.Module):
    def __init__(self, inplanes, s, e1, e3):
        super().__init__()
        self.squeeze, self.e1, self.e3 = nn.Conv2d(inplanes, s, 1), nn.Conv2d(s, e1, 1), nn.Conv2d(s, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


def test_fire_module_concat() -> None:
    (fire,) = parse_python(FIRE).modules
    assert sigs(fire.body[:2]) == ["Conv2d(inplanes, squeeze_planes, kernel_size=1)", "ReLU(inplace=True)"]
    concat = fire.body[2]
    assert isinstance(concat, Concat) and [sigs(b) for b in concat.branches] == [
        ["Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)", "ReLU(inplace=True)"],
        ["Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)", "ReLU(inplace=True)"]]
    call = Call(module="Fire", args=[96, 16, 64, 64])
    assert spec_says(call, (96, 15, 15), [fire]) == torch_says(RefFire(96, 16, 64, 64), (96, 15, 15))


# ---- whole models --------------------------------------------------------------------------------------------------

MODEL = '''Here is a compact CNN for CIFAR:

```python
import torch
import torch.nn as nn

class SmallNet(nn.Module):
    """A small VGG-style network."""

    def __init__(self, num_classes=100):
        super(SmallNet, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True)),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))
        self._initialize_weights()

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x

    def _initialize_weights(self):
        for m in self.modules():
            nn.init.kaiming_normal_(m.weight)

model = SmallNet()
print(model(torch.randn(1, 3, 32, 32)).shape)
```
It has about 20K parameters.'''


def ref_small_net(num_classes: int = 100) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, num_classes))


def test_model_class_is_a_flat_candidate() -> None:
    answer = parse_python(MODEL)
    (model,) = answer.models
    assert model.name == "SmallNet" and not answer.modules
    assert sigs(model.layers) == [
        "Conv2d(3, 32, kernel_size=3, padding=1)", "BatchNorm2d(32)", "ReLU(inplace=True)", "MaxPool2d(kernel_size=2)",
        "Conv2d(32, 64, kernel_size=3, padding=1)", "BatchNorm2d(64)", "ReLU(inplace=True)",
        "AdaptiveAvgPool2d((1, 1))", "Flatten()", "Dropout(0.2)", "Linear(64, 100)"]
    assert model_says(model.layers, [], (3, 32, 32)) == torch_says(ref_small_net(), (3, 32, 32))
    assert any("nn.init.kaiming_normal_" in n for n in answer.notes)  # built by the evaluator: `model = SmallNet()`


LENET = '''```python
import torch.nn as nn
import torch.nn.functional as F

class LeNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, num_classes)
        self.unused = nn.Linear(3, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), kernel_size=2, stride=2)
        x = x.view(x.size(0), -1)
        x = F.dropout(F.relu(self.fc1(x)), p=0.5, training=self.training)
        return self.fc2(x)
```'''


def test_functional_forward_and_required_num_classes() -> None:
    answer = parse_python(LENET)
    (model,) = answer.models
    assert sigs(model.layers) == [
        "Conv2d(3, 6, kernel_size=5)", "ReLU()", "MaxPool2d(kernel_size=2)", "Conv2d(6, 16, kernel_size=5)", "ReLU()",
        "MaxPool2d(kernel_size=2, stride=2)", "Flatten()", "Linear(400, 120)", "ReLU()", "Dropout(0.5)",
        "Linear(120, None)"]  # num_classes has no default: left for the validators to fill in
    assert any("self.unused" in n and "never used" in n for n in answer.notes)
    layers = [*model.layers[:-1], model.layers[-1].model_copy(update={"out_features": 10})]
    ref = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                        nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Dropout(0.5),
                        nn.Linear(120, 10))
    assert model_says(layers, [], (3, 32, 32)) == torch_says(ref, (3, 32, 32))


def test_module_level_sequential() -> None:
    text = ("NUM_CLASSES = 10\nmodel = nn.Sequential(\n    nn.Conv2d(3, 16, 3, stride=2, padding=1),\n    nn.ReLU(),\n"
            "    nn.AdaptiveAvgPool2d(1),\n    nn.Flatten(),\n    nn.Linear(16, NUM_CLASSES),\n)\n")
    (model,) = parse_python(text).models
    assert model.name == "model"
    assert sigs(model.layers)[-1] == "Linear(16, 10)"
    ref = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    assert model_says(model.layers, [], (3, 32, 32)) == torch_says(ref, (3, 32, 32))


def test_two_model_classes_are_two_candidates_and_modules_they_use_are_modules() -> None:
    text = '''Option A and option B:
```python
class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.bn(self.conv(x))
        out += x
        return F.relu(out)

class NetA(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.blocks = nn.Sequential(Block(16), Block(16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))
```
```python
class NetB(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(8, 10))

    def forward(self, x):
        return self.body(x)
```'''
    answer = parse_python(text)
    assert [m.name for m in answer.models] == ["NetA", "NetB"]
    (block,) = answer.modules
    assert block.name == "Block" and isinstance(block.body[0], Residual) and sigs(block.body[1:]) == ["ReLU()"]
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 16, kernel_size=3, padding=1)", "Block(16)", "Block(16)",
                                             "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(16, 10)"]

    class RefBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)) + x)

    ref = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), RefBlock(16), RefBlock(16), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, 10))
    assert model_says(answer.models[0].layers, answer.modules, (3, 32, 32)) == torch_says(ref, (3, 32, 32))


def test_top_level_residual_in_a_model_becomes_a_generated_module() -> None:
    text = '''
class ResNetTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1)
        self.shortcut = nn.Conv2d(16, 16, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        x = self.stem(x)
        identity = x
        out = self.conv1(x)
        if self.training and False:
            pass
        out = torch.add(out, self.shortcut(identity))
        return self.head(out)
'''
    built = parse_python(text)  # the class reader refuses `if self.training`; the evaluator builds it, as torch would
    with pytest.raises(ParseError, match=r"ResNetTiny refused: .*self.training"):
        _read_classes(*_code(text, []), [])
    answer = parse_python(text.replace("        if self.training and False:\n            pass\n", ""))
    assert [m.model_dump() for m in built.modules] == [m.model_dump() for m in answer.modules]
    (model,) = answer.models
    (gen,) = answer.modules
    assert gen.name == "ResNetTinyBlock1" and isinstance(gen.body[0], Residual)
    assert sigs(gen.body[0].shortcut) == ["Conv2d(16, 16, kernel_size=1)"]
    assert sigs(model.layers)[2] == "ResNetTinyBlock1()"

    class Ref(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
            self.conv1, self.shortcut = nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

        def forward(self, x):
            x = self.stem(x)
            return self.head(self.conv1(x) + self.shortcut(x))

    assert model_says(model.layers, answer.modules, (3, 32, 32)) == torch_says(Ref(), (3, 32, 32))


def test_conditional_residual_assigned_in_forward() -> None:
    text = '''
class Res(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)

    def forward(self, x):
        out = self.conv(x)
        if self.use_res:
            out = out + x
        return out
'''
    (res,) = parse_python(text).modules
    assert res.body[0].when == "stride == 1 and cin == cout"
    for args, shape in (([8, 8], (8, 9, 9)), ([8, 16, 2], (8, 9, 9))):
        ref = nn.Conv2d(args[0], args[1], 3, args[2] if len(args) > 2 else 1, 1)
        assert spec_says(Call(module="Res", args=args), shape, [res]) == torch_says(ref, shape)


# ---- refusals and safety -------------------------------------------------------------------------------------------

PAYLOADS = {
    "os_system": 'os.system("touch {marker}")',
    "dunder_import": '__import__("os").system("touch {marker}")',
    "open": 'open("{marker}", "w").write("pwned")',
    "eval": 'eval("open(\'{marker}\', \'w\')")',
    "subprocess": 'subprocess.run(["touch", "{marker}"])',
}


def safe_block(payload: str, where: str) -> str:
    return ("import os\nimport torch.nn as nn\n\nclass SafeBlock(nn.Module):\n"
            "    def __init__(self, in_channels, out_channels):\n        super().__init__()\n"
            + (f"        {payload}\n" if where == "init" else "")
            + "        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)\n"
            "        self.bn = nn.BatchNorm2d(out_channels)\n        self.act = nn.ReLU()\n\n"
            "    def forward(self, x):\n" + (f"        {payload}\n" if where == "forward" else "")
            + "        return self.act(self.bn(self.conv(x)))\n")


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unsafe_init_statement_is_ignored_with_a_note(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    answer = parse_python(safe_block(PAYLOADS[name].format(marker=marker), "init"))
    (block,) = answer.modules
    assert sigs(block.body) == ["Conv2d(in_channels, out_channels, kernel_size=3, padding=1)",
                                "BatchNorm2d(out_channels)", "ReLU()"]
    (note,) = answer.notes
    assert note.startswith("SafeBlock.__init__: ignored unsafe call ") and name.split("_")[-1] in note
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unsafe_forward_statement_refuses_the_class(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    text = safe_block(PAYLOADS[name].format(marker=marker), "forward")
    with pytest.raises(ParseError, match=r"^class SafeBlock refused: forward"):
        parse_python(text)
    # with another readable class in the answer, the unsafe one is skipped with a note
    answer = parse_python(text + "\n\n" + safe_block("", "init").split("\n\n", 1)[1].replace("SafeBlock", "Other"))
    assert [m.name for m in answer.modules] == ["Other"]
    assert any(n.startswith("class SafeBlock refused") for n in answer.notes)
    assert not marker.exists()


def test_unsafe_payload_in_a_layer_argument_refuses_the_class(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = safe_block("", "init").replace("3, padding=1", f'__import__("os").system("touch {tmp_path}/M")')
    with pytest.raises(ParseError, match="SafeBlock refused"):
        parse_python(text)
    assert not (tmp_path / "M").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.a = nn.Conv2d(3, 8, 3)\n"
     "    def forward(self, x):\n        return self.b(self.a(x))\n", "forward calls self.b, which __init__ does not"),
    ("class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.layers = self._make_layers([64, 'M'])\n    def forward(self, x):\n        return self.layers(x)\n",
     r"self.layers.*it is `self._make_layers"),
    ("class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.a = nn.ReLU()\n"
     "        self.b = nn.Sigmoid()\n    def forward(self, x):\n        return self.a(x) * self.b(x)\n",
     "multiplies two computed tensors"),
    ("class A(nn.Module):\n    def forward(self, x):\n        return torch.cat([x, x], 0)\n", "not a channel concat"),
    ("class A(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
     "        self.blocks = nn.Sequential(*[nn.Conv2d(8, 8, 3) for _ in range(n)])\n",
     r"loops over `range\(n\)`, which is not a literal range or list"),
    ("Sure, I can help with that, but I need more details.", "no PyTorch source"),
    ("```python\nclass A(nn.Module:\n    def f(self\n```", "does not parse"),
])
def test_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_python(text)


def test_looks_like_python() -> None:
    assert looks_like_python(ARTICLE) and looks_like_python(MODEL)
    assert looks_like_python("model = nn.Sequential(nn.Conv2d(3, 8, 3))")
    assert looks_like_python("class Net(torch.nn.Module):")
    assert not looks_like_python("Conv2d(3, 32, 3) BatchNorm2d(32) ReLU() Flatten() Linear(32, 10)")
    assert not looks_like_python('{"layers": [{"op": "Conv2d"}]}')
