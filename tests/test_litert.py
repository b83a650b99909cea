"""LiteRT export (`gptnet export --format tflite`, fp32 and --int8) of the article's model, checked against PyTorch
by an interpreter of the test's own; operator placement on the GPU and Hexagon delegates; `gptnet bench`. The converter runs in the LiteRT
environment (scripts/litert-env.sh; the commands hand on to it); the tests read its output with the LiteRT runtime of
the test environment. Skipped without that environment, except in CI, which makes one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, clean_env, load_model_module, run_cli
from gptnet import litert_env

# the interpreter that converts: this one where the converter is installed, else the LiteRT environment
LITERT = Path(sys.executable) if litert_env.here("litert_torch") else litert_env.python()
if LITERT is None:
    if os.environ.get("CI"):
        pytest.fail(f"CI has no LiteRT environment: {litert_env.SETUP}", pytrace=False)
    pytest.skip(f"no LiteRT environment: {litert_env.SETUP}", allow_module_level=True)
interpreter = pytest.importorskip("ai_edge_litert.interpreter", reason='ai-edge-litert is not installed: pip install '
                                  '-e ".[test]"')


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> SimpleNamespace:
    """The article's design exported once to fp32 LiteRT, with weights saved as `gptnet train` saves them (so that
    the test can rebuild the same network): its folder, the weights and what the command printed."""
    import torch

    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path_factory.mktemp("x") / "cnn_gpt"))
    weights = load_model_module(design / "model.py").build_model().state_dict()
    (design / "train").mkdir()
    torch.save({"model": weights, "epoch": 3, "test_acc1": 50.0, "config": {"data": "cifar100"}},
               design / "train" / "best.pt")
    r = run_cli("export", str(design), "--format", "tflite", "--target", "sd855", cwd=design.parent, timeout=600)
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(design=design, weights=weights, stdout=r.stdout)


def test_fp32_export_runs_like_pytorch(exported) -> None:
    import numpy as np
    import torch

    design = exported.design
    assert f"Wrote {design / 'model.tflite'} (fp32" in exported.stdout
    assert "Latency estimates that apply to this fp32 file: cpu (" in exported.stdout and "; gpu (" in exported.stdout
    assert f"weights trained: {design / 'train' / 'best.pt'} (epoch 3, test acc@1 50.00%)" in exported.stdout
    assert float(re.search(r"max \|difference\| ([\d.e+-]+)", exported.stdout).group(1)) <= 1e-4
    # the command's claim, checked with an interpreter of our own on another input
    net = load_model_module(design / "model.py").build_model()
    net.load_state_dict(exported.weights)
    net.eval()
    it = interpreter.Interpreter(model_path=str(design / "model.tflite"))
    it.allocate_tensors()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    it.set_tensor(it.get_input_details()[0]["index"], x.numpy())
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    with torch.no_grad():
        assert np.abs(got - net(x).numpy()).max() < 1e-4


def test_operators_are_placed_on_the_delegates(exported) -> None:
    stdout = exported.stdout
    assert "the CPU ones, cpu, cpu4, cpu4int8, run all of them" in stdout
    # 11 = 5 strided 3x3 convs + the stem + 5 pointwise halves of the article's DepthwiseConv2d
    assert "CONV_2D x11: GPU delegate (gpu): runs; Hexagon delegate (dsp): CPU: float: the Hexagon delegate runs " \
           "int8 operators only" in stdout
    assert "DEPTHWISE_CONV_2D x5: GPU delegate (gpu): runs" in stdout and "FULLY_CONNECTED x1" in stdout


def test_bench_prints_the_median_of_timed_runs(exported) -> None:
    r = run_cli("bench", str(exported.design / "model.tflite"), "--threads", "1", "--runs", "5", cwd=exported.design)
    assert r.returncode == 0, r.stderr
    assert re.search(r"model\.tflite: median [\d.]+ ms, min [\d.]+ ms over 5 runs; LiteRT CPU \(XNNPACK\), 1 thread, "
                     r"input 1x3x32x32 float32", r.stdout), r.stdout
    r = run_cli("bench", str(exported.design / "model.py"), cwd=exported.design)
    assert r.returncode == 2 and "no .tflite model at" in r.stderr
    # the design folder, as every other command takes it: its model.tflite
    r = run_cli("bench", str(exported.design), "--runs", "2", cwd=exported.design)
    assert r.returncode == 0 and f"{exported.design / 'model.tflite'}: median " in r.stdout, r.stderr
    r = run_cli("bench", str(exported.design / "train"), cwd=exported.design)
    assert r.returncode == 2 and f"no model.tflite in {exported.design / 'train'}" in r.stderr
    assert f"hint: export one with gptnet export {exported.design / 'train'} --format tflite" in r.stderr


def test_int8_export_reports_agreement_and_the_accuracy_drop(tmp_path: Path) -> None:
    import torch

    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    # a checkpoint as `gptnet train --data digits` writes it (10 classes), without the minutes of training; seeded,
    # because some untrained inits leave near-tied logits that int8 rounding flips (seed 5: 18.6% agreement)
    torch.manual_seed(0)
    net = load_model_module(design / "model.py").build_model(num_classes=10)
    (design / "train").mkdir()
    torch.save({"model": net.state_dict(), "epoch": 1, "test_acc1": 10.0, "config": {"data": "digits"}},
               design / "train" / "best.pt")
    r = run_cli("export", str(design), "--format", "tflite", "--int8", cwd=tmp_path, timeout=900,
                env=clean_env(GPTNET_PROGRESS_SECONDS="0"))  # a progress line every tenth, however fast
    assert r.returncode == 0, r.stderr
    assert "Observing activation ranges on 200 digits training images for the int8 scales..." in r.stderr
    progress = [line for line in r.stderr.splitlines() if line.startswith("int8 calibration: ")]
    assert len(progress) == 9 and progress[0].startswith("int8 calibration: 10% (20/200 images), "), r.stderr
    assert "Converting to LiteRT (int8)..." in r.stderr and "absl" not in r.stderr  # the converter's logs stay out
    assert f"Wrote {design / 'model_int8.tflite'} (int8" in r.stdout and "weights trained: " in r.stdout
    assert "Latency estimates that apply to this int8 file: cpu4int8 (" in r.stdout and "; dsp (" in r.stdout
    share = float(re.search(r"agree on the top-1 class of ([\d.]+)% of 360 digits test images", r.stdout).group(1))
    assert share >= 80
    fp32, int8, drop = map(float, re.search(r"PyTorch fp32 ([\d.]+)%, LiteRT int8 ([\d.]+)% \(drop (-?[\d.]+) points",
                                            r.stdout).groups())
    assert abs(fp32 - int8 - drop) < 0.01
    assert "Hexagon delegate (dsp): runs" in r.stdout  # int8 convs go to the DSP
    it = interpreter.Interpreter(model_path=str(design / "model_int8.tflite"))
    assert it.get_input_details()[0]["dtype"].__name__ == "int8"


ODD = """import json, sys
import torch
from torch import nn

from gptnet.litert import _quantized, placements
from gptnet.targets import load_target


class Odd(nn.Module):  # a 5x5 depthwise conv (Hexagon takes width 3 only) and atan2 (no GPU kernel)
    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 5, padding=2, groups=8)

    def forward(self, x):
        return torch.atan2(self.dw(x), x + 2)


_quantized(Odd().eval(), (8, 16, 16), torch.randn(4, 8, 16, 16)).export(sys.argv[1])
print(json.dumps({p.op: p.delegates for p in placements(sys.argv[1], load_target("sd855"))}))
"""


def test_delegate_constraints_send_operators_back_to_the_cpu(tmp_path: Path) -> None:
    # quantized and placed by gptnet.litert in the environment that has the converter
    (tmp_path / "odd.py").write_text(ODD)
    r = subprocess.run([str(LITERT), str(tmp_path / "odd.py"), str(tmp_path / "odd.tflite")], capture_output=True,
                       text=True, timeout=600, env=clean_env(PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert found["DEPTHWISE_CONV_2D"]["hexagon"].startswith("CPU: depthwise filter 5x5")
    assert found["ATAN2"]["gpu"] == "CPU: not an operator the GPU delegate implements"
