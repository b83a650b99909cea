"""Latency: the sourced target profiles, the roofline estimate in every design, calibration on this machine, and
`gptnet profile` predicting (and measuring) a design on the calibrated host."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import ROOT, clean_env, run_cli


def test_targets_list_and_show_with_sources(tmp_path: Path) -> None:
    r = run_cli("targets", cwd=tmp_path)
    assert r.returncode == 0
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["rpi4", "sd845", "sd855", "sd865", "sd8gen2"]
    r = run_cli("targets", "show", "sd855", cwd=tmp_path)
    assert "memory bandwidth: 34.1 GB/s" in r.stdout and "Adreno 640" in r.stdout and "Hexagon 690" in r.stdout
    peaks = [line for line in r.stdout.splitlines() if "peak " in line]
    assert peaks and all("[" in line and "]" in line for line in peaks)  # every figure carries its source
    assert "slow: GELU" in r.stdout


def test_every_design_reports_a_latency_per_backend(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--json", "--out", "o", cwd=tmp_path)
    latency = json.loads(r.stdout)["latency_ms"]
    assert set(latency) == {"cpu", "gpu", "dsp"} and all(v > 0 for v in latency.values())
    report = (tmp_path / "o" / "report.md").read_text()
    assert f"cpu {latency['cpu']:.2f} ms (fitted to published latencies)" in report
    assert f"dsp {latency['dsp']:.2f} ms (roofline estimate, uncalibrated)" in report


def test_calibrate_then_profile_on_the_host(tmp_path: Path) -> None:
    env = clean_env(GPTNET_HOME=str(tmp_path / "home"))
    r = run_cli("profile", str(ROOT / "generated" / "cnn_gpt"), "--target", "host", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "gptnet calibrate" in r.stderr
    r = run_cli("calibrate", "--repeats", "3", cwd=tmp_path, env=env, timeout=600)  # the command, not its timing
    assert r.returncode == 0, r.stderr
    host = json.loads((tmp_path / "home" / "targets" / "host.json").read_text())
    calibration = host["backends"]["cpu"]["calibration"]
    assert {"Conv2d", "Conv1x1", "DepthwiseConv2d", "Linear", "BatchNorm2d", "Add", "_model"} <= set(calibration)
    r = run_cli("profile", str(ROOT / "generated" / "cnn_gpt"), "--target", "host", "--measure", cwd=tmp_path,
                env=env)
    assert r.returncode == 0, r.stderr
    layers = re.findall(r"^ +\d+ (\S.*?) +(\d+\.\d{4}) ms$", r.stdout, flags=re.M)
    assert len(layers) >= 10 and layers[0][0].startswith("Conv2d(3, 32")  # a prediction per layer
    assert re.search(r"Predicted: [\d.]+ ms on host cpu .*calibrated", r.stdout)
    # the measurement is printed, not judged: how close it is depends on the machine's load, which is for
    # benchmarks/latency_accuracy.py to report
    assert re.search(r"Measured here: [\d.]+ ms", r.stdout)


def test_calibrate_to_an_unwritable_out_is_one_line_before_measuring(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "host.json"  # under a regular file: not writable, even by root
    r = run_cli("calibrate", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines() == [f"gptnet: error: cannot write to {out.parent}: it, or a folder above it, is a "
                                     "file", "hint: choose another --out"]


def test_profile_numbers_and_names_layers_as_the_design_table_does(tmp_path: Path) -> None:
    r = run_cli("profile", str(ROOT / "generated" / "cnn_gpt"), "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [line.split(None, 1) for line in r.stdout.splitlines() if line.startswith("  ")]
    assert rows[0] == ["0", rows[0][1]] and rows[0][1].startswith("Conv2d(3, 32, kernel_size=3, padding=1)")
    assert rows[3][0] == "3.0" and rows[4][0] == "3.1"  # the article's DepthwiseConv2d at table row 3
    total = float(re.search(r"Predicted: ([\d.]+) ms on sd855 cpu", r.stdout).group(1))
    report = (ROOT / "generated" / "cnn_gpt" / "report.md").read_text()
    assert f"cpu {total:.2f} ms" in report  # the same estimate the design reported
