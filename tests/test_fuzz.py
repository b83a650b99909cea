"""Property-based attack on the trust boundary: Hypothesis writes hostile answers (JSON specs and article-style
layer lists whose names, sizes, defaults and docs come from pools of payloads and from arbitrary text) and the
pipeline must end each one with a clear error, or with a model.py that passes the verifier, builds and runs.

CI runs a bounded, derandomized pass; `GPTNET_FUZZ_EXAMPLES=2000 GPTNET_FUZZ_RANDOM=1 pytest tests/test_fuzz.py`
searches further."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptnet.agent.cassette import Cassette, Turn
from gptnet.agent.llm import ReplayLLM
from gptnet.agent.pipeline import Designer
from gptnet.design import Options, make_task
from gptnet.errors import GptnetError
from gptnet.render import render_model
from gptnet.spec import expr
from gptnet.verify import check_source, load_model

SETTINGS = settings(max_examples=int(os.environ.get("GPTNET_FUZZ_EXAMPLES", "60")), deadline=None,
                    derandomize=not os.environ.get("GPTNET_FUZZ_RANDOM"), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
TASK = make_task(Options(budget="300K", target="sd855", classes=10, input="3x16x16"))

PAYLOADS = ["__import__('os').system('touch MARKER')", "exec", "eval('1')", "open('MARKER', 'w')", "c.__class__",
            "().__class__.__bases__", "lambda: 1", "c[0]", "f'{c}'", "globals()", "super", "nn", "torch", "self",
            "forward", "int", "max", "getattr", "build_model", "x", "\uff45\uff58\uff45\uff43", "c if c else 1",
            '"""', "\\", "\x00", "\u202e", "\ud800", "1e999", "c // 0", "c ** 99", "-c", "c * 2", "c", "k", "None"]
NAMES = ["c", "k", "s", "Block", "Fire", "super", "nn", "torch", "self", "x", "forward", "int", "max", "min",
         "exec", "print", "def", "class", "__init__", "_private", "Evil", "training", "parameters", "model",
         "build_model", "F", "num_classes", "\uff45\uff58\uff45\uff43", "a b", "", "9lives", "Sequential"]
OPS = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear",
       "Dropout", "DWConv2d", "Upsample", "Softmax", "call", "add", "concat", "exec", "__import__", "Evil", "nn"]
FIELDS = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "groups", "num_features", "eps",
          "output_size", "in_features", "out_features", "p", "scale_factor", "dim", "bias", "name", "module",
          "args", "kwargs", "body", "shortcut", "when", "branches", "__class__", "mode"]

ints = st.sampled_from([0, 1, 2, 3, 8, 16, 32, 64, -1, 10**9, 2**70]) | st.integers(-5, 70)
floats = st.sampled_from([1e-5, 0.5, 1.0, 1e300, -0.0]) | st.floats(allow_nan=True, allow_infinity=True)
texts = st.sampled_from(PAYLOADS) | st.text(max_size=30)
scalars = ints | floats | texts | st.booleans() | st.none()
values = scalars | st.lists(scalars, max_size=3)


@st.composite
def layers(draw, depth: int = 0):
    layer = {"op": draw(st.sampled_from(OPS))}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if key in ("body", "shortcut") and depth < 2:
            layer[key] = draw(st.lists(layers(depth + 1), max_size=3))
        elif key == "branches" and depth < 2:
            layer[key] = draw(st.lists(st.lists(layers(depth + 1), max_size=2), max_size=2))
        else:
            layer[key] = draw(values)
    return layer


@st.composite
def modules(draw):
    params = draw(st.lists(st.sampled_from(NAMES), max_size=3))
    return {"name": draw(st.sampled_from(NAMES)), "params": params,
            "defaults": {p: draw(values) for p in params if draw(st.booleans())},
            "body": draw(st.lists(layers(), min_size=1, max_size=4)), "doc": draw(texts)}


@st.composite
def json_answers(draw) -> str:
    start = [{"op": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": 1}]
    end = [{"op": "AdaptiveAvgPool2d", "output_size": 1}, {"op": "Flatten"}, {"op": "Linear", "out_features": 10}]
    middle = draw(st.lists(layers(), max_size=4))
    mods = draw(st.lists(modules(), max_size=2))
    for m in mods:
        if draw(st.booleans()):
            middle.append({"op": "call", "module": m["name"], "args": draw(st.lists(values, max_size=2))})
    return json.dumps({"name": draw(texts), "layers": start + middle + end, "modules": mods})


@st.composite
def layer_list_answers(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(OPS + NAMES))
        args = draw(st.lists(st.sampled_from(PAYLOADS) | ints.map(str), max_size=3))
        parts.append(f"{op}({', '.join(args)})" + draw(st.sampled_from(["", " x 2", " (x3)"])))
    return "Conv2d(3, 8, 3, padding=1) " + " ".join(parts) + " AdaptiveAvgPool2d(1) Flatten() Linear(8, 10)"


def _design_or_error(answer: str):
    llm = ReplayLLM(Cassette(turns=[Turn(stage="model", response=answer)]), "fuzz")
    try:
        return Designer(TASK, llm, budget_text="300K", max_revisions=0).start()
    except GptnetError:
        return None  # a clear error (the CLI prints it as one line)


def _check_built(design, tmp_path: Path) -> None:
    source = render_model(design.spec)
    assert check_source(source.encode("utf-8")) is None, source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        net = load_model(path).build_model(num_classes=10).eval()
    with torch.no_grad():
        out = net(torch.randn(1, *TASK.input))
    assert tuple(out.shape) == (1, 10)
    assert not (tmp_path / "MARKER").exists() and not Path("MARKER").exists()


@SETTINGS
@given(answer=json_answers())
def test_hostile_json_answers_end_in_a_clear_error_or_a_verified_model(answer: str, tmp_path: Path) -> None:
    design = _design_or_error(answer)
    if design is not None:
        _check_built(design, tmp_path)


@SETTINGS
@given(answer=layer_list_answers())
def test_hostile_layer_lists_end_in_a_clear_error_or_a_verified_model(answer: str, tmp_path: Path) -> None:
    design = _design_or_error(answer)
    if design is not None:
        _check_built(design, tmp_path)


@SETTINGS
@given(text=texts | st.text(alphabet="abcxyz_0123456789 +-*/%()<>=!.,[]{}'\"\\:;", max_size=60))
def test_size_expressions_are_refused_or_name_only_plain_identifiers(text: str) -> None:
    try:
        source = expr.normalize(text)
    except expr.ExprError:
        return
    for name in expr.names(source):
        assert name.isascii() and name.isidentifier() and not name.startswith("_")
    assert not any(bad in source for bad in ("__", "[", "lambda", "{", ":"))


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave its marker here
