"""JSON as LLMs write it by hand: comments, trailing commas, a bare list of layers, Keras' layer names and arguments.
The end-to-end runs are the cassettes form_json_comments_trailing_commas and form_json_keras_layers."""

from __future__ import annotations

import pytest

from gptnet.parse import ParseError, parse_answer


def sigs(answer) -> list[str]:
    return [n.signature() for n in answer.models[0].layers]


CONV_RELU = ["Conv2d(3, 8, kernel_size=3)", "ReLU()"]


@pytest.mark.parametrize("text", [
    # issue 22's named failure: the last layer's trailing comma is followed by a comment, not by the bracket
    '```json\n{\n  "layers": [\n    {"op": "Conv2d", "in_channels": 3, "out_channels": 8}, // stem\n'
    '    {"op": "ReLU"}, // last\n  ],\n}\n```',
    '{"layers": [/* stem */ {"op": "Conv2d", "in_channels": 3, "out_channels": 8},\n{"op": "ReLU"},\n/* end */]}',
    '{\n  # a hand-written list\n  "layers": [\n    {"op": "Conv2d", "in_channels": 3, "out_channels": 8},  # stem\n'
    '    {"op": "ReLU"},  # then\n  ]\n}',
    '[\n  {"op": "Conv2d", "in_channels": 3, "out_channels": 8}, // a bare list\n  {"op": "ReLU"},\n]',
])
def test_comments_and_trailing_commas_are_dropped(text: str) -> None:
    assert sigs(parse_answer(text)) == CONV_RELU


def test_comment_marks_inside_strings_are_text() -> None:
    answer = parse_answer('{"name": "Net // v2 # final", "layers": [\n'
                          '  {"op": "Conv2d", "in_channels": 3, "out_channels": 8}, // stem\n  {"op": "ReLU"},\n]}')
    assert sigs(answer) == CONV_RELU
    assert answer.models[0].name == "Net // v2 # final"


def test_keras_layers_become_the_torch_layers_they_mean() -> None:
    answer = parse_answer("""[
      {"type": "InputLayer", "input_shape": [32, 32, 3]},
      {"type": "Conv2D", "filters": 16, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
      {"type": "BatchNormalization", "momentum": 0.99, "epsilon": 0.001},
      {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2, "padding": "same"},
      {"type": "Activation", "activation": "relu6"},
      {"type": "MaxPooling2D", "pool_size": 2},
      {"type": "GlobalAveragePooling2D"},
      {"type": "Dropout", "rate": 0.2},
      {"type": "Dense", "units": 10}
    ]""")
    assert sigs(answer) == [
        "Conv2d(None, 16, kernel_size=3, stride=2, padding=1)", "ReLU()",
        "BatchNorm2d(None, eps=0.001, momentum=0.01)",  # Keras weighs the old running mean by its momentum
        "DWConv2d(None, None * 2, kernel_size=3, padding=1, groups=None)", "ReLU6()", "MaxPool2d(kernel_size=2)",
        "AdaptiveAvgPool2d(1)", "Dropout(0.2)", "Linear(None, 10)"]
    assert any("InputLayer left out" in note for note in answer.notes)


def test_an_answer_of_another_shape_is_named_in_the_error() -> None:
    with pytest.raises(ParseError, match='found an object with keys "model", "blocks"; expected a "layers" list or '
                                         'a list of layers'):
        parse_answer('```json\n{"model": "TinyNet", "blocks": [{"type": "Conv2d"}]}\n```')
