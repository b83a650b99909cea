"""A Linear sized for a map other than the one that reaches its Flatten (`Linear(512 * 4 * 4, ...)` on a 512x2x2
map, `Linear(512, ...)` on a 512x4x4 one), in every form: a global average pool goes before the Flatten and the
Linear takes the channels, so the head fits any map and any --input."""

from __future__ import annotations

import pytest

from gptnet.parse import parse_answer
from gptnet.spec.graph import ModelSpec
from gptnet.targets import load_target
from gptnet.validators import Task, errors, validate

FEATURES = "Conv2d(3, 32, 3, stride=2, padding=1) ReLU() Conv2d(32, 64, 3, stride=2, padding=1) ReLU()"  # 64x8x8


def design(text: str, input=(3, 32, 32)):
    task = Task(budget=10_000_000, classes=10, input=input, target=load_target("sd855"))
    model, findings = validate(ModelSpec(layers=parse_answer(text).models[0].layers), task)
    assert not errors(findings), findings
    return [n.signature() for n in model.layers], findings


JSON = ('{"layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 32, "kernel_size": 3, "stride": 2, '
        '"padding": 1}, {"op": "ReLU"}, {"op": "Conv2d", "in_channels": 32, "out_channels": 64, "kernel_size": 3, '
        '"stride": 2, "padding": 1}, {"op": "ReLU"}, {"op": "Flatten"}, {"op": "Linear", "in_features": 1024, '
        '"out_features": 128}, {"op": "ReLU"}, {"op": "Linear", "in_features": 128, "out_features": 10}]}')
PYTORCH = ("```python\nclass Head(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
           "        self.features = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), "
           "nn.ReLU())\n        self.fc1 = nn.Linear(64 * 4 * 4, 128)\n        self.fc2 = nn.Linear(128, num_classes)\n"
           "    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n"
           "        return self.fc2(F.relu(self.fc1(x)))\n```")


@pytest.mark.parametrize(("text", "side"), [
    (f"{FEATURES} Flatten() Linear(64 * 4 * 4, 128) ReLU() Linear(128, 10)", 32),  # sized for a 4x4 map
    (f"{FEATURES} Flatten() Linear(4096, 128) ReLU() Linear(128, 10)", 64),  # for 64x8x8, but the input is 64x64
    (f"{FEATURES} Flatten() Dropout(0.5) Linear(64, 128) ReLU() Linear(128, 10)", 32),  # for a pool it forgot
    (f"{FEATURES} Linear(1024, 128) ReLU() Linear(128, 10)", 32),  # no Flatten either
    (JSON, 32),
    (PYTORCH, 32),
], ids=["list", "other-input", "forgotten-pool", "no-flatten", "json", "pytorch"])
def test_a_linear_sized_for_another_map_gets_a_global_pool(text: str, side: int) -> None:
    layers, findings = design(text, input=(3, side, side))
    head = layers[layers.index("AdaptiveAvgPool2d(1)"):]
    assert head[:2] == ["AdaptiveAvgPool2d(1)", "Flatten()"] and "Linear(64, 128)" in head, layers
    (fix,) = [f for f in findings if f.kind == "fixed-map-linear"]
    assert f"but a 64x{side // 4}x{side // 4} map reaches the Flatten" in fix.why
    assert fix.after.startswith("AdaptiveAvgPool2d(1) Flatten()")


def test_a_linear_that_matches_its_map_or_no_channel_multiple_is_left_to_the_channel_check() -> None:
    layers, findings = design(f"{FEATURES} Flatten() Linear(64 * 8 * 8, 10)")
    assert layers[-2:] == ["Flatten()", "Linear(4096, 10)"] and not findings
    layers, findings = design(f"{FEATURES} Flatten() Linear(1000, 10)")  # no multiple of 64: flatten kept
    assert layers[-2:] == ["Flatten()", "Linear(4096, 10)"]
    assert [f.kind for f in findings] == ["channel-mismatch"]


def test_a_one_by_one_map_needs_no_pool() -> None:
    layers, findings = design(f"{FEATURES} AvgPool2d(8) Flatten() Linear(64 * 4 * 4, 10)")
    assert layers[-3:] == ["AvgPool2d(kernel_size=8)", "Flatten()", "Linear(64, 10)"]
    assert [f.kind for f in findings] == ["channel-mismatch"]
