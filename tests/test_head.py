"""The classifier head, whatever form the answer takes: a model without a Linear gets one after its pool (never a
feature conv turned into the classifier), and no activation is left after the classifier."""

from __future__ import annotations

import pytest

from gptnet.parse import parse_answer
from gptnet.spec.graph import ModelSpec
from gptnet.spec.layers import ACTIVATIONS
from gptnet.targets import load_target
from gptnet.validators import Task, errors, validate

TASK = Task(budget=10_000_000, classes=100, input=(3, 32, 32), target=load_target("sd855"))


def design(text: str, classes: int = 100):
    task = Task(budget=TASK.budget, classes=classes, input=TASK.input, target=TASK.target)
    model, findings = validate(ModelSpec(layers=parse_answer(text).models[0].layers), task)
    assert not errors(findings), findings
    return model, findings


def assert_logits(model: ModelSpec, classes: int = 100) -> None:
    """The head gives the class count, and only pooling, flatten or dropout follow it."""
    head = model.layers[model.head]
    assert getattr(head, head.channel_out) == classes
    assert not [n.op for n in model.layers[model.head + 1:] if n.op in ACTIVATIONS]


NO_LINEAR = [
    # an article-style list: conv stack, global pool, flatten and nothing else
    "Conv2d(3, 32, 3, padding=1) BatchNorm2d(32) ReLU() Conv2d(32, 64, 3, stride=2, padding=1) BatchNorm2d(64) "
    "ReLU() AdaptiveAvgPool2d(1) Flatten()",
    # one per line, ending in the map itself (no pool either)
    "1. Conv2d(3, 32, 3, padding=1)\n2. BatchNorm2d(32)\n3. ReLU()\n4. Conv2d(32, 64, 3, stride=2, padding=1)\n"
    "5. BatchNorm2d(64)\n6. ReLU()",
    # JSON
    '{"name": "NoHead", "layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 32, "kernel_size": 3, '
    '"padding": 1}, {"op": "BatchNorm2d", "num_features": 32}, {"op": "ReLU"}, {"op": "Conv2d", "in_channels": 32, '
    '"out_channels": 64, "kernel_size": 3, "stride": 2, "padding": 1}, {"op": "BatchNorm2d", "num_features": 64}, '
    '{"op": "ReLU"}, {"op": "AdaptiveAvgPool2d", "output_size": 1}, {"op": "Flatten"}]}',
    # PyTorch source whose forward flattens and returns
    "```python\nclass NoHead(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.c1 = nn.Conv2d(3, 32, 3, padding=1)\n        self.b1 = nn.BatchNorm2d(32)\n"
    "        self.c2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)\n        self.b2 = nn.BatchNorm2d(64)\n"
    "    def forward(self, x):\n        x = F.relu(self.b1(self.c1(x)))\n        x = F.relu(self.b2(self.c2(x)))\n"
    "        x = F.adaptive_avg_pool2d(x, 1)\n        return torch.flatten(x, 1)\n```",
    # a markdown table
    "| # | Layer | In | Out | Kernel | Stride | Padding |\n|---|---|---|---|---|---|---|\n"
    "| 1 | Conv2d | 3 | 32 | 3 | 1 | 1 |\n| 2 | BatchNorm2d | 32 | 32 | | | |\n| 3 | ReLU | | | | | |\n"
    "| 4 | Conv2d | 32 | 64 | 3 | 2 | 1 |\n| 5 | BatchNorm2d | 64 | 64 | | | |\n| 6 | ReLU | | | | | |\n"
    "| 7 | Global Average Pooling | | | | | |\n| 8 | Flatten | | | | | |",
]


@pytest.mark.parametrize("text", NO_LINEAR, ids=["layers", "numbered-map", "json", "pytorch", "table"])
def test_a_model_without_a_linear_gets_one_after_its_pool(text: str) -> None:
    model, findings = design(text)
    sigs = [n.signature() for n in model.layers]
    assert sigs[-3:] == ["AdaptiveAvgPool2d(1)", "Flatten()", "Linear(64, 100)"], sigs
    assert "Conv2d(32, 64, kernel_size=3, stride=2, padding=1)" in sigs  # the last conv keeps its width
    assert_logits(model)
    (added,) = [f for f in findings if f.kind == "head" and f.after and f.after.endswith("Linear(64, 100)")]
    assert "is a feature layer (BatchNorm2d, ReLU follow it)" in added.why


@pytest.mark.parametrize(("text", "classes", "head"), [
    # a 1x1 conv to the class count, the pool, then a ReLU on the pooled scores
    ("Conv2d(3, 32, 3, padding=1) ReLU() Conv2d(32, 10, 1) AdaptiveAvgPool2d(1) Flatten() ReLU()", 10,
     "Conv2d(32, 10, kernel_size=1)"),
    ("Conv2d(3, 32, 3, padding=1) ReLU() AdaptiveAvgPool2d(1) Flatten() Linear(32, 10) ReLU()", 100,
     "Linear(32, 100)"),
    ('{"layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3}, {"op": "AdaptiveAvgPool2d"},'
     ' {"op": "Flatten"}, {"op": "Dense", "units": 100}, {"op": "Sigmoid"}]}', 100, "Linear(8, 100)"),
])
def test_an_activation_after_the_classifier_is_removed(text: str, classes: int, head: str) -> None:
    model, findings = design(text, classes)
    assert model.layers[model.head].signature() == head
    assert_logits(model, classes)
    assert any(f.kind == "head" and f.after == "(removed)" and "logits" in f.why for f in findings)


def test_a_relu_before_the_global_pool_is_the_answers_model() -> None:
    """SqueezeNet's classifier (torchvision's): a 1x1 conv to the class count, a ReLU, the pool; it is trained so."""
    model, findings = design("Conv2d(3, 32, 3, padding=1) ReLU() Conv2d(32, 10, 1) ReLU() AdaptiveAvgPool2d(1) "
                             "Flatten()", 10)
    assert [n.signature() for n in model.layers[model.head:]] == ["Conv2d(32, 10, kernel_size=1)", "ReLU()",
                                                                  "AdaptiveAvgPool2d(1)", "Flatten()"]
    assert not [f for f in findings if f.after == "(removed)"]


def test_a_hidden_linear_with_its_activation_is_not_the_classifier() -> None:
    model, findings = design("Conv2d(3, 32, 3, padding=1) ReLU() AdaptiveAvgPool2d(1) Flatten() Linear(32, 256) "
                             "ReLU() Dropout(0.2)")
    assert [n.signature() for n in model.layers[-4:]] == ["Linear(32, 256)", "ReLU()", "Dropout(0.2)",
                                                         "Linear(256, 100)"]
    assert_logits(model)


def test_a_linear_or_conv_classifier_that_ends_the_model_is_kept() -> None:
    model, findings = design("Conv2d(3, 32, 3, padding=1) ReLU() AdaptiveAvgPool2d(1) Flatten() Linear(32, 10)")
    assert model.layers[-1].signature() == "Linear(32, 100)" and len(model.layers) == 5
    model, _ = design("Conv2d(3, 32, 3, padding=1) ReLU() Conv2d(32, 100, 1) AdaptiveAvgPool2d(1) Flatten()")
    assert model.head == 2 and len(model.layers) == 5
