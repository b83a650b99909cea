"""Latency: the sourced target profiles, an estimate per runtime-named backend in every design, calibration on this
machine, and `gptnet profile` on a design, any model.py or a torchvision model, as text or JSON."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, clean_env, run_cli

from gptnet.targets import load_target


def test_targets_list_and_show_with_sources(tmp_path: Path) -> None:
    r = run_cli("targets", cwd=tmp_path)
    assert r.returncode == 0
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["rpi4", "sd845", "sd855", "sd865", "sd8gen2"]
    assert "sd855    Qualcomm Snapdragon 855 (cpu: TFLite 2.1 CPU kernels (XNNPACK off), cpu4: " in r.stdout
    r = run_cli("targets", "show", "sd855", cwd=tmp_path)
    assert "memory bandwidth: 34.1 GB/s" in r.stdout and "Adreno 640" in r.stdout and "Hexagon 690" in r.stdout
    # every backend says which runtime, threads and precision, and how its estimates are made
    assert "  cpu: TFLite 2.1 CPU kernels (XNNPACK off), 1 thread, fp32 on 1x Cortex-A76 @2.42 GHz" in r.stdout
    assert "  gpu: TFLite 2.1 GPU delegate (OpenCL), fp16 on Adreno 640" in r.stdout
    assert "latency: roofline from spec-sheet peaks, uncalibrated: one published point" in r.stdout
    peaks = [line for line in r.stdout.splitlines() if "peak " in line]
    assert peaks and all("[" in line and "]" in line for line in peaks)  # every figure carries its source
    assert "slow: GELU" in r.stdout


def test_every_design_reports_a_latency_per_backend(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--json", "--out", "o", cwd=tmp_path)
    latency = json.loads(r.stdout)["latency_ms"]
    assert set(latency) == {"cpu", "cpu4", "cpu4int8", "gpu", "dsp", "ncnn-cpu4", "ncnn-gpu"}
    assert all(v > 0 for v in latency.values())
    report = (tmp_path / "o" / "report.md").read_text()
    assert f"cpu {latency['cpu']:.2f} ms (TFLite 2.1 CPU kernels (XNNPACK off), 1 thread, fp32 on 1x Cortex-A76 " \
           "@2.42 GHz; fitted to 17 published latencies)" in report
    assert f"cpu4 {latency['cpu4']:.2f} ms (TFLite CPU (Pixel 4 tables, 2019-20), 4 threads, fp32 on 4x Cortex-A76" \
           in report
    assert f"dsp {latency['dsp']:.2f} ms (TFLite NNAPI / Hexagon delegate, int8 on Hexagon 690; roofline, " \
           "uncalibrated)" in report


def test_calibrate_then_profile_on_the_host(tmp_path: Path) -> None:
    env = clean_env(GPTNET_HOME=str(tmp_path / "home"))
    r = run_cli("profile", str(ROOT / "generated" / "cnn_gpt"), "--target", "host", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "gptnet calibrate" in r.stderr
    r = run_cli("calibrate", "--repeats", "3", "--threads", "1", cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, r.stderr  # the command is checked, not its timing
    assert "layer shapes on this machine (torch on 1 thread)" in r.stderr.splitlines()[0]
    host = json.loads((tmp_path / "home" / "targets" / "host.json").read_text())
    assert host["backends"]["cpu"]["threads"] == 1 and host["title"].endswith("torch on 1 thread)")
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
    assert re.search(r"Measured here: [\d.]+ ms \(lower quartile of 30 after warm-up, torch on 1 thread\)", r.stdout)


def test_the_host_profile_is_named_as_this_machine(tmp_path: Path) -> None:
    host = json.loads((ROOT / "gptnet/targets/sd855.json").read_text())
    host.update(name="host", title="this machine (test)")  # what gptnet calibrate calls it
    (tmp_path / "home" / "targets").mkdir(parents=True)
    (tmp_path / "home" / "targets" / "host.json").write_text(json.dumps(host))
    r = run_cli("profile", str(ROOT / "generated" / "cnn_gpt"), "--target", "host", cwd=tmp_path,
                env=clean_env(GPTNET_HOME=str(tmp_path / "home")))
    assert r.returncode == 0, r.stderr
    assert "Every backend of this machine (test), batch 1" in r.stdout


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
    total = float(re.search(r"Predicted: ([\d.]+) ms on sd855 cpu \(TFLite 2.1 CPU kernels", r.stdout).group(1))
    report = (ROOT / "generated" / "cnn_gpt" / "report.md").read_text()
    assert f"cpu {total:.2f} ms" in report  # the same estimate the design reported
    every = re.findall(r"^  (\S+) +([\d.]+) ms  (.*)$", r.stdout.split("Every backend")[1], flags=re.M)
    assert [b for b, _, _ in every] == list(load_target("sd855").backends)


def test_profile_any_model_as_json(tmp_path: Path) -> None:
    r = run_cli("profile", "torchvision:resnet18", "--target", "sd855", "--input", "3x224x224", "--classes", "1000",
                "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "torchvision:resnet18" and out["input"] == [3, 224, 224]
    rows = {b["name"]: b for b in out["backends"]}
    assert list(rows) == list(load_target("sd855").backends)
    for b in rows.values():
        assert set(b) == {"name", "runtime", "processor", "threads", "precision", "ms", "estimated_by"}
    cpu = rows["cpu"]
    assert (cpu["runtime"], cpu["threads"], cpu["precision"]) == ("TFLite 2.1 CPU kernels (XNNPACK off)", 1, "fp32")
    assert cpu["estimated_by"].startswith("fitted to 17 published latencies")
    assert 150 < cpu["ms"] < 300  # nn-Meter's published figure for this network on this runtime: 216 ms
    assert rows["gpu"]["threads"] is None and rows["dsp"]["estimated_by"].startswith("roofline")
    # a model.py outside any design folder: its own input, no spec to number layers by
    (tmp_path / "m").mkdir()
    shutil.copy(ROOT / "generated" / "cnn_gpt" / "model.py", tmp_path / "m" / "model.py")
    r = run_cli("profile", str(tmp_path / "m" / "model.py"), "--input", "3x64x64", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["input"] == [3, 64, 64]
    r = run_cli("profile", "torchvision:resnet1000", cwd=tmp_path)
    assert r.returncode == 2 and "torchvision has no classification model 'resnet1000'" in r.stderr


def test_newer_chips_are_not_slower_on_the_same_runtime() -> None:
    from gptnet.latency import estimates, predict, work_from_torch
    from gptnet.reference_models import build
    from gptnet.spec.graph import ModelSpec

    spec = ModelSpec.model_validate_json((ROOT / "generated" / "cnn_gpt" / "spec.json").read_text())
    works = work_from_torch(*build("mobilenet_v2"))
    old = load_target("sd855")
    for name in ("sd865", "sd8gen2"):
        new = load_target(name)
        shared = [b for b in new.backends if b in old.backends and new.backends[b].runtime == old.backends[b].runtime]
        assert {"cpu", "cpu4", "gpu"} <= set(shared)
        for b in shared:
            assert new.backends[b].label() != old.backends[b].label()  # another processor
            for mine, theirs in ((estimates(spec, new), estimates(spec, old)),
                                 ([predict(works, new, b)], [predict(works, old, b)])):
                ms = {e.backend: e.total_ms for e in mine}
                was = {e.backend: e.total_ms for e in theirs}
                if ms[b] is not None:
                    assert ms[b] < was[b], (name, b)


def test_grouped_convolutions_have_a_rate_of_their_own_where_the_fit_has_one() -> None:
    from gptnet.latency import Work, predict

    target = load_target("sd855")
    works = [Work(index="0", layer="conv", kind="GroupConv2d", mflops=10.0, mbytes=0.0)]
    fit = target.backends["cpu"].fit
    assert "grouped" not in fit.rates  # none of its networks runs a grouped conv: priced at the kxk rate
    at_conv = predict(works, target, "cpu").total_ms
    assert at_conv == pytest.approx(fit.rates["kernel"] + 10 * fit.rates["conv"], abs=1e-4)
    rates = {**fit.rates, "grouped": 4 * fit.rates["conv"]}
    b = target.backends["cpu"].model_copy(update={"fit": fit.model_copy(update={"rates": rates})})
    grouped = target.model_copy(update={"backends": {**target.backends, "cpu": b}})
    assert predict(works, grouped, "cpu").total_ms == pytest.approx(fit.rates["kernel"] + 40 * fit.rates["conv"],
                                                                    abs=1e-4)


def test_an_exported_file_names_the_backends_whose_estimates_apply() -> None:
    from gptnet.litert import backends_for

    assert backends_for(load_target("sd855"), "int8") == ["cpu4int8", "dsp"]
    assert backends_for(load_target("sd855"), "fp32") == ["cpu", "cpu4", "gpu"]  # the GPU delegate runs it in fp16
    assert backends_for(load_target("sd845"), "int8") == []  # no LiteRT backend named there
