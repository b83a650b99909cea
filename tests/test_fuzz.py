"""Property-based attack on the trust boundary: Hypothesis writes hostile answers (JSON specs and article-style
layer lists whose names, sizes, defaults and docs come from pools of payloads and from arbitrary text) and the
pipeline must end each one with a clear error, or with a model.py that passes the verifier, builds and runs.

CI runs a bounded, derandomized pass; `GPTNET_FUZZ_EXAMPLES=2000 GPTNET_FUZZ_RANDOM=1 pytest tests/test_fuzz.py`
searches further."""

from __future__ import annotations

import json
import os
import tempfile
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
# the least share of drawn answers that must build and run: about half of what each strategy reaches today (7, 42
# and 8 of 60 derandomized), so that a change that refuses everything fails
JSON_FLOOR, LAYER_LIST_FLOOR, PROGRAM_FLOOR = 0.05, 0.35, 0.06
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


def fuzz_designs(answers, floor: float) -> None:
    """Every answer the strategy draws ends in a clear error or a verified model that builds and runs; and at least
    `floor` of them build and run, so that the check is not passed by refusing everything."""
    built, drawn = [], []

    @SETTINGS
    @given(answer=answers)
    def one(answer: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            design = _design_or_error(answer)
            if design is not None:
                _check_built(design, Path(tmp))
                built.append(answer)
        drawn.append(answer)

    one()
    assert not Path("MARKER").exists()  # no payload ran, in a refused answer either (the cwd is this test's own)
    assert len(built) >= floor * len(drawn), f"{len(built)} of {len(drawn)} answers built and ran"


def test_hostile_json_answers_end_in_a_clear_error_or_a_verified_model() -> None:
    fuzz_designs(json_answers(), JSON_FLOOR)


def test_hostile_layer_lists_end_in_a_clear_error_or_a_verified_model() -> None:
    fuzz_designs(layer_list_answers(), LAYER_LIST_FLOOR)


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


# whole programs for the evaluator (gptnet/parse/pyeval): a model built by loops, helpers and a block class, with
# statements and expressions drawn from what real answers write and from what an attacker would
EXPRS = ["c", "s", "2", "c * 2", "c // 2", "max(c, 8)", "int(c * 0.5)", "math.ceil(c / 3)", "len([1, 2])",
         "[c] * 2", "(c, s)", "c if s == 1 else 8", "sum(range(4))", "10 ** 12", "2 ** 2 ** 40", "c ** 99",
         "range(10 ** 12)", "list(range(10 ** 12))", "[0] * 10 ** 9", "c / 0", "__import__('os')", "exec('1')",
         "getattr(nn, 'ReLU')", "self.__class__", "open('MARKER', 'w')", "(lambda: 1)()", "helper(c)",
         "Block(c, s)", "nn.Conv2d(c, c, 3)", "self", "'same'", "None", "x", "globals()", "type(self)"]
INIT = ["n = {e}", "self.k = {e}", "for i in range({i}):\n            n = {e}", "if {e}:\n            n = 1\n"
        "        else:\n            n = 2", "while True:\n            pass", "self.extra = nn.Sequential(*[nn.ReLU()] * {i})",
        "layers = [nn.Conv2d(c, c, 1) for _ in range({i})]", "assert {e}", "self.bn = nn.BatchNorm2d({e})",
        "exec({e!r})", "del c", "import os", "self.conv2 = nn.Conv2d(c, {e}, 3, padding=1)", "break",
        "return {e}"]
FORWARD = ["x = x + self.conv(x)", "x = x * torch.sigmoid(self.conv(x))", "x = torch.cat([x, self.conv(x)], 1)",
           "x = torch.cat([x, self.conv(x)], 1)[:, :c]", "x = x.view(x.size(0), -1, 2, 2, 2)", "x = self.conv(x)",
           "x = F.relu(self.conv(x)) + x", "x = self.conv(self.conv(x))", "x = x.chunk(2, dim=1)[0]",
           "if self.k:\n            x = self.conv(x)", "for _ in range({i}):\n            x = F.relu(x)",
           "x = {e}", "while x:\n            pass", "return {e}", "x = x + 1"]


@st.composite
def program_answers(draw) -> str:
    def fill(template: str) -> str:
        return template.format(e=draw(st.sampled_from(EXPRS)), i=draw(st.sampled_from([0, 1, 3, 10**6, -1])))

    init = "\n        ".join(fill(t) for t in draw(st.lists(st.sampled_from(INIT), max_size=3)))
    forward = "\n        ".join(fill(t) for t in draw(st.lists(st.sampled_from(FORWARD), min_size=1, max_size=3)))
    helper = draw(st.sampled_from(["def helper(n):\n    return n * 2", "def helper(n):\n    return helper(n + 1)",
                                   "def helper(n):\n    while n:\n        n -= 1\n    return n",
                                   "def helper(n):\n    return Block(n, 1)"]))
    depth = fill(draw(st.sampled_from(["2", "{e}", "helper(1)"])))
    return (f"```python\nimport math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
            f"{helper}\n\n\nclass Block(nn.Module):\n    expansion = {draw(st.sampled_from(EXPRS))}\n\n"
            f"    def __init__(self, c, s=1):\n        super().__init__()\n        self.k = s == 1\n"
            f"        {init or 'pass'}\n        self.conv = nn.Conv2d(c, c, 3, stride=1, padding=1)\n\n"
            f"    def forward(self, x):\n        c = 8\n        {forward}\n        return x\n\n\n"
            f"class Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
            f"        self.stem = nn.Conv2d(3, 8, 3, padding=1)\n        layers = []\n"
            f"        for i in range({depth}):\n            layers.append(Block(8, 1 + i % 2))\n"
            f"        self.blocks = nn.Sequential(*layers)\n        self.fc = nn.Linear(8, num_classes)\n\n"
            f"    def forward(self, x):\n        x = self.blocks(F.relu(self.stem(x)))\n"
            f"        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))\n\n\n"
            f"model = {draw(st.sampled_from(['Net()', 'Net(num_classes=10)', 'helper(3)', 'Block(8)']))}\n```")


def test_hostile_programs_end_in_a_clear_error_or_a_verified_model() -> None:
    fuzz_designs(program_answers(), PROGRAM_FLOOR)
