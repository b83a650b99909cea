"""Config records (`@dataclass`, `typing.NamedTuple`) and nn.Sequential subclasses as chat answers use them, read
by the evaluator: the layers they build, and no note that calls a used module unused."""

from __future__ import annotations

import pytest

from gptnet.parse import ParseError, parse_answer
from gptnet.spec.graph import Call

PROGRAM = '''
import torch.nn as nn
{imports}

{record}


STAGES = [Stage(16, 1), Stage(32, 2, stride=2)]


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, stride=1, act=True):
        layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        layers, cin = [], 3
        for st in STAGES:
            for i in range(st.blocks):
                layers.append(ConvBNAct(cin, st.channels, st.stride if i == 0 else 1, act=i > 0))
                cin = st.channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


model = Net()
'''

RECORDS = {
    "dataclass": ("from dataclasses import dataclass",
                  "@dataclass\nclass Stage:\n    channels: int\n    blocks: int\n    stride: int = 1"),
    "dataclass-frozen": ("import dataclasses",
                         "@dataclasses.dataclass(frozen=True)\nclass Stage:\n    channels: int\n    blocks: int\n"
                         "    stride: int = 1"),
    "namedtuple": ("from typing import NamedTuple",
                   "class Stage(NamedTuple):\n    channels: int\n    blocks: int\n    stride: int = 1"),
}


def convs(answer) -> list[str]:
    return [f"{n.in_channels}->{n.out_channels}/s{n.stride}" for n in answer.models[0].layers
            if getattr(n, "op", None) == "Conv2d"]


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_config_records_build_the_stages_they_describe(kind: str) -> None:
    imports, record = RECORDS[kind]
    answer = parse_answer(PROGRAM.format(imports=imports, record=record))
    assert convs(answer) == ["3->16/s1", "16->32/s2", "32->32/s1"]
    assert not any(isinstance(n, Call) for n in answer.models[0].layers)  # ConvBNAct is written inline
    assert not [n for n in answer.notes if "never used" in n], answer.notes


def test_a_record_field_without_a_default_after_one_with_is_refused_as_python_would() -> None:
    record = "@dataclass\nclass Stage:\n    channels: int = 16\n    blocks: int\n    stride: int = 1"
    with pytest.raises(ParseError, match=r"Stage takes no arguments"):
        parse_answer(PROGRAM.format(imports="from dataclasses import dataclass", record=record))


def test_a_record_default_factory_is_refused_naming_it() -> None:
    record = ("@dataclass\nclass Stage:\n    channels: int\n    blocks: int\n"
              "    stride: int = field(default_factory=lambda: 1)")
    with pytest.raises(ParseError, match=r"field"):
        parse_answer(PROGRAM.format(imports="from dataclasses import dataclass, field", record=record))


@pytest.mark.parametrize("record", [
    "@dataclass\nclass Base:\n    channels: int = 16\n\n\n@dataclass\nclass Stage(Base):\n    blocks: int = 1\n"
    "    stride: int = 1",
    "@dataclass\nclass Stage:\n    channels: int\n    blocks: int\n    stride: int = 1\n\n"
    "    def __post_init__(self):\n        self.channels *= 4",
], ids=["inherited-fields", "post-init"])
def test_a_record_python_would_build_otherwise_is_refused_not_misread(record: str) -> None:
    with pytest.raises(ParseError, match=r"the record Stage is not read: its fields are set in __post_init__ or come "
                                         r"from a base class"):
        parse_answer(PROGRAM.format(imports="from dataclasses import dataclass", record=record))
