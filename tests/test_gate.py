"""Squeeze-excite and other gates, `x * gate(x)`: read from PyTorch source however the answer writes them (1x1
convs, Linear layers with views, x.mean, torch.mul) and from JSON; the spec's shape rule and thop-equal counts; a
rendered model with gates (inside residual blocks too) passes `gptnet verify`, builds, runs and agrees with thop;
latency counts the product; a target that does not run Mul or Sigmoid sends the design back to the LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import CASSETTES, clean_env, load_model_module, run_cli, thop_counts
from gptnet.latency import work_from_spec
from gptnet.parse import parse_answer
from gptnet.render import render_model
from gptnet.spec.graph import Call, Gate, ModelSpec
from gptnet.spec.layers import SpecError
from gptnet.spec.walk import run_node
from gptnet.verify import check_source


class RefSE(nn.Module):
    """Squeeze-excite as torch runs it, with modules as gptnet renders them, written out here (the answers' text is
    never executed)."""

    def __init__(self, c: int, r: int, hard: bool = False) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // r, 1), nn.ReLU(), nn.Conv2d(c // r, c, 1),
                                  nn.Hardsigmoid() if hard else nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


CONVS = "        self.fc1 = nn.Conv2d(c, c // r, 1)\n        self.fc2 = nn.Conv2d(c // r, c, 1)"


def _se(forward: str, init: str = CONVS) -> str:
    return (f"```python\nclass SE(nn.Module):\n    def __init__(self, c, r=4):\n        super().__init__()\n{init}\n"
            f"    def forward(self, x):\n{forward}\n```")


LINEARS = "        self.fc1 = nn.Linear(c, c // r)\n        self.fc2 = nn.Linear(c // r, c)"
PHRASINGS = {
    "1x1 convs, one expression":
        _se("        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))"),
    "step by step, x.mean":
        _se("        s = x.mean((2, 3), keepdim=True)\n        s = F.relu(self.fc1(s))\n"
            "        s = self.fc2(s).sigmoid()\n        return x * s"),
    "Linear layers with views and expand_as (the SENet paper's code)":
        _se("        b, c, _, _ = x.size()\n        y = F.adaptive_avg_pool2d(x, 1).view(b, c)\n"
            "        y = torch.sigmoid(self.fc2(F.relu(self.fc1(y)))).view(b, c, 1, 1)\n"
            "        return x * y.expand_as(x)",
            LINEARS),
    "torch.mul, the gate as a Sequential":
        _se("        return torch.mul(x, self.g(x))", "        self.g = nn.Sequential(nn.AdaptiveAvgPool2d(1), "
            "nn.Conv2d(c, c // r, 1), nn.ReLU(), nn.Conv2d(c // r, c, 1), nn.Sigmoid())"),
    "x.mul, flattened with torch.flatten and unflattened with reshape":
        _se("        y = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)\n"
            "        y = torch.sigmoid(self.fc2(F.relu(self.fc1(y)))).reshape(-1, x.size(1), 1, 1)\n"
            "        return x.mul(y)", LINEARS),
}


@pytest.mark.parametrize("text", PHRASINGS.values(), ids=PHRASINGS.keys())
def test_squeeze_excite_reads_as_a_gate_and_counts_as_torch(text: str) -> None:
    (se,) = parse_answer(text).modules
    (gate,) = se.body
    assert isinstance(gate, Gate) and gate.gate[-1].op == "Sigmoid"
    for c, shape in ((16, (16, 8, 8)), (64, (64, 5, 7))):
        step = run_node(Call(module="SE", args=[c]), shape, {"SE": se})
        assert step.out == shape
        assert (step.params, step.macs) == thop_counts(RefSE(c, 4), shape)


def test_a_gate_in_json_and_a_hard_sigmoid() -> None:
    answer = parse_answer('{"name": "G", "layers": [{"op": "Conv2d", "in_channels": 3, "out_channels": 16, '
                          '"kernel_size": 3, "padding": 1}, {"op": "mul", "gate": [{"op": "AdaptiveAvgPool2d"}, '
                          '{"op": "Conv2d", "in_channels": 16, "out_channels": 4, "kernel_size": 1}, {"op": "ReLU"}, '
                          '{"op": "Conv2d", "in_channels": 4, "out_channels": 16, "kernel_size": 1}, '
                          '{"op": "Hardsigmoid"}]}]}')
    gate = answer.models[0].layers[1]
    step = run_node(gate, (16, 8, 8), {})
    assert (step.out, step.params, step.macs) == ((16, 8, 8), *thop_counts(RefSE(16, 4, hard=True), (16, 8, 8)))


def test_a_gate_scales_by_channel_or_by_element_and_nothing_else() -> None:
    assert run_node(Gate(gate=[{"op": "Sigmoid"}]), (8, 4, 4), {}).out == (8, 4, 4)  # x * sigmoid(x)
    with pytest.raises(SpecError, match="a gate giving 4x1x1 cannot scale a 8x4x4 map"):
        run_node(Gate(gate=[{"op": "AdaptiveAvgPool2d"}, {"op": "Conv2d", "in_channels": 8, "out_channels": 4,
                                                          "kernel_size": 1}]), (8, 4, 4), {})


SE_NET = json.loads((CASSETTES / "validator_squeeze_excite_unsupported.json").read_text())["turns"][0]["response"]


def test_a_rendered_model_with_gates_in_residual_blocks_verifies_builds_and_agrees_with_thop(tmp_path: Path) -> None:
    answer = parse_answer(SE_NET)
    spec = ModelSpec(name="SENet", layers=answer.models[0].layers, modules=answer.modules, num_classes=10)
    source = render_model(spec)
    assert check_source(source.encode()) is None
    assert "x = x * self.gate(x)" in source
    (tmp_path / "model.py").write_text(source)
    assert run_cli("verify", str(tmp_path), cwd=tmp_path).returncode == 0
    net = load_model_module(tmp_path / "model.py").build_model().eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    from gptnet.profile import profile_spec

    profile = profile_spec(spec)
    assert thop_counts(net, (3, 32, 32)) == (profile.params, profile.macs)
    muls = [w for w in work_from_spec(spec) if w.layer == "mul"]
    assert len(muls) == 4 and {w.kind for w in muls} == {"Activation"}


def test_through_the_cli_on_a_target_that_runs_gates(tmp_path: Path) -> None:
    """sd855's runtimes run Mul and Sigmoid: the gates stay, and the written model passes `gptnet verify`, builds and
    agrees with thop."""
    cassette = json.loads((CASSETTES / "validator_squeeze_excite_unsupported.json").read_text())
    cassette["turns"] = cassette["turns"][:1]
    (tmp_path / "c.json").write_text(json.dumps(cassette))
    env = clean_env()
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay", "c.json", "--yes",
                "--json", "--out", "out", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    design = json.loads(r.stdout)
    assert design["revisions"] == 0 and any(n["op"] == "mul" for m in design["spec"]["modules"] for n in m["body"])
    assert run_cli("verify", "out", cwd=tmp_path, env=env).returncode == 0
    net = load_model_module(tmp_path / "out" / "model.py").build_model()
    assert thop_counts(net, (3, 32, 32)) == (design["profile"]["params"], design["profile"]["macs"])


def test_a_gate_inside_a_residual_branch_renders_as_a_module_of_its_own(tmp_path: Path) -> None:
    answer = parse_answer(
        "```python\nclass Block(nn.Module):\n    def __init__(self, c, r=4):\n        super().__init__()\n"
        "        self.conv = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))\n"
        "        self.fc1 = nn.Conv2d(c, c // r, 1)\n        self.fc2 = nn.Conv2d(c // r, c, 1)\n"
        "    def forward(self, x):\n        out = self.conv(x)\n"
        "        out = out * torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(out, 1)))))\n"
        "        return F.relu(x + out)\n\n"
        "class Net(nn.Module):\n    def __init__(self, num_classes=10):\n        super().__init__()\n"
        "        self.stem = nn.Conv2d(3, 16, 3, padding=1)\n"
        "        self.blocks = nn.Sequential(Block(16), Block(16, 2))\n"
        "        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))\n"
        "    def forward(self, x):\n        return self.head(self.blocks(self.stem(x)))\n```")
    spec = ModelSpec(name="Net", layers=answer.models[0].layers, modules=answer.modules, num_classes=10)
    source = render_model(spec)
    assert check_source(source.encode()) is None
    assert "Gate1(c=c, r=r)" in source  # the gate, lifted, takes the sizes it uses
    (tmp_path / "model.py").write_text(source)
    net = load_model_module(tmp_path / "model.py").build_model().eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    from gptnet.profile import profile_spec

    assert thop_counts(net, (3, 32, 32)) == (profile_spec(spec).params, profile_spec(spec).macs)
