"""Whole programs as chat models write them (tests/answers_pyeval/*.md: prose and a fenced program in the style of
torchvision, kuangliu/pytorch-cifar, pytorchcv), read by the evaluator (gptnet/parse/pyeval) and carried through
validation, rendering, `gptnet verify` and import. Each is checked against the same program run in real PyTorch
(the fixtures are the project's own code, so the test may exec them for the oracle): parameter count, MACs (thop),
output shape and the convolutions (channels, kernel, stride, groups)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch
from conftest import thop_counts
from torch import nn

from gptnet.parse import ParseError, parse_answer
from gptnet.render import render_checked
from gptnet.spec.graph import ModelSpec
from gptnet.targets import load_target
from gptnet.validators import Task, errors, validate
from gptnet.verify import load_model

ANSWERS = Path(__file__).parent / "answers_pyeval"


def _code(text: str) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))


def _convs(model: nn.Module) -> list[tuple]:
    return sorted((m.in_channels, m.out_channels, m.kernel_size, m.stride, m.groups)
                  for m in model.modules() if isinstance(m, nn.Conv2d))


def _counts(model: nn.Module) -> tuple[int, int]:
    """thop's parameters and MACs, the layers without weights counted as nothing: thop sees `nn.AvgPool2d` but not
    the `F.avg_pool2d` an answer wrote, and the generated code writes modules."""
    import thop

    def nothing(m, x, y):
        m.total_ops += torch.zeros(1, dtype=torch.float64)

    free = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.SiLU, nn.AvgPool2d, nn.MaxPool2d,
            nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Flatten, nn.Identity)
    macs, params = thop.profile(model, inputs=(torch.randn(1, 3, 32, 32),), verbose=False,
                                custom_ops={t: nothing for t in free})
    return int(params), int(macs)


def build_generated(text: str, classes: int, tmp_path: Path, shape=(3, 32, 32)) -> tuple[nn.Module, list]:
    """answer -> parse_answer -> validate -> render -> model.py written, verified and imported -> build_model."""
    answer = parse_answer(text)
    candidate = answer.models[0]
    spec = ModelSpec(name=candidate.name or "Model", input=shape, num_classes=classes, layers=candidate.layers,
                     modules=answer.modules)
    target = load_target("sd855")  # every operator the answers use, so that validation repairs nothing
    target = target.model_copy(update={"operators": [*target.operators, "Hardswish", "Hardsigmoid", "SiLU"]})
    task = Task(budget=10**9, classes=classes, input=shape, target=target, fit=False)
    model, findings = validate(spec, task)
    assert not errors(findings), findings
    path = tmp_path / "model.py"
    path.write_text(render_checked(model, {}, "model.py", "this test"))
    return load_model(path).build_model(num_classes=classes), answer.notes


CASES = {  # fixture -> (the oracle's constructor call, classes)
    "kuangliu_resnet": ("ResNet18()", 10),
    "mobilenet_v2": ("MobileNetV2(num_classes=100)", 100),
    "vgg_cfg": ("VGG()", 10),
    "bottleneck_resnet": ("ResNet50()", 10),
    "ghostnet": ("ghostnet(num_classes=100)", 100),
    "mobilenet_v3": ("mobilenet_v3_small(num_classes=100)", 100),
    "densenet": ("densenet_cifar()", 10),
    "squeezenet": ("SqueezeNet()", 100),
    "preact_resnet": ("PreActResNet18()", 10),
    "efficientnet": ("EfficientNet(width_mult=1.0, depth_mult=1.0, num_classes=100)", 100),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_whole_program_builds_the_same_network_as_pytorch(name: str, tmp_path: Path) -> None:
    text = (ANSWERS / f"{name}.md").read_text()
    call, classes = CASES[name]
    scope: dict = {}
    exec(compile(_code(text), name, "exec"), scope)  # noqa: S102 - the test's own fixture, the oracle
    torch.manual_seed(0)
    expected = eval(call, scope).eval()  # noqa: S307 - the test's own fixture
    got, notes = build_generated(text, classes, tmp_path)
    got.eval()
    x = torch.randn(2, 3, 32, 32)
    assert got(x).shape == expected(x).shape
    assert _convs(got) == _convs(expected)
    assert _counts(got) == _counts(expected)
    assert thop_counts(got, (3, 32, 32))[0] == thop_counts(expected, (3, 32, 32))[0]


REFUSED = {
    "while": ("    def _make(self):\n        n = 0\n        while n < 3:\n            n += 1\n        return n\n",
              "while loops are not read"),
    "exec": ("    def _make(self):\n        exec('import os')\n        return 1\n", "`exec` is not read"),
    "dunder import": ("    def _make(self):\n        return __import__('os')\n", "`__import__` is not read"),
    "getattr": ("    def _make(self):\n        return getattr(nn, 'Conv2d')\n",
                "getattr() is read only of an instance of the answer's class"),
    "vars": ("    def _make(self):\n        return vars(nn)\n", "`vars` is not read"),
    "huge range": ("    def _make(self):\n        return len(list(range(10 ** 12)))\n", "larger than gptnet reads"),
    "recursion": ("    def _make(self):\n        return self._make()\n", "MAX_CALL_DEPTH"),
    "dunder attribute": ("    def _make(self):\n        return self.__class__\n", "`__class__` is not read"),
    "long loop": ("    def _make(self):\n        for i in range(90000):\n            for j in range(90000):\n"
                  "                pass\n", "MAX_EVAL_STEPS"),
    "linear work per step": ("    def _make(self):\n        big = [0] * 50000\n        for i in range(1000):\n"
                             "            for j in range(1000):\n                big.insert(0, i in big)\n",
                             "MAX_EVAL_STEPS"),
    "huge list": ("    def _make(self):\n        return [0] * 10 ** 9\n", "larger than gptnet reads"),
    "huge power": ("    def _make(self):\n        return 2 ** 10 ** 9\n", "larger than gptnet reads"),
}


@pytest.mark.parametrize("helper", sorted(REFUSED))
def test_what_the_evaluator_does_not_read_is_refused_quickly_naming_the_line(helper: str) -> None:
    body, message = REFUSED[helper]
    text = ("```python\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, num_classes=10):\n"
            "        super().__init__()\n        n = self._make()\n        self.fc = nn.Linear(8, num_classes)\n\n"
            f"{body}\n    def forward(self, x):\n        return self.fc(x)\n\n\nmodel = Net()\n```")
    start = time.monotonic()
    with pytest.raises(ParseError) as e:
        parse_answer(text)
    assert time.monotonic() - start < 10
    assert message in str(e.value) and re.search(r"line \d+: ", str(e.value)), str(e.value)


def test_a_recursive_factory_is_refused() -> None:
    text = ("```python\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, n):\n"
            "        super().__init__()\n        self.fc = nn.Linear(n, 10)\n\n    def forward(self, x):\n"
            "        return self.fc(x)\n\ndef make(n=3):\n    return make(n + 1)\n\nmodel = make()\n```")
    with pytest.raises(ParseError, match=r"line 12: calls nest more than \d+ deep"):
        parse_answer(text)


def test_break_star_args_and_a_return_in_a_loop_are_followed() -> None:
    """What the class reader refused (a `break`, *args, a return in a loop) the evaluator follows as Python would."""
    text = ("```python\nimport torch.nn as nn\n\ndef conv_bn(*args):\n    return nn.Sequential(nn.Conv2d(*args), "
            "nn.BatchNorm2d(args[1]))\n\ndef build():\n    layers = []\n    for i in range(3):\n        if i == 1:\n"
            "            break\n        layers.append(nn.ReLU())\n        for j in range(2):\n"
            "            return nn.Sequential(conv_bn(3, 8, 1), *layers)\n\nmodel = build()\n```")
    (model,) = parse_answer(text).models
    assert [n.signature() for n in model.layers] == ["Conv2d(3, 8, kernel_size=1)", "BatchNorm2d(8)", "ReLU()"]


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(_code(text).splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("edits", "needle", "message"), [
    ([], "return x[:, :c, :, :]", r"`x\[:, :c, :, :\]` takes a part of the channels \(a channel split\)"),
    ([("x1, x2 = self.split(x)", "x1, x2 = x.chunk(2, dim=1)")], "x.chunk", "`chunk` splits channels"),
    ([("x1, x2 = self.split(x)", "x1, x2 = x, x")], "x.view(N, g", "a reshape to 5 dimensions is not a layer"),
])
def test_a_shufflenet_is_refused_naming_the_line_it_cannot_be_a_layer_at(edits, needle: str, message: str) -> None:
    text = (ANSWERS / "shufflenet_v2.md").read_text()
    for old, new in edits:
        text = text.replace(old, new)
    with pytest.raises(ParseError, match=f"line {_line(text, needle)}: {message}"):
        parse_answer(text)


def test_a_refusal_reaches_the_llm_in_the_revise_turn() -> None:
    from gptnet.agent.cassette import Cassette, Turn
    from gptnet.agent.llm import ReplayLLM
    from gptnet.agent.pipeline import Designer
    from gptnet.design import Options, make_task

    refused = (ANSWERS / "kuangliu_resnet.md").read_text().replace(
        "        for stride in strides:\n", "        while False:\n            pass\n        for stride in strides:\n")
    fixed = (ANSWERS / "vgg_cfg.md").read_text()
    llm = ReplayLLM(Cassette(turns=[Turn(stage="model", response=refused), Turn(stage="revise", response=fixed)]),
                    "test")
    task = make_task(Options(budget="20M", target="sd855", classes=10, input="3x32x32"))
    designer = Designer(task, llm, budget_text="20M", max_revisions=1)
    designer.start()
    (revise,) = [t for t in designer.conversation.turns if t.stage == "revise"]
    assert f"line {_line(refused, 'while False')}: while loops are not read" in json.dumps(revise.request)


def test_a_module_the_program_uses_but_does_not_define_is_asked_for() -> None:
    text = ("```python\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, num_classes=10):\n"
            "        super().__init__()\n        self.body = nn.Sequential(*[DepthwiseConv2d(c, 2 * c, kernel_size=3) "
            "for c in (8, 16)])\n        self.fc = nn.Linear(32, num_classes)\n\n    def forward(self, x):\n"
            "        return self.fc(self.body(x).mean([2, 3]))\n\nmodel = Net()\n```")
    answer = parse_answer(text)
    assert [n.signature() for n in answer.models[0].layers] == [
        "DepthwiseConv2d(8, 16, kernel_size=3)", "DepthwiseConv2d(16, 32, kernel_size=3)", "AdaptiveAvgPool2d(1)",
        "Flatten()", "Linear(32, 10)"]
    assert not answer.modules


def test_deep_nesting_across_calls_is_refused_before_python_recurses_too_deep() -> None:
    helpers = "".join(f"def f{i}(n):\n    return {'[' * 50}f{i + 1}(n){']' * 50}\n" for i in range(5))
    text = (f"```python\nimport torch.nn as nn\n{helpers}def f5(n):\n    return 1\n\nclass Net(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(f0(1), 10)\n\n"
            "    def forward(self, x):\n        return self.fc(x)\n\nmodel = Net()\n```")
    with pytest.raises(ParseError, match=r"line \d+: statements and expressions nest more than \d+ deep"):
        parse_answer(text)


@pytest.mark.parametrize(("name", "modules"), [
    ("kuangliu_resnet", ["BasicBlock(64)", "BasicBlock_2(64, 128)"]),
    ("mobilenet_v2", ["InvertedResidual()", "InvertedResidual_2(16, 24, 1)"]),
    ("efficientnet", ["SqueezeExcite()", "MBConv()", "SqueezeExcite_2(in_chs * 6)", "MBConv_2(16, 24, 3, 1)"]),
])
def test_constructions_of_a_class_fold_into_parametrised_modules(name: str, modules: list[str]) -> None:
    """One spec module per structure of a class, with the sizes its constructor's arguments explain, and a
    residual that only some instances add under the condition that tells them apart: model.py stays as readable
    as the answer (the oracle test above checks the folded model is the same network)."""
    answer = parse_answer((ANSWERS / name).with_suffix(".md").read_text())
    calls = {}
    for node in [n for m in answer.modules for n in m.body] + answer.models[0].layers:
        for call in [node, *getattr(node, "body", []), *getattr(node, "shortcut", [])]:
            if call.op == "call":
                calls.setdefault(call.module, call.signature())
    assert [calls.get(m.name, m.name) for m in answer.modules] == modules
    switched = {"mobilenet_v2": "inp == oup", "efficientnet": "in_chs == out_chs"}.get(name)
    assert [n.when for m in answer.modules for n in m.body if n.op == "add" and n.when] == [switched] * bool(switched)


def test_a_refused_class_the_model_uses_is_refused_with_its_reason_not_asked_for_again() -> None:
    """A Ghost module whose slice drops channels: the reason reaches the LLM, not a module:X question."""
    text = ("```python\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "class Ghost(nn.Module):\n    def __init__(self, inp, oup):\n        super().__init__()\n"
            "        self.oup = oup\n        self.a = nn.Conv2d(inp, oup // 2 + 1, 1)\n"
            "        self.b = nn.Conv2d(oup // 2 + 1, oup // 2 + 1, 3, padding=1)\n\n    def forward(self, x):\n"
            "        x1 = self.a(x)\n        return torch.cat([x1, self.b(x1)], 1)[:, :self.oup]\n\n"
            "class Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
            "        self.g = Ghost(3, 16)\n        self.fc = nn.Linear(16, num_classes)\n\n"
            "    def forward(self, x):\n        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.g(x), 1), 1))\n"
            "```")
    with pytest.raises(ParseError, match=r"^building the program: line 14: `torch.cat\(\[x1, self.b\(x1\)\], 1\)"
                                         r"\[:, :self.oup\]` keeps 16 of 18 .*; reading its classes one by one: "
                                         r"class Ghost refused: "):
        parse_answer(text)
    with pytest.raises(ParseError, match=r"line 30: `out\[:, :self.oup, :, :\]` keeps 16 of 18 channels"):
        parse_answer((ANSWERS / "ghostnet.md").read_text().replace(
            "init_channels = math.ceil(oup / ratio)", "init_channels = math.ceil(oup / ratio) + 1"))


def test_gptnet_design_replays_a_whole_program_to_a_verified_model(tmp_path: Path) -> None:
    from conftest import run_cli, write_cassette

    article = json.loads((Path(__file__).parents[1] / "gptnet" / "data" / "article.json").read_text())
    ops = next(t["response"] for t in article["turns"] if t["stage"] == "ops")
    cassette = write_cassette(tmp_path / "kuangliu.json", [
        {"stage": "ops", "response": ops}, {"stage": "model", "response": (ANSWERS / "kuangliu_resnet.md").read_text()}])
    r = run_cli("design", "--replay", str(cassette), "--target", "sd855", "--budget", "12M", "--classes", "10",
                "--yes", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "11.17M params (11,173,962" in r.stdout and "BasicBlock_2(64, 128)" in r.stdout
    r = run_cli("verify", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0 and "passes" in r.stdout, r.stderr


def test_weight_init_and_prints_in_init_build_nothing_and_are_not_refused() -> None:
    text = ("```python\nimport math\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"
            "    def __init__(self, num_classes=10):\n        super().__init__()\n"
            "        self.conv = nn.Conv2d(3, 8, 3)\n        self.bn = nn.BatchNorm2d(8)\n"
            "        self.fc = nn.Linear(8, num_classes)\n        print(f'{num_classes:.2f} classes')\n"
            "        for m in self.modules():\n            if isinstance(m, nn.Conv2d):\n"
            "                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels\n"
            "                m.weight.data.normal_(0, math.sqrt(2. / n))\n"
            "            elif isinstance(m, nn.BatchNorm2d):\n                m.weight.data.fill_(1)\n"
            "                m.bias.data.zero_()\n        self.apply(self._init)\n\n    def _init(self, m):\n"
            "        pass\n\n    def forward(self, x):\n        return self.fc(self.bn(self.conv(x)).mean([2, 3]))\n\n"
            "model = Net()\n```")
    answer = parse_answer(text)
    assert [n.signature() for n in answer.models[0].layers] == [
        "Conv2d(3, 8, kernel_size=3)", "BatchNorm2d(8)", "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(8, 10)"]
    assert answer.notes == ["ignored self.apply(...): gptnet reads the layers, not their initial weights"]


def test_a_main_that_trains_is_passed_over_and_a_moved_model_is_the_model() -> None:
    net = ("```python\nimport torch.nn as nn\n\nclass TinyNet(nn.Module):\n    def __init__(self, num_classes=10):\n"
           "        super().__init__()\n        self.fc = nn.Linear(8, num_classes)\n\n    def forward(self, x):\n"
           "        return self.fc(x)\n\ndef main():\n    model = TinyNet()\n    return train(model, epochs=90)\n")
    (model,) = parse_answer(net + "\ndef build():\n    return TinyNet(num_classes=5)\n```").models
    assert [n.signature() for n in model.layers] == ["Linear(8, 5)"]
    (model,) = parse_answer(net + "\nmodel = TinyNet(num_classes=7).to('cpu').eval()\n```").models
    assert [n.signature() for n in model.layers] == ["Linear(8, 7)"]


def test_helpers_in_init_casts_unknown_norms_in_isinstance_and_a_training_script_are_read() -> None:
    """MobileNet's `def conv_bn` inside __init__, torchvision's `cast(int, v)` and `isinstance(m, (nn.BatchNorm2d,
    nn.GroupNorm))`, and a `train()` whose default argument reads torch.cuda around the model it constructs."""
    text = ("```python\nfrom typing import cast\nimport torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"
            "    def __init__(self, num_classes=10):\n        super().__init__()\n        width = 8\n"
            "        def conv_bn(inp, oup):\n            return nn.Sequential(nn.Conv2d(inp, oup, 3), "
            "nn.BatchNorm2d(oup))\n        self.body = conv_bn(3, cast(int, width))\n"
            "        self.fc = nn.Linear(width, num_classes)\n        for m in self.modules():\n"
            "            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):\n                nn.init.ones_(m.weight)\n\n"
            "    def forward(self, x):\n        return self.fc(self.body(x).mean([2, 3]))\n\n"
            "def train(device='cuda' if torch.cuda.is_available() else 'cpu'):\n    model = Net().to(device)\n"
            "    return model\n\nif __name__ == '__main__':\n    model = train()\n```")
    (model,) = parse_answer(text).models
    assert [n.signature() for n in model.layers] == [
        "Conv2d(3, 8, kernel_size=3)", "BatchNorm2d(8)", "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(8, 10)"]
    with pytest.raises(ParseError, match=r"`nn.GroupNorm` is not a layer gptnet knows"):
        parse_answer(text.replace("nn.BatchNorm2d(oup)", "nn.GroupNorm(2, oup)"))


def test_a_block_constructed_to_try_it_is_read_as_its_class_for_stage_module() -> None:
    """An answer to stage module:X that ends with `m = X(32, 64)` to show it works defines X, with parameters."""
    text = ("```python\nimport torch\nimport torch.nn as nn\n\nclass DepthwiseConv2d(nn.Module):\n"
            "    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1):\n"
            "        super().__init__()\n        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, "
            "stride, padding, groups=in_channels)\n        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)\n\n"
            "    def forward(self, x):\n        return self.pointwise(self.depthwise(x))\n\n"
            "if __name__ == '__main__':\n    m = DepthwiseConv2d(32, 64)\n    print(m(torch.randn(1, 32, 8, 8)).shape)\n```")
    answer = parse_answer(text)
    (module,) = answer.modules
    assert module.name == "DepthwiseConv2d" and module.params[:2] == ["in_channels", "out_channels"]


def test_parameters_and_locals_shadow_builtins_and_dunder_names_stay_refused() -> None:
    """torchvision's `def forward(self, input)`, a helper's `len` and `type` parameters and a local `vars`: the
    answer's own names, as in Python; an unsafe builtin is refused only where nothing of the answer's has its name."""
    text = ("```python\nimport torch.nn as nn\n\ndef block(input, len=2, type='relu'):\n    vars = []\n"
            "    for _ in range(len):\n        vars.append(nn.Conv2d(input, input, 3))\n    return vars\n\n"
            "class _Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
            "        self.body = nn.Sequential(*block(8))\n        self.fc = nn.Linear(8, num_classes)\n\n"
            "    def forward(self, input):\n        return self.fc(self.body(input).mean([2, 3]))\n\n"
            "model = nn.Sequential(_Net())\n```")
    answer = parse_answer(text)
    assert [m.name for m in answer.modules] == ["Net"]  # a private class's module is named without its _
    assert [n.signature() for n in answer.modules[0].body] == [
        "Conv2d(8, 8, kernel_size=3)", "Conv2d(8, 8, kernel_size=3)", "AdaptiveAvgPool2d(1)", "Flatten()",
        "Linear(8, 10)"]
    printed = parse_answer(text.replace("    return vars\n", "    def print(n):\n        vars.append(nn.ReLU())\n"
                                                          "    print(1)\n    return vars\n"))
    assert [n.signature() for n in printed.modules[0].body][2] == "ReLU()"  # the answer's print, not the builtin
    with pytest.raises(ParseError, match=r"line 4: `__builtins__` is not read"):
        parse_answer(text.replace("    vars = []\n", "    __builtins__ = vars = []\n"))
    with pytest.raises(ParseError, match=r"line 4: `vars` is not read"):
        parse_answer(text.replace("    vars = []\n", "    vars(nn)\n"))


def _net(init: str, forward: str = "self.fc(self.conv01(x).mean([2, 3]))") -> str:
    """An answer whose Net runs `init` (its own lines, indented) in __init__ and returns `forward`."""
    return ("```python\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, num_classes=10):\n"
            "        super().__init__()\n" + "".join(f"        {line}\n" for line in init.splitlines()) +
            f"\n    def forward(self, x):\n        return {forward}\n\nmodel = Net()\n```")


def test_str_format_names_modules_and_computes_sizes() -> None:
    """pytorchcv's `stage.add_module("unit{}".format(j + 1), ...)`: `{}`, `{0}`, `{name}`, a width and `d`."""
    text = _net('self.add_module("{}{:02d}".format("conv", 1), nn.Conv2d(3, int("{0}{w}".format(1, w=6)), 3))\n'
                'self.fc = nn.Linear(int(f"{16:d}"), num_classes)')
    (model,) = parse_answer(text).models
    assert [n.signature() for n in model.layers] == [
        "Conv2d(3, 16, kernel_size=3)", "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(16, 10)"]
    assert model.layers[0].name == "conv01"


@pytest.mark.parametrize(("expression", "message"), [
    ('"{0.__class__}".format(self)', r"the format field `\{0.__class__\}` is not read"),
    ('"{0[0]}".format([1])', r"the format field `\{0\[0\]\}` is not read"),
    ('"{!r}".format(1)', r"the format field `\{!r\}` is not read"),
    ('"{:>1000}".format(1)', r"the format field `\{:>1000\}` is not read"),
    ('"{:{w}}".format(1, w=3)', r"the format field `\{:\{w\}\}` is not read"),
    ('"{:d}".format("a")', r"the format field `\{:d\}` is not read"),
    ('f"{num_classes!r}"', r"the format field `\{num_classes!r\}` is not read"),
    ('"{}".format(nn.ReLU())', r"`\{\}` formats a ReLU layer, not a number or a string"),
    ('"{} {0}".format(1)', r"the format string '\{\} \{0\}' numbers its fields both by hand and automatically"),
    ('"{1}".format(0)', r"`\{1\}` names no argument of the .format call"),
    ('"{".format()', r"the format string '\{': Single '\{' encountered"),
    ('"{0}{0}{0}{0}".format("x" * 90000)', r"building the model takes more than .* steps"),
    ('f"{s}{s}{s}{s}"', r"building the model takes more than .* steps"),
])
def test_str_format_is_refused_where_it_would_reach_into_objects_or_grow_past_the_bounds(expression: str,
                                                                                          message: str) -> None:
    text = _net(f's = "x" * 90000\nname = {expression}\nself.conv01 = nn.Conv2d(3, 8, 3)\n'
                "self.fc = nn.Linear(8, num_classes)")
    with pytest.raises(ParseError, match=f"line 7: {message}"):
        parse_answer(text)


def test_setattr_and_getattr_of_self_with_names_known_when_the_model_is_built() -> None:
    """torchvision's ShuffleNetV2: `setattr(self, name, nn.Sequential(*seq))` over `stage2..4`, used as attributes
    in forward, or through getattr."""
    text = _net('for i, c in enumerate([8, 16]):\n'
                '    setattr(self, f"stage{i + 1}", nn.Conv2d(3 if i == 0 else 8, c, 3))\n'
                'self.fc = nn.Linear(16, num_classes)\nself.head = getattr(self, "missing", None)',
                'self.fc(getattr(self, "stage{}".format(2))(self.stage1(x)).mean([2, 3]))')
    (model,) = parse_answer(text).models
    assert [(n.signature(), n.name) for n in model.layers[:2]] == [
        ("Conv2d(3, 8, kernel_size=3)", "stage1"), ("Conv2d(8, 16, kernel_size=3)", "stage2")]


@pytest.mark.parametrize(("statement", "message"), [
    ('setattr(self, "__class__", nn.ReLU())', r"setattr\(\): attribute name '__class__' is not a usable name"),
    ('setattr(self, "a-b", nn.ReLU())', r"setattr\(\): attribute name 'a-b' is not a usable name"),
    ('setattr(self, 3, nn.ReLU())', r"setattr\(\): attribute name 3 is not a usable name"),
    ('setattr(self, "forward", nn.ReLU())', r"setattr\(\): attribute name 'forward' is reserved"),
    ('setattr(nn, "Conv2d", nn.ReLU())', r"setattr\(\) is read only of an instance of the answer's class"),
    ('getattr(self, "__dict__")', r"getattr\(\): attribute name '__dict__' is not a usable name"),
    ('getattr(self, "missing")', r"Net has no attribute `missing`"),
])
def test_setattr_and_getattr_are_refused_of_other_than_self_and_a_usable_name(statement: str, message: str) -> None:
    text = _net(f"{statement}\nself.conv01 = nn.Conv2d(3, 8, 3)\nself.fc = nn.Linear(8, num_classes)")
    with pytest.raises(ParseError, match=f"line 6: {message}"):
        parse_answer(text)


def _activation(expression: str) -> str:
    """An answer whose Net applies `act(conv(x), relu)`, a helper returning `expression` (line 6)."""
    return ("```python\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
            f"def act(x, relu):\n    return {expression}\n\n"
            "class Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
            "        self.conv = nn.Conv2d(3, 8, 3)\n        self.relu = nn.ReLU6(inplace=True)\n"
            "        self.fc = nn.Linear(8, num_classes)\n\n    def forward(self, x):\n"
            "        return self.fc(act(self.conv(x), self.relu).mean([2, 3]))\n\nmodel = Net()\n```")


@pytest.mark.parametrize(("expression", "layers"), [
    ("F.relu6(x + 3.) / 6.", ["Hardsigmoid()"]),
    ("F.relu6(x + 3, inplace=True) / 6", ["Hardsigmoid()"]),
    ("torch.clamp(x + 3, 0, 6) / 6", ["Hardsigmoid()"]),
    ("(3 + x).clamp(min=0., max=6.) / 6.", ["Hardsigmoid()"]),
    ("relu(x + 3) / 6", ["Hardsigmoid()"]),
    ("x * F.relu6(x + 3.) / 6.", ["Hardswish()"]),
    ("F.relu6(x + 3) * x / 6", ["Hardswish()"]),
    ("x * (F.relu6(x + 3) / 6)", ["Gate(Hardsigmoid())"]),
    ("x * F.relu6(x.mean([2, 3], keepdim=True) + 3) / 6", ["Gate(AdaptiveAvgPool2d(1), Hardsigmoid())"]),
    ("torch.clamp(x, 0, 6)", ["ReLU6()"]),
    ("x.clamp(min=0)", ["ReLU()"]),
])
def test_a_hand_written_hard_sigmoid_or_hard_swish_is_the_layer_it_computes(expression: str,
                                                                           layers: list[str]) -> None:
    """GhostNet's `hard_sigmoid`, MobileNetV3's h_sigmoid and h_swish as they are written out: x + 3 clamped to
    [0, 6] (relu6, an nn.ReLU6, clamp) over 6, of the tensor or times it."""
    def shown(node) -> str:
        return f"Gate({', '.join(map(shown, node.gate))})" if node.op == "mul" else node.signature()

    answer = parse_answer(_activation(expression))
    lifted = {m.name: m.body for m in answer.modules}  # a top-level gate is a generated module of its own
    assert [shown(b) for n in answer.models[0].layers[1:-3] for b in (lifted[n.module] if n.op == "call" else [n])] \
        == layers


@pytest.mark.parametrize(("expression", "message"), [
    ("F.relu6(x + 3.) / 5.", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("F.relu(x + 3.) / 6.", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("torch.clamp(x + 3, 0, 1) / 6", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("relu(x + 3) * 2", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("x + 3", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("F.relu6(x + 3) / 6 if x + 3 else x", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("[x + 3, x][1]", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("(x + 3).view(x.size(0), -1)", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("(lambda h: h / 6 + h * 2)(F.relu6(x + 3))", r"`\+` of a tensor and a number is not a layer gptnet has"),
    ("x * 6", r"`\*` of a tensor and a number is not a layer gptnet has"),
    ("x / 6", "`/` of a tensor and a number is not a layer gptnet has"),
    ("torch.clamp(x, 0, 1)", r"a clamp to \[0, 1\] is not a layer gptnet has"),
])
def test_other_arithmetic_of_a_tensor_and_a_number_is_refused_as_before(expression: str, message: str) -> None:
    with pytest.raises(ParseError, match=f"line 6: {message}"):
        parse_answer(_activation(expression))


def test_hard_sigmoids_and_hard_swishes_written_out_compute_what_the_program_does(tmp_path: Path) -> None:
    """A GhostNet-style squeeze-excite gated by a `hard_sigmoid` function, MobileNetV3's h_swish module and a
    clamp, read and rendered, give the program's outputs with its weights."""
    from corpus import differences

    text = ("```python\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "def hard_sigmoid(x, inplace: bool = False):\n    if inplace:\n"
            "        return x.add_(3.).clamp_(0., 6.).div_(6.)\n    return F.relu6(x + 3.) / 6.\n\n"
            "class HSwish(nn.Module):\n    def __init__(self, inplace=True):\n        super().__init__()\n"
            "        self.relu = nn.ReLU6(inplace=inplace)\n\n    def forward(self, x):\n"
            "        return x * self.relu(x + 3) / 6\n\n"
            "class Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
            "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n        self.act = HSwish()\n"
            "        self.reduce = nn.Conv2d(16, 4, 1)\n        self.expand = nn.Conv2d(4, 16, 1)\n"
            "        self.gate_fn = hard_sigmoid\n        self.fc = nn.Linear(16, num_classes)\n\n"
            "    def forward(self, x):\n        x = self.act(self.conv(x))\n"
            "        se = self.expand(F.relu(self.reduce(F.adaptive_avg_pool2d(x, 1))))\n"
            "        x = x * self.gate_fn(se)\n        x = torch.clamp(x + 3, 0, 6) / 6\n"
            "        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))\n\nmodel = Net()\n```")
    scope: dict = {}
    exec(compile(_code(text), "hard", "exec"), scope)  # noqa: S102 - the test's own program, the oracle
    got, _ = build_generated(text, 10, tmp_path)
    assert differences(scope["model"].eval(), got.eval(), (3, 32, 32)) == []
