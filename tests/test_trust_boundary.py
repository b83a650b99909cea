"""The trust boundary, attacked as a hostile answer, a shared cassette or a planted file would: nothing they say
runs. Every payload would create a marker file if it were executed, imported or evaluated anywhere: by design,
or by a later command (profile, export, train) that imports the model.py design wrote."""

from __future__ import annotations

import importlib.util
import json
import marshal
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, write_cassette

ARTICLE = ROOT / "generated" / "cnn_gpt"


def one_line_error(r, code: int) -> str:
    """The run failed with `code`, one `gptnet: error:` line and a hint, and no traceback; the error line."""
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.rstrip("\n").splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("gptnet: error:")]
    assert len(errors) == 1 and lines[errors[0] + 1:] and lines[-1].startswith("hint:"), r.stderr
    assert len(lines) - errors[0] == 2, r.stderr  # the error and its hint are one line each
    return lines[errors[0]]


def _model(module: dict, name: str = "M", call: dict | None = None) -> str:
    layers = [{"op": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
              call or {"op": "call", "module": module["name"], "args": [16]},
              {"op": "AdaptiveAvgPool2d", "output_size": 1}, {"op": "Flatten"},
              {"op": "Linear", "in_features": 16, "out_features": 10}]
    return json.dumps({"name": name, "layers": layers, "modules": [module]})


def _conv(out: object = "c", **extra) -> dict:
    return {"op": "Conv2d", "in_channels": "c", "out_channels": out, "kernel_size": 3, "padding": 1, **extra}


def hostile_answers(marker: Path) -> dict[str, list[dict]]:
    """Samples of each class of hostile answer, by the stage they answer."""
    payload = f"__import__('os').system('touch {marker}')"
    evil_doc = f'"""; {payload} #\\" \x00 \u202e \\\\'
    module_source = (f'```python\nclass Evil(nn.Module):\n    """{payload}"""\n'
                     "    def __init__(self, c, int=exec, max=getattr, a='__doc__'):\n        super().__init__()\n"
                     "        self.conv = nn.Conv2d(c, int(max(Evil, a)), 3, padding=1)\n\n"
                     "    def forward(self, x):\n        return self.conv(x)\n```")
    call = {"op": "call", "module": "Evil", "args": [16]}
    model = lambda module, **kw: [{"stage": "model", "response": _model(module, **kw)}]  # noqa: E731
    return {
        # names that shadow what size expressions call, with bare-name defaults
        "shadowing-params": model({"name": "Evil", "params": ["c", "int", "max", "a"],
                                   "defaults": {"int": "exec", "max": "getattr", "a": "__doc__"},
                                   "body": [_conv("int(max(Evil, a))")], "doc": evil_doc}),
        "list-default": model({"name": "Evil", "params": ["c", "k"], "defaults": {"k": ["exec"]},
                               "body": [_conv()]}),
        "expression-payload": model({"name": "Evil", "params": ["c"], "body": [_conv(payload)]}),
        "expression-foreign-name": model({"name": "Evil", "params": ["c"], "body": [_conv("c * open")]}),
        "expression-attribute": model({"name": "Evil", "params": ["c"], "body": [_conv("c.__class__")]}),
        "docstring-payload": model({"name": "Evil", "params": ["c"], "body": [_conv()], "doc": evil_doc}),
        "model-name-payload": model({"name": "Evil", "params": ["c"], "body": [_conv()]}, name=evil_doc),
        "layer-named-forward": model({"name": "Evil", "params": ["c"], "body": [_conv(name="forward")]}),
        "module-named-super": model({"name": "super", "params": ["c"], "body": [_conv()]},
                                    call={**call, "module": "super"}),
        "module-named-nn": model({"name": "nn", "params": ["c"], "body": [_conv()]}, call={**call, "module": "nn"}),
        "module-named-def": model({"name": "def", "params": ["c"], "body": [_conv()]},
                                  call={**call, "module": "def"}),
        "module-named-exec": model({"name": "exec", "params": ["c"], "body": [_conv()]},
                                   call={**call, "module": "exec"}),
        "homoglyph-name": model({"name": "Evil", "params": ["c", "\uff45\uff58\uff45\uff43"], "body": [_conv()]}),
        "model-named-like-its-module": model({"name": "Evil", "params": ["c"], "body": [_conv()]}, name="Evil"),
        "param-named-like-a-module": model({"name": "Evil", "params": ["c", "Evil"], "body": [_conv()]}),
        "module-calls-itself": model({"name": "Evil", "params": ["c"],
                                      "body": [{"op": "call", "module": "Evil", "args": ["c"]}]}),
        "infinite-eps": [{"stage": "model", "response": _model({"name": "Evil", "params": ["c"], "body": [
            _conv(), {"op": "BatchNorm2d", "num_features": "c", "eps": 1e-5}]}).replace("1e-05", "Infinity")}],
        "nan-eps": [{"stage": "model", "response": _model({"name": "Evil", "params": ["c"], "body": [
            _conv(), {"op": "BatchNorm2d", "num_features": "c", "eps": 1e-5}]}).replace("1e-05", "NaN")}],
        "huge-adaptive-pool": [{"stage": "model", "response": "Conv2d(3, 16, 3) AdaptiveAvgPool2d(1000000000) "
                                                              "Flatten() Linear(16, 10)"}],
        "huge-pool-padding": [{"stage": "model", "response": "Conv2d(3, 16, 3) AvgPool2d(2, padding=100000000) "
                                                             "AdaptiveAvgPool2d(1) Flatten() Linear(16, 10)"}],
        "too-many-layers": [{"stage": "model", "response": json.dumps(
            {"layers": [{"op": "ReLU"}] * 1500 + [{"op": "Flatten"}, {"op": "Linear", "out_features": 10}]})}],
        "deeply-nested-modules": [{"stage": "model", "response": json.dumps({
            "layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3},
                       {"op": "call", "module": "M0", "args": [16]}, {"op": "AdaptiveAvgPool2d", "output_size": 1},
                       {"op": "Flatten"}, {"op": "Linear", "out_features": 10}],
            "modules": [{"name": f"M{i}", "params": ["c"], "body": [{"op": "call", "module": f"M{i + 1}",
                                                                     "args": ["c * 2"]}]} for i in range(40)]
            + [{"name": "M40", "params": ["c"], "body": [_conv()]}]})}],
        # the article's missing-module stage answered with PyTorch source that shadows int and max
        "module-source-shadowing": [
            {"stage": "model", "response": "Conv2d(3, 16, 3, padding=1) Evil(16) AdaptiveAvgPool2d(1) Flatten() "
                                           "Linear(16, 10)"},
            {"stage": "module:Evil", "response": module_source}],
    }


CASES = sorted(hostile_answers(Path("MARKER")))


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_answer_never_runs_and_any_model_py_passes_the_verifier(case: str, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    cassette = write_cassette(tmp_path / "c.json", hostile_answers(marker)[case])
    out = tmp_path / "out"
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay", str(cassette),
                "--yes", "--out", str(out), cwd=tmp_path)
    if r.returncode != 0:
        one_line_error(r, 1)
        assert not out.exists()
    else:  # a harmless reading of it: the file passes the verifier and imports, and the payload stays text
        v = run_cli("verify", str(out), cwd=tmp_path)
        assert v.returncode == 0 and "passes" in v.stdout, v.stderr
        p = run_cli("profile", str(out), "--target", "sd855", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
    assert not marker.exists()


def test_what_a_harmless_reading_keeps_is_inert(tmp_path: Path) -> None:
    """The docstring payload survives only as text; a layer named `forward` does not replace the method."""
    marker = tmp_path / "MARKER"
    answers = hostile_answers(marker)
    for case in ("docstring-payload", "layer-named-forward", "model-named-like-its-module"):
        cassette = write_cassette(tmp_path / f"{case}.json", answers[case])
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay", str(cassette),
                    "--yes", "--out", case, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    source = (tmp_path / "docstring-payload" / "model.py").read_text()
    assert "\x00" not in source and "\u202e" not in source and "\\" not in source.split('"""')[2]
    assert "self.forward =" not in (tmp_path / "layer-named-forward" / "model.py").read_text()
    assert "class EvilNet(nn.Module)" in (tmp_path / "model-named-like-its-module" / "model.py").read_text()
    # training runs forward and backward through the renamed layer; export traces the model with the payload doc
    r = run_cli("train", "layer-named-forward", "--data", "digits", "--epochs", "1", "--device", "cpu", cwd=tmp_path,
                timeout=600)
    assert r.returncode == 0, r.stderr
    for case in ("docstring-payload", "model-named-like-its-module"):
        r = run_cli("export", case, "--format", "onnx", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert not marker.exists()


def _planted(tmp_path: Path, marker: Path) -> Path:
    """The article's design folder with a line added to __init__ that would create the marker."""
    folder = Path(shutil.copytree(ARTICLE, tmp_path / "planted"))
    source = (folder / "model.py").read_text()
    line = f"        self.hidden = __import__('os').system('touch {marker}')\n"
    (folder / "model.py").write_text(source.replace("        super().__init__()\n", "        super().__init__()\n"
                                                    + line, 1))
    return folder


@pytest.mark.parametrize("command", [
    ["profile", "--target", "sd855"],
    ["export", "--format", "onnx"],
    ["train", "--data", "digits", "--epochs", "1", "--device", "cpu"],
    ["compare", "--data", "digits", "--epochs", "1", "--device", "cpu"],
])
def test_every_command_refuses_a_model_py_that_fails_the_verifier(command: list[str], tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    folder = _planted(tmp_path, marker)
    r = run_cli(command[0], str(folder), *command[1:], cwd=tmp_path)
    line = one_line_error(r, 2)
    assert "model.py line 18:" in line and "__import__" in line
    assert_hint_sends_to_the_line_first(r.stderr.splitlines()[-1], folder / "model.py")
    assert not marker.exists()


def assert_hint_sends_to_the_line_first(hint: str, model_py: Path) -> None:
    """The hint of a refused file: its line and `gptnet verify` before anything, --trust-edits last and only for a
    line of one's own (a user who received the folder must not be steered towards running it)."""
    assert hint.startswith(f"hint: read line 18 of {model_py} and run `gptnet verify {model_py}` again"), hint
    assert hint.index("gptnet verify") < hint.index("only if you wrote that line yourself, --trust-edits"), hint


def test_verify_names_the_line_and_trust_edits_is_the_only_way_past_it(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    folder = _planted(tmp_path, marker)
    r = run_cli("verify", str(folder / "model.py"), cwd=tmp_path)
    assert "line 18" in one_line_error(r, 1)
    assert_hint_sends_to_the_line_first(r.stderr.splitlines()[-1], folder / "model.py")
    assert run_cli("verify", str(ARTICLE), cwd=tmp_path).returncode == 0
    r = run_cli("profile", str(folder), "--target", "sd855", "--trust-edits", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert marker.exists()  # the user's own edit ran because they said so: the flag is the gate
    assert r.stderr.splitlines()[0] == "--trust-edits: model.py's code runs as it is, unchecked, with your permissions"


@pytest.mark.parametrize("command", ["profile", "export", "train", "compare"])
def test_trust_edits_help_says_it_runs_the_code_unchecked(command: str, tmp_path: Path) -> None:
    r = run_cli(command, "--help", cwd=tmp_path)
    help_text = " ".join(r.stdout.split())
    assert "--trust-edits run model.py's code as it is, without gptnet's check (gptnet verify): it can do anything " \
           "you can. Only for a file you edited yourself, never for a folder someone sent you" in help_text


def test_a_planted_pycache_is_never_imported(tmp_path: Path) -> None:
    """A .pyc with the source's timestamp and size would be what `import` loads; gptnet compiles what it checked."""
    marker = tmp_path / "MARKER"
    folder = Path(shutil.copytree(ARTICLE, tmp_path / "design"))
    model_py = folder / "model.py"
    evil = compile(f"__import__('os').system('touch {marker}')", str(model_py), "exec")
    stat = model_py.stat()
    cache = Path(importlib.util.cache_from_source(str(model_py)))
    cache.parent.mkdir()
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little") + \
        int(stat.st_mtime).to_bytes(4, "little") + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    cache.write_bytes(header + marshal.dumps(evil))
    r = run_cli("profile", str(folder), "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()


def test_a_recorded_edit_that_breaks_torch_rules_is_refused(tmp_path: Path) -> None:
    """Narrowing a depthwise conv below its groups (64 -> 48 with groups=64) is caught by the same validators as an
    answer, instead of being accepted and failing in every later command."""
    conversation = json.loads((ARTICLE / "conversation.json").read_text())
    spec = json.loads((ARTICLE / "spec.json").read_text())
    calls = [n for n in spec["layers"] if n.get("op") == "call" and n["args"][:2] == [64, 64]]
    calls[0]["args"][1] = 48
    conversation["review"] = [{"event": "edit", "diff": "(by hand)", "spec": spec}, {"event": "accept"}]
    cassette = tmp_path / "edited.json"
    cassette.write_text(json.dumps(conversation))
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(cassette), "--yes", "--out",
                str(tmp_path / "out"), cwd=tmp_path)
    line = one_line_error(r, 1)
    assert "divisible by groups" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names")
def test_the_verifier_refuses_each_kind_of_hand_edit() -> None:
    """Mutations of a real model.py, one per construct outside the allow-list."""
    from gptnet.verify import check_source

    base = (ARTICLE / "model.py").read_text()
    assert check_source(base.encode()) is None
    first, init, fwd = "import torch\n", "        super().__init__()\n", "        x = self.depthwise_conv(x)\n"
    mutations = {
        "another import": (first, first + "import os\n"),
        "a call to a builtin": (init, init + "        self.a = getattr(nn, 'Conv2d')\n"),
        "a dunder": (fwd, "        x = self.__class__(x)\n"),
        "a subscript": (fwd, "        x = self.depthwise_conv(x)[0]\n"),
        "an f-string": (init, init + "        self.a = f'{1}'\n"),
        "a lambda": (init, init + "        self.a = lambda: 1\n"),
        "a walrus": (fwd, "        x = (y := self.depthwise_conv(x))\n"),
        "a decorator": ("class DepthwiseConv2d", "@print\nclass DepthwiseConv2d"),
        "a utf-7 cookie": ('"""CNN-GPT', '# -*- coding: utf-7 -*-\n"""CNN-GPT'),
        "a NUL byte": (first, first + "\x00"),
        "replacing forward": ("self.depthwise_conv =", "self.forward ="),
        "torch.load": (fwd, "        x = torch.load(x)\n"),
        "a module-level call": (first, first + "print('hi')\n"),
        "a foreign string": ("kernel_size=1", "kernel_size='rm -rf /'"),
        "a global": (init, init + "        global torch\n"),
        "a loop": (init, init + "        for i in (1, 2):\n            pass\n"),
        "infinity": ("stride=1, padding=0", "stride=1e999, padding=0"),
        "a non-default base": ("class DepthwiseConv2d(nn.Module)", "class DepthwiseConv2d(nn.Module, object)"),
    }
    for what, (old, new) in mutations.items():
        assert old in base, what
        problem = check_source(base.replace(old, new, 1).encode())
        assert problem is not None and problem.line >= 1, what


@pytest.mark.parametrize("args", [["--input", "3x100000x100000"], ["--input", "4096x32x32"],
                                  ["--classes", "10000000"]])
def test_a_task_past_the_limits_is_a_usage_error(args: list[str], tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--out", "out", *args, cwd=tmp_path)
    one_line_error(r, 2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("takes", "said"), [(8, "takes 8 channels"), (1, "takes 1 channel")])
def test_channels_that_contradict_inside_a_branch_are_an_error_not_a_broken_model(takes: int, said: str,
                                                                                   tmp_path: Path) -> None:
    """Repairs align the top level; a conv inside a residual (or module) that takes other channels than reach it
    would make a model.py that fails at its first forward pass, so design refuses it."""
    answer = json.dumps({"layers": [
        {"op": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"op": "add", "body": [{"op": "Conv2d", "in_channels": takes, "out_channels": 16, "kernel_size": 3,
                                "padding": 1}]},
        {"op": "AdaptiveAvgPool2d", "output_size": 1}, {"op": "Flatten"},
        {"op": "Linear", "in_features": 16, "out_features": 10}]})
    cassette = write_cassette(tmp_path / "c.json", [{"stage": "model", "response": answer}])
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay", str(cassette),
                "--yes", "--out", "out", cwd=tmp_path)
    assert f"{said} but gets a 16x32x32 input" in one_line_error(r, 1)
    assert not (tmp_path / "out").exists()


def _classes(*classes: tuple[str, list[str], list[str]], returns: str) -> str:
    """A hand-written model.py in gptnet's grammar: each class as (name, __init__ lines, forward lines)."""
    source = "import torch\nfrom torch import nn\n"
    for name, init, forward in classes:
        source += f"\n\nclass {name}(nn.Module):\n    def __init__(self) -> None:\n        super().__init__()\n"
        source += "".join(f"        {line}\n" for line in init)
        source += "\n    def forward(self, x):\n" + "".join(f"        {line}\n" for line in forward or ["return x"])
    return source + f"\n\ndef build_model(num_classes: int = 10) -> {returns}:\n    return {returns}()\n"


def _nested(depth: int, init: list[str], forward: list[str]) -> str:
    """M1 ... M`depth`, each holding the one below as `inner` (M0 is a ReLU)."""
    leaf = ("M0", ["self.relu = nn.ReLU()"], ["return self.relu(x)"])
    return _classes(leaf, *((f"M{i}", [line.replace("BELOW", f"M{i - 1}") for line in init], forward)
                            for i in range(1, depth + 1)), returns=f"M{depth}")


UNBOUNDED = {
    # 2^60 calls: each module calls its child twice
    "calls-doubling": (_nested(60, ["self.inner = BELOW()"], ["x = self.inner(x)", "return self.inner(x)"]),
                       "one call of M16 makes 196,607 module calls, more than the 100,000 gptnet allows"),
    # 2^60 modules built: each builds two of the one below
    "builds-doubling": (_nested(60, ["self.inner = BELOW()", "self.again = BELOW()"], []),
                        "building M16 makes 196,607 modules, more than the 100,000 gptnet allows"),
    # 2^60 calls inside one class: each nn.Sequential lists the one before twice
    "sequential-doubling": (_classes(("Block", ["self.s0 = nn.ReLU()"] + [
        f"self.s{i} = nn.Sequential(self.s{i - 1}, self.s{i - 1})" for i in range(1, 61)],
        ["return self.s60(x)"]), returns="Block"),
        "one call of Block.s16 makes 131,071 module calls, more than the 100,000 gptnet allows"),
    "holds-itself": (_classes(("Block", ["self.conv = nn.Conv2d(3, 3, 3)", "self.me = self"],
                              ["return self.me(self.conv(x))"]), returns="Block"),
                     "Block reaches itself through Block.me; gptnet refuses a model whose modules form a cycle"),
    "lists-itself": (_classes(("Block", ["self.seq = nn.Sequential(nn.ReLU(), self)"], ["return self.seq(x)"]),
                              returns="Block"),
                     "Block reaches itself through Block.seq; gptnet refuses a model whose modules form a cycle"),
    "builds-its-builder": (_classes(("A", ["self.b = B()"], ["return self.b(x)"]),
                                    ("B", ["self.a = nn.Sequential(nn.ReLU(), A())"], ["return self.a(x)"]),
                                    returns="A"),
                           "A reaches itself through A.b -> B.a; gptnet refuses a model whose modules form a cycle"),
    "passes-itself": (_classes(("A", ["self.b = B(self)"], []), ("B", ["self.relu = nn.ReLU()"], []), returns="A"),
                      "`self` is a module used as a value"),
    "builds-in-forward": (_classes(("A", [], ["x = nn.ReLU()", "return x"]), returns="A"),
                          "`nn.ReLU()` is a module used as a value"),
    "calls-in-init": (_classes(("A", ["self.relu = nn.ReLU()", "self.y = self.relu(1)"], []), returns="A"),
                      "`self.relu` is a module used as a value"),
}


@pytest.mark.parametrize("case", sorted(UNBOUNDED))
def test_the_verifier_refuses_unbounded_work_naming_the_module(case: str) -> None:
    """The grammar bounds the file's syntax, not the work it describes: a file that passes it can still describe
    2^60 module calls or modules, or a module that reaches itself; each is refused at once, before torch runs it."""
    from gptnet.verify import check_source

    source, message = UNBOUNDED[case]
    started = time.perf_counter()
    problem = check_source(source.encode())
    assert time.perf_counter() - started < 1
    assert problem is not None and message in problem.message, problem


@pytest.mark.parametrize("command", [["verify"], ["profile", "--target", "sd855"], ["export", "--format", "onnx"],
                                     ["train", "--data", "digits", "--epochs", "1", "--device", "cpu"]])
def test_every_command_refuses_unbounded_work_in_one_line(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "model.py").write_text(UNBOUNDED["calls-doubling"][0])
    r = run_cli(command[0], "d", *command[1:], cwd=tmp_path)
    assert "line 164: one call of M16 makes 196,607 module calls" in one_line_error(r, 1 if command == ["verify"]
                                                                                   else 2)


def test_every_rendered_model_is_within_the_bounds() -> None:
    """What gptnet writes passes, ResNet-152 and DenseNet-201 as gptnet renders them included (about 700 and 900
    module calls a forward, far under the bound)."""
    from gptnet.render import render_model
    from gptnet.spec.graph import ModelSpec
    from gptnet.verify import check_source

    for path in [*(ROOT / "tests" / "expect").glob("*.py"), *(ROOT / "generated").glob("*/model.py")]:
        assert check_source(path.read_bytes()) is None, path
    for spec in (_resnet152(), _densenet201()):
        assert check_source(render_model(ModelSpec.model_validate(spec)).encode()) is None, spec["name"]


def _layer_conv(cin: object, cout: object, k: int = 1, stride: object = 1) -> dict:
    return {"op": "Conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": stride,
            "padding": k // 2, "bias": False}


def _bn(c: object) -> dict:
    return {"op": "BatchNorm2d", "num_features": c}


POOL = [{"op": "AdaptiveAvgPool2d", "output_size": 1}, {"op": "Flatten"}]
RELU = {"op": "ReLU"}


def _resnet152() -> dict:
    block = {"name": "Bottleneck", "params": ["cin", "mid", "cout", "stride"], "body": [
        {"op": "add", "body": [_layer_conv("cin", "mid"), _bn("mid"), RELU, _layer_conv("mid", "mid", 3, "stride"),
                               _bn("mid"), RELU, _layer_conv("mid", "cout"), _bn("cout")],
         "shortcut": [_layer_conv("cin", "cout", 1, "stride"), _bn("cout")]}, RELU]}
    layers, c = [_layer_conv(3, 64, 7, 2), _bn(64), RELU], 64
    for blocks, mid in ((3, 64), (8, 128), (36, 256), (3, 512)):
        for i in range(blocks):
            stride = 2 if i == 0 and mid > 64 else 1
            layers.append({"op": "call", "module": "Bottleneck", "args": [c, mid, mid * 4, stride]})
            c = mid * 4
    layers += [*POOL, {"op": "Linear", "in_features": c, "out_features": 1000}]
    return {"name": "ResNet152", "num_classes": 1000, "layers": layers, "modules": [block]}


def _densenet201() -> dict:
    dense = {"name": "DenseLayer", "params": ["c", "g"], "body": [{"op": "concat", "branches": [
        [{"op": "Identity"}],
        [_bn("c"), RELU, _layer_conv("c", "4 * g"), _bn("4 * g"), RELU, _layer_conv("4 * g", "g", 3)]]}]}
    layers, c = [_layer_conv(3, 64, 7, 2), _bn(64), RELU], 64
    for blocks in (6, 12, 48, 32):
        for _ in range(blocks):
            layers.append({"op": "call", "module": "DenseLayer", "args": [c, 32]})
            c += 32
        layers += [_bn(c), RELU, _layer_conv(c, c // 2), {"op": "AvgPool2d", "kernel_size": 2}]
        c //= 2
    layers += [*POOL, {"op": "Linear", "in_features": c, "out_features": 1000}]
    return {"name": "DenseNet201", "num_classes": 1000, "layers": layers, "modules": [dense]}
