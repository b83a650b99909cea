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
