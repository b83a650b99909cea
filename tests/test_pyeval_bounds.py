"""Programs built to make the evaluator do work it does not count (found by an attacker's review): values nested of
shared parts that are short to build and 2**40 items to hash, compare or print; constructors with thousands of
parameters for the folds to pair; `super()` on something that is no instance. Each ends in a refusal naming the
line, or in the model, never in a hang or an internal error."""

from __future__ import annotations

import pytest

from gptnet.parse import ParseError, parse_answer

HEAD = "import torch.nn as nn\n\n"
NET = '''
class Net(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).flatten(1))
'''
BOMB = "a = (0,)\n" + "a = (a, a)\n" * 40


@pytest.mark.parametrize("use", ["{a: 1}", "8 if a == (a, 0) else 8", "sorted([a, a])", "'x'.startswith(a)",
                                 "dict([(a, 1)])"])
def test_a_value_of_shared_parts_is_refused_before_it_is_walked(use: str) -> None:
    program = HEAD + BOMB + f"w = {use}\n" + NET + "\nmodel = Net(width=8 + 0 * len([w]))\n"
    with pytest.raises(ParseError, match=r"a value nested of shared parts is larger than gptnet reads"):
        parse_answer(program)


def test_a_constructor_with_thousands_of_parameters_is_built_without_folding() -> None:
    params = ", ".join(f"a{i}=0" for i in range(2000))
    program = HEAD + f'''
class Block(nn.Module):
    def __init__(self, {params}):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1, padding=a0)

    def forward(self, x):
        return self.conv(x)


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(*[Block(a0=i % 2) for i in range(16)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


model = Net()
'''
    answer = parse_answer(program)
    assert {m.name for m in answer.modules} == {"Block", "Block_2"}  # the two constructions, left unfolded


def test_super_on_something_that_is_no_instance_is_a_refusal() -> None:
    program = HEAD + NET.replace("        super().__init__()", "        self = 5\n        super().__init__()") + \
        "\nmodel = Net()\n"
    with pytest.raises(ParseError, match=r"super\(\) in Net is called on 5, not an instance of it"):
        parse_answer(program)


@pytest.mark.parametrize(("reply", "why"), [("model = Net(8)\x00", "source code string cannot contain null bytes"),
                                            ("model = Net(" + "(" * 300 + "8" + ")" * 300 + ")",
                                             "too many nested parentheses")])
def test_a_build_answer_that_names_the_builder_but_does_not_read_says_why(reply: str, why: str) -> None:
    program = HEAD + NET.replace("width=8, ", "width, ")
    with pytest.raises(ParseError, match=rf"calls none of Net \({why}\)"):
        parse_answer(program, build=reply)
