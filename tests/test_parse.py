"""Parsers, called as a library: each answer form becomes the spec it describes."""

from __future__ import annotations

import pytest
from torch import nn

from conftest import thop_counts
from gptnet.parse import ParseError, parse_answer
from gptnet.parse.ops import parse_ops
from gptnet.spec.graph import Call, Concat
from gptnet.spec.walk import run_node


def sigs(nodes) -> list[str]:
    return [n.signature() for n in nodes]


def test_article_layer_list_in_chinese_prose(article_text) -> None:
    answer = parse_answer(article_text["model"])
    assert answer.form == "layers" and len(answer.models) == 1
    layers = answer.models[0].layers
    assert len(layers) == 36
    assert sigs(layers[:4]) == ["Conv2d(3, 32, kernel_size=3, padding=1)", "BatchNorm2d(32)", "ReLU()",
                                "DepthwiseConv2d(32, kernel_size=3, stride=1, padding=1)"]
    assert isinstance(layers[3], Call)
    assert sigs(layers[-3:]) == ["AvgPool2d(kernel_size=4)", "Flatten()", "Linear(1024, 10)"]


def test_article_module_one_line_source(article_text) -> None:
    answer = parse_answer(article_text["module:DepthwiseConv2d"])
    assert answer.form == "python" and not answer.models
    (dw,) = answer.modules
    assert dw.params == ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"]
    assert dw.defaults == {"stride": 1, "padding": 0, "dilation": 1, "groups": None}
    assert dw.derived == {"groups": "in_channels"}
    assert [n.name for n in dw.body] == ["depthwise_conv", "pointwise_conv"]
    # the module as the article's torch code builds it: grouped conv then pointwise
    step = run_node(Call(module="DepthwiseConv2d", args=[32, 32, 3], kwargs={"padding": 1}), (32, 16, 16),
                    {"DepthwiseConv2d": dw})
    ref = nn.Sequential(nn.Conv2d(32, 32, 3, 1, 1, 1, groups=32), nn.Conv2d(32, 32, 1))
    assert step.out == (32, 16, 16)
    assert (step.params, step.macs) == thop_counts(ref, (32, 16, 16))


@pytest.mark.parametrize("text", [
    "Conv2d(3, 8, 3) ReLU() Flatten() Linear(8, 10)",
    "Conv2d(3, 8, 3)\nReLU()\nFlatten()\nLinear(8, 10)",
    "Conv2d(3, 8, 3), ReLU(), Flatten(), Linear(8, 10)",
    "1. Conv2d(3, 8, 3)\n2. ReLU()\n3. Flatten()\n4. Linear(8, 10)",
    "- nn.Conv2d(3, 8, 3)\n- nn.ReLU()\n- Flatten\n- nn.Linear(8, 10)",
    "我建议如下结构：Conv2d(3, 8, 3) -> ReLU() -> Flatten() -> Linear(8, 10)。这样参数较少。",
    "Here's a model: Conv2d(3, 8, 3) → ReLU() → Flatten() → Linear(8, 10). Hope it helps!",
])
def test_layer_list_forms(text: str) -> None:
    answer = parse_answer(text)
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 8, kernel_size=3)", "ReLU()", "Flatten()", "Linear(8, 10)"]


def test_aliases_and_keras_arguments() -> None:
    answer = parse_answer("Conv2D(32, (3, 3), strides=2, padding='same')\nBatchNormalization()\nLeakyReLU(0.1)\n"
                          "MaxPooling2D(pool_size=2)\nGlobalAveragePooling2D()\nDropout(0.2)\nDense(10)")
    assert sigs(answer.models[0].layers) == [
        "Conv2d(None, 32, kernel_size=(3, 3), stride=2, padding=1)", "BatchNorm2d(None)",
        "LeakyReLU(negative_slope=0.1)", "MaxPool2d(kernel_size=2)", "AdaptiveAvgPool2d(1)", "Dropout(0.2)",
        "Linear(None, 10)"]


def test_several_models_are_separate_candidates() -> None:
    answer = parse_answer("A: Conv2d(3, 8, 3) ReLU() Flatten() Linear(8, 10)\n\n"
                          "B: Conv2d(3, 4, 3) ReLU() Flatten() Linear(4, 10)")
    assert [len(m.layers) for m in answer.models] == [4, 4]


@pytest.mark.parametrize("text", [
    '{"layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 8}, {"op": "ReLU"}]}',
    'Sure:\n```json\n{"layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 8}, {"op": "ReLU"}]}\n```',
    'Here: {"model": {"layers": [{"type": "conv2d", "args": {"in_channels": 3, "filters": 8}}, "ReLU()"]}} done',
    '[{"layer": "Conv2d", "params": [3, 8]}, {"layer": "relu"}]',
])
def test_json_forms(text: str) -> None:
    assert sigs(parse_answer(text).models[0].layers) == ["Conv2d(3, 8, kernel_size=3)", "ReLU()"]


def test_json_errors_are_clear() -> None:
    with pytest.raises(ParseError, match="names no operator"):
        parse_answer('{"layers": [{"in_channels": 3}]}')
    with pytest.raises(ParseError, match="no layers found"):
        parse_answer("I cannot design that.")


def test_fire_concat_and_whole_model_classes() -> None:
    text = '''```python
class Fire(nn.Module):
    def __init__(self, inplanes, squeeze_planes, e1, e3):
        super(Fire, self).__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, e1, kernel_size=1)
        self.expand3x3 = nn.Conv2d(squeeze_planes, e3, kernel_size=3, padding=1)

    def forward(self, x):
        x = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1x1(x)), self.relu(self.expand3x3(x))], dim=1)

class TinySqueeze(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2), nn.ReLU(inplace=True), Fire(32, 8, 16, 16))
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.classifier(x)

class Wider(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.body(x)
```'''
    answer = parse_answer(text)
    assert [m.name for m in answer.models] == ["TinySqueeze", "Wider"]
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 32, kernel_size=3, stride=2)", "ReLU(inplace=True)",
                                             "Fire(32, 8, 16, 16)", "AdaptiveAvgPool2d(1)", "Flatten()",
                                             "Linear(32, 10)"]
    (fire,) = answer.modules
    assert isinstance(fire.body[-1], Concat)
    step = run_node(answer.models[0].layers[2], (32, 15, 15), {"Fire": fire})
    assert step.out == (32, 15, 15)


def test_module_level_sequential() -> None:
    answer = parse_answer("model = nn.Sequential(\n    nn.Conv2d(3, 8, 3),\n    nn.ReLU(),\n)\n")
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 8, kernel_size=3)", "ReLU()"]


def test_ops_answer() -> None:
    assert parse_ops("以下是在骁龙855芯片上比较友好的神经网络算子: 1. Conv2d 2. Depthwise Conv2d 3. Maxpool2d "
                     "4. Avgpool2d 5. BatchNorm2d 6. ReLU 7. Flatten 8. Linear") == [
        "Conv2d", "DepthwiseConv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"]
    assert parse_ops("- Conv2d (standard)\n- Hard-Swish\n- Global average pooling") == [
        "Conv2d", "Hardswish", "AdaptiveAvgPool2d"]


def test_forward_it_cannot_follow_is_refused() -> None:
    with pytest.raises(ParseError, match="Evil refused"):
        parse_answer("class Evil(nn.Module):\n    def forward(self, x):\n        return eval('x')\n")


C = "Conv2d(8, 8, kernel_size=3, padding=1)"


@pytest.mark.parametrize(("text", "convs", "relus"), [
    ("[Conv2d(8, 8, 3, padding=1), ReLU()] x 3", 3, 3),
    ("[Conv2d(8, 8, 3, padding=1), ReLU()]×3", 3, 3),
    ("3 x [Conv2d(8, 8, 3, padding=1), ReLU()]", 3, 3),
    ("2× Conv2d(8, 8, 3, padding=1), ReLU()", 2, 1),
    ("Conv2d(8, 8, 3, padding=1) (x4) -> ReLU()", 4, 1),
    ("Conv2d(8, 8, 3, padding=1) * 2, ReLU()", 2, 1),
    ("Repeat 3 times: Conv2d(8, 8, 3, padding=1), ReLU()", 3, 3),
    ("Conv2d(8, 8, 3, padding=1), ReLU() （重复2次）", 2, 2),
    ("2 x [Conv2d(8, 8, 3, padding=1), [ReLU()] x 2]", 2, 4),
])
def test_repetitions_are_written_out(text: str, convs: int, relus: int) -> None:
    answer = parse_answer(text)
    layers = sigs(answer.models[0].layers)
    assert layers.count(C) == convs and layers.count("ReLU()") == relus, layers
    assert any("repeated" in n for n in answer.notes)


@pytest.mark.parametrize("text", [
    "3x3 convs: Conv2d(8, 8, 3, padding=1), ReLU()",          # a kernel size in prose
    "Conv2d(8, 8, 3, padding=1), ReLU(), Linear(8 * 1 * 1, 10)",  # arithmetic inside a call
    "Conv2d(8, 8, 3, padding=1) is 2 times cheaper than a dense conv, ReLU()",  # not a repetition
])
def test_numbers_that_are_not_repetitions_leave_the_layers_alone(text: str) -> None:
    layers = sigs(parse_answer(text).models[0].layers)
    assert layers.count(C) == 1 and layers.count("ReLU()") == 1, layers


def test_an_implausible_repetition_is_left_as_written_with_a_note() -> None:
    answer = parse_answer("[Conv2d(8, 8, 3, padding=1), ReLU()] x 500")
    assert sigs(answer.models[0].layers).count(C) == 1
    assert any("500 repetitions is not a plausible count" in n for n in answer.notes)


def test_a_table_with_calls_in_its_cells_is_a_layer_list() -> None:
    answer = parse_answer("| Layer | Configuration |\n|---|---|\n| Conv1 | Conv2d(3, 32, kernel_size=3) |\n"
                          "| Act | ReLU() |\n| Head | Linear(32, 10) |")
    assert answer.form == "layers"
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 32, kernel_size=3)", "ReLU()", "Linear(32, 10)"]


def test_a_table_that_names_no_layers_is_not_a_model() -> None:
    with pytest.raises(ParseError, match="no column of the table names layers"):
        parse_answer("| Metric | Value |\n|---|---|\n| Params | 3.2M |\n| FLOPs | 0.3G |\n| Top-1 | 71% |")


def test_table_cells_spell_kernels_and_channels_several_ways() -> None:
    answer = parse_answer("| Type | C_in | Filters | Kernel size | Stride | Pad |\n|:--|--:|--:|--:|--:|--:|\n"
                          "| `Conv2d` | 3 | 16 | (3, 3) | 2 | same |\n| Conv (5x5) | 16 | 16 | — | 1 | 2 |\n"
                          "| Dense | 16 | 10 | | | |")
    assert answer.form == "table"
    assert sigs(answer.models[0].layers) == ["Conv2d(3, 16, kernel_size=3, stride=2, padding=1)",
                                             "Conv2d(16, 16, kernel_size=5, padding=2)", "Linear(16, 10)"]


@pytest.mark.parametrize(("text", "convs", "relus"), [
    (f"Conv2d(3, 8, 3, padding=1)\nRepeat the following 3 times:\n- {C}\n- ReLU()\n\nThen:\n- Flatten()", 3, 3),
    (f"1. Conv2d(3, 8, 3, padding=1)\n2. Repeat twice:\n   - {C}\n   - ReLU()\n3. MaxPool2d(2)", 2, 2),
    (f"Stem: Conv2d(3, 8, 3, padding=1)\n\n### Block (×3)\n{C}\nReLU()\n\nHead: Flatten() Linear(8, 10)", 3, 3),
    (f"Conv2d(3, 8, 3, padding=1)\nThe block below is repeated four times\n\n{C}\nReLU()\n", 4, 4),
    (f"Conv2d(3, 8, 3, padding=1)\nStage 2 x2:\n  {C}\n  ReLU()\nFlatten()", 2, 2),
    (f"Conv2d(3, 8, 3, padding=1)\n以下重复三次：\n{C}\nReLU()\n", 3, 3),
])
def test_a_line_that_repeats_the_block_after_it(text: str, convs: int, relus: int) -> None:
    answer = parse_answer(text)
    layers = sigs(answer.models[0].layers)
    assert layers.count(C) == convs and layers.count("ReLU()") == relus, layers
    assert layers[0] == "Conv2d(3, 8, kernel_size=3, padding=1)" and len(answer.models) == 1
    assert any(n.startswith("repeated the 2 layers after") for n in answer.notes)


@pytest.mark.parametrize("text", [
    f"Conv2d(3, 8, 3, padding=1)\nEach stage uses 3x3 convolutions:\n{C}\nReLU()",  # a kernel size, not a count
    f"Conv2d(3, 8, 3, padding=1)\nEach block is repeated 2 times to deepen it.\n{C}\nReLU()",  # says not which
    f"Conv2d(3, 8, 3, padding=1)\nRepeat the following 500 times:\n{C}\nReLU()",
])
def test_prose_that_does_not_say_which_block_to_repeat_leaves_it_alone(text: str) -> None:
    layers = sigs(parse_answer(text).models[0].layers)
    assert layers.count(C) == 1 and layers.count("ReLU()") == 1, layers


@pytest.mark.parametrize("header", ["n", "Repeats", "×", "Number of blocks"])
def test_a_table_column_of_repeats_writes_rows_out_as_mobilenet_v2_means_it(header: str) -> None:
    answer = parse_answer(f"| Operator | Cin | Cout | Kernel | Stride | {header} |\n|---|---|---|---|---|---|\n"
                          "| Conv2d | 3 | 32 | 3 | 2 | 1 |\n| Conv2d | 32 | 64 | 3 | 2 | 3 |\n"
                          "| Global Average Pooling | | | | | |\n| Linear | 64 | 10 | | | |")
    assert sigs(answer.models[0].layers) == [
        "Conv2d(3, 32, kernel_size=3, stride=2)", "Conv2d(32, 64, kernel_size=3, stride=2)",
        "Conv2d(64, 64, kernel_size=3)", "Conv2d(64, 64, kernel_size=3)", "AdaptiveAvgPool2d(1)", "Linear(64, 10)"]
    assert any("3 times, the first with its stride" in n for n in answer.notes)
