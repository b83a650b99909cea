"""PyTorch source that builds its layers the ways real code does: a named nn.Sequential (OrderedDict, add_module),
lists of (name, layer) pairs, local Sequentials. Each reads to the layers torch would build, in order, named by the
answer's keys; the spec's counts agree with the same network written out in torch here."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from torch import nn

from conftest import thop_counts
from gptnet.parse import parse_answer
from gptnet.spec.graph import ModelSpec
from gptnet.spec.walk import totals, walk

NAMED = ["conv1", "bn1", "relu1", "pool", "flatten", "fc"]
SIGS = ["Conv2d(3, 32, kernel_size=3, padding=1)", "BatchNorm2d(32)", "ReLU(inplace=True)", "AdaptiveAvgPool2d(1)",
        "Flatten()", "Linear(32, 10)"]
LAYERS = ('nn.Conv2d(3, 32, 3, padding=1)', 'nn.BatchNorm2d(32)', 'nn.ReLU(inplace=True)', 'nn.AdaptiveAvgPool2d(1)',
          'nn.Flatten()', 'nn.Linear(32, 10)')
PAIRS = ",\n".join(f'    ("{k}", {v})' for k, v in zip(NAMED, LAYERS))
ENTRIES = ",\n".join(f'    "{k}": {v}' for k, v in zip(NAMED, LAYERS))
KEYWORDS = ", ".join(f"{k}={v}" for k, v in zip(NAMED, LAYERS))
ADDS = "\n".join(f'        self.body.add_module("{k}", {v})' for k, v in zip(NAMED, LAYERS))
APPENDS = "\n".join(f'        pairs.append(("{k}", {v}))' for k, v in zip(NAMED, LAYERS))
CLASS = "```python\nclass TinyNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n{init}\n" \
        "    def forward(self, x):\n        return self.body(x)\n```"

PHRASINGS = {
    "module-level list of pairs": f"```python\nfrom collections import OrderedDict\nimport torch.nn as nn\n\n"
                                  f"model = nn.Sequential(OrderedDict([\n{PAIRS}\n]))\n```",
    "collections.OrderedDict of a dict": f"import collections\nnet = nn.Sequential(collections.OrderedDict({{\n"
                                         f"{ENTRIES}\n}}))\n",
    "keyword arguments": f"model = nn.Sequential(OrderedDict({KEYWORDS}))",
    "in a class": CLASS.format(init=f"        self.body = nn.Sequential(OrderedDict([\n{PAIRS}\n        ]))"),
    "add_module on a Sequential": CLASS.format(init=f"        self.body = nn.Sequential()\n{ADDS}"),
    "a list of pairs built first": CLASS.format(init=f"        pairs = []\n{APPENDS}\n"
                                                     "        self.body = nn.Sequential(OrderedDict(pairs))"),
    "a local Sequential": CLASS.format(init=f"        body = nn.Sequential()\n"
                                            + ADDS.replace("self.body", "body") + "\n        self.body = body"),
}


@pytest.mark.parametrize("text", PHRASINGS.values(), ids=PHRASINGS.keys())
def test_a_named_sequential_reads_as_its_layers(text: str) -> None:
    answer = parse_answer(text)
    (model,) = answer.models
    assert [n.signature() for n in model.layers] == SIGS
    assert [n.name for n in model.layers] == NAMED
    assert not answer.notes
    reference = nn.Sequential(OrderedDict([(k, layer) for k, layer in zip(NAMED, [
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(32, 10)])]))
    assert totals(walk(ModelSpec(layers=model.layers), (3, 16, 16))) == thop_counts(reference, (3, 16, 16))


def test_self_add_module_is_an_attribute_and_odd_keys_are_left_to_the_renderer() -> None:
    answer = parse_answer("```python\nclass A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                          '        self.add_module("stem", nn.Conv2d(3, 8, 3))\n'
                          '        self.head = nn.Sequential(OrderedDict([("act", nn.ReLU()), ("0", nn.Flatten()),'
                          ' ("fc-out", nn.Linear(8, 10))]))\n'
                          "    def forward(self, x):\n        return self.head(self.stem(x))\n```")
    layers = answer.models[0].layers
    assert [n.signature() for n in layers] == ["Conv2d(3, 8, kernel_size=3)", "ReLU()", "Flatten()", "Linear(8, 10)"]
    assert [n.name for n in layers] == ["stem", "act", None, None]


@pytest.mark.parametrize("text", [
    "model = nn.Sequential(OrderedDict(make_pairs()))",
    "model = nn.Sequential(OrderedDict([(name, nn.ReLU()) ]))",
])
def test_an_ordered_dict_it_cannot_read_is_one_clear_line(text: str) -> None:
    from gptnet.parse import ParseError

    with pytest.raises(ParseError, match="nn.Sequential model refused"):
        parse_answer(text)


# ---- loops over what the answer spells out: written out ------------------------------------------------------------

def _net(init: str, forward: str) -> str:
    return (f"```python\nclass LoopNet(nn.Module):\n    def __init__(self, num_classes=10):\n"
            "        super().__init__()\n"
            f"{init}\n    def forward(self, x):\n{forward}\n```")


HEAD = "        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))"
BLOCK = "nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())"
STEM = "        self.stem = nn.Conv2d(3, 32, 3, padding=1)"
LOOPS = {
    "ModuleList of a comprehension, iterated":
        _net(f"{STEM}\n        self.blocks = nn.ModuleList([{BLOCK} for _ in range(3)])\n{HEAD}",
             "        x = self.stem(x)\n        for block in self.blocks:\n            x = block(x)\n"
             "        return self.head(x)"),
    "ModuleList appended in a loop, indexed":
        _net(f"{STEM}\n        self.blocks = nn.ModuleList()\n        for i in range(3):\n"
             f"            self.blocks.append({BLOCK})\n{HEAD}",
             "        x = self.stem(x)\n        for i in range(len(self.blocks)):\n            x = self.blocks[i](x)\n"
             "        return self.head(x)"),
    "a list in a loop, then nn.Sequential(*layers)":
        _net(f"{STEM}\n        layers = []\n        for _ in range(3):\n            layers += [nn.Conv2d(32, 32, 3, "
             f"padding=1), nn.BatchNorm2d(32), nn.ReLU()]\n        self.blocks = nn.Sequential(*layers)\n{HEAD}",
             "        return self.head(self.blocks(self.stem(x)))"),
    "nn.Sequential of a starred comprehension over a literal list":
        _net(f"{STEM}\n        self.blocks = nn.Sequential(*[{BLOCK} for c in (32, 32, 32)])\n{HEAD}",
             "        return self.head(self.blocks(self.stem(x)))"),
    "forward loop over range with an index":
        _net(f"{STEM}\n        self.blocks = nn.ModuleList([{BLOCK}, {BLOCK}, {BLOCK}])\n{HEAD}",
             "        x = self.stem(x)\n        for i in range(3):\n            x = self.blocks[i](x)\n"
             "        return self.head(x)"),
}


@pytest.mark.parametrize("text", LOOPS.values(), ids=LOOPS.keys())
def test_loops_over_literal_ranges_are_written_out(text: str) -> None:
    answer = parse_answer(text)
    layers = [n.signature() for n in answer.models[0].layers]
    assert layers == ["Conv2d(3, 32, kernel_size=3, padding=1)"] + ["Conv2d(32, 32, kernel_size=3, padding=1)",
                                                                     "BatchNorm2d(32)", "ReLU()"] * 3 + \
        ["AdaptiveAvgPool2d(1)", "Flatten()", "Linear(32, 10)"], layers
    reference = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), *[m for _ in range(3) for m in (
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())], nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, 10))
    assert totals(walk(ModelSpec(layers=answer.models[0].layers), (3, 16, 16))) == thop_counts(reference, (3, 16, 16))


def test_a_loop_that_changes_widths_and_strides_as_it_goes() -> None:
    answer = parse_answer(_net(
        "        layers, in_c = [], 3\n        for i, c in enumerate([16, 32, 64]):\n"
        "            stride = 1 if i == 0 else 2\n"
        "            layers += [nn.Conv2d(in_c, c, 3, stride=stride, padding=1), nn.ReLU(inplace=True)]\n"
        "            if i < 2:\n                layers.append(nn.BatchNorm2d(c))\n            in_c = c\n"
        "        self.features = nn.Sequential(*layers)\n        self.fc = nn.Linear(in_c, num_classes)",
        "        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))"))
    assert [n.signature() for n in answer.models[0].layers] == [
        "Conv2d(3, 16, kernel_size=3, padding=1)", "ReLU(inplace=True)", "BatchNorm2d(16)",
        "Conv2d(16, 32, kernel_size=3, stride=2, padding=1)", "ReLU(inplace=True)", "BatchNorm2d(32)",
        "Conv2d(32, 64, kernel_size=3, stride=2, padding=1)", "ReLU(inplace=True)",
        "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(64, 10)"]


def test_a_residual_per_block_in_a_forward_loop() -> None:
    answer = parse_answer(_net(f"{STEM}\n        self.blocks = nn.ModuleList([{BLOCK} for _ in range(2)])\n{HEAD}",
                               "        x = self.stem(x)\n        for block in self.blocks:\n"
                               "            x = x + block(x)\n"
                               "        return self.head(x)"))
    calls = [n for n in answer.models[0].layers if n.op == "call"]
    assert len(calls) == 2 and all(m.body[0].op == "add" for m in answer.modules)


@pytest.mark.parametrize(("init", "message"), [
    ("        self.blocks = nn.ModuleList([nn.Conv2d(8, 8, 3) for _ in range(depth)])",
     r"loops over `range\(depth\)`, which is not a literal range or list \(depth: a constructor parameter\)"),
    ("        self.blocks = nn.ModuleList()\n        for c in self.widths:\n            self.blocks.append(nn.ReLU())",
     r"`self.widths` is not a literal"),
    ("        self.blocks = nn.Sequential(*[nn.ReLU() for _ in range(100000)])", "more than 20,000"),
])
def test_loops_it_cannot_write_out_are_refused_with_the_reason(init: str, message: str) -> None:
    from gptnet.parse import ParseError

    text = _net(init, "        return self.blocks(x)").replace("num_classes=10", "depth=3")
    with pytest.raises(ParseError, match=message):
        parse_answer(text)


def test_a_loop_that_builds_nothing_is_left_out_with_a_note() -> None:
    answer = parse_answer(_net("        self.conv = nn.Conv2d(3, 8, 3)\n        for m in self.modules():\n"
                               "            if isinstance(m, nn.Conv2d):\n"
                               "                nn.init.kaiming_normal_(m.weight)",
                               "        return self.conv(x)"))
    assert [n.signature() for n in answer.models[0].layers] == ["Conv2d(3, 8, kernel_size=3)"]
    assert answer.notes == ["LoopNet.__init__: ignored `for m in self.modules():`"]


# ---- helpers that build layers: module-level functions (MobileNetV1's conv_bn), methods (ResNet's _make_layer) -----

HELPERS = '''```python
def conv_bn(inp, oup, stride):
    return nn.Sequential(nn.Conv2d(inp, oup, 3, stride, 1, bias=False), nn.BatchNorm2d(oup), nn.ReLU(inplace=True))

def conv_dw(inp, oup, stride=1):
    layers = [nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(inp, oup, 1, bias=False), nn.BatchNorm2d(oup), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)

class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.body = conv_dw(cin, cout, stride)
    def forward(self, x):
        return self.body(x)

class HelperNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.in_planes = 32
        self.stem = conv_bn(3, 32, 2)
        self.layer1 = self._make_layer(64, 2, stride=2)
        self.layer2 = self._make_layer(128, 2, stride=2)
        self.fc = nn.Linear(128, num_classes)

    def _make_layer(self, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(Block(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
```'''


def test_helpers_that_build_layers_are_followed() -> None:
    answer = parse_answer(HELPERS)
    (block,) = answer.modules
    assert [n.signature() for n in block.body][::3] == ["Conv2d(cin, cin, kernel_size=3, stride=stride, padding=1, "
                                                        "groups=cin, bias=False)", "Conv2d(cin, cout, kernel_size=1, "
                                                                                   "bias=False)"]
    assert [n.signature() for n in answer.models[0].layers] == [
        "Conv2d(3, 32, kernel_size=3, stride=2, padding=1, bias=False)", "BatchNorm2d(32)", "ReLU(inplace=True)",
        "Block(32, 64, 2)", "Block(64, 64, 1)", "Block(64, 128, 2)", "Block(128, 128, 1)", "AdaptiveAvgPool2d(1)",
        "Flatten()", "Linear(128, 10)"]
    assert not answer.notes


@pytest.mark.parametrize(("helper", "message"), [
    ("def conv_bn(inp, oup, stride):\n    x = nn.Conv2d(inp, oup, 3)", "conv_bn returns no layers"),
])
def test_helpers_it_cannot_follow_are_refused_with_the_reason(helper: str, message: str) -> None:
    from gptnet.parse import ParseError

    with pytest.raises(ParseError, match=message):
        parse_answer(f"```python\n{helper}\n\nmodel = nn.Sequential(conv_bn(3, 8, 1), nn.ReLU())\n```")
