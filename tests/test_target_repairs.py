"""Repair before refusal: an operator the target does not run becomes one it does when that keeps the model's
function (SiLU as x * sigmoid(x); a gate's hard sigmoid as a sigmoid), reported with before, after and why; when no
such operator exists the re-ask names the one that is missing. Replayed through the CLI, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CASSETTES, load_model_module, run_cli

HARD_GATE = CASSETTES / "validator_hard_sigmoid_gate.json"


def test_a_hard_sigmoid_gate_and_silu_are_repaired_and_hardswish_kept_on_sd855(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("design", "--replay", str(HARD_GATE), "--target", "sd855", "--budget", "1M", "--classes", "10",
                "--yes", "--json", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    repairs = [(f["where"], f["before"], f["after"]) for f in json.loads(r.stdout)["findings"]
               if f["severity"] == "repair"]
    assert repairs == [("layer 2 (SiLU)", "SiLU()", "x * Sigmoid()"),
                       ("module SqueezeExcite layer 0 gate layer 4 (Hardsigmoid)", "Hardsigmoid()", "Sigmoid()")]
    source = (out / "model.py").read_text()
    assert "Hardsigmoid" not in source and "SiLU" not in source
    assert source.count("nn.Hardswish()") == 4  # HARD_SWISH is a builtin every sd855 backend runs
    net = load_model_module(out / "model.py").build_model().eval()
    assert [type(m).__name__ for m in net.modules()].count("Sigmoid") == 3  # the stem's x * sigmoid(x), two gates


def test_without_sigmoid_or_mul_the_gate_is_refused_by_name(tmp_path: Path) -> None:
    """rpi4 runs neither Mul nor Sigmoid, so no gate can be written in what it runs."""
    r = run_cli("design", "--replay", str(HARD_GATE), "--target", "rpi4", "--budget", "1M", "--classes", "10",
                "--yes", "--json", cwd=tmp_path)
    assert r.returncode == 1
    assert "rpi4 does not support Mul well" in r.stderr
    assert "gptnet: error:" in r.stderr and "Traceback" not in r.stderr
